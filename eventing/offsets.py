"""How far behind a consumer group is, measured from outside the group.

End offsets come from the high watermark in Fetch responses. The local tansu
broker answers ListOffsets with the last batch's base offset + 1 (a batch of 10 at
offsets 5..14 reports 6), so ListOffsets is used only when no fetch has come back.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from confluent_kafka import (
    OFFSET_END,
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

LIST_OFFSETS_TIMEOUT_S = 2.0


def fetched_end_offset(consumer: Consumer, topic: str, partition: int) -> int | None:
    """The high watermark the consumer's last fetch of this partition reported, if any."""
    return _cached_watermark(consumer, topic, partition, high=True)


def fetched_start_offset(consumer: Consumer, topic: str, partition: int) -> int | None:
    """The log start offset the consumer's last fetch of this partition reported, if any."""
    return _cached_watermark(consumer, topic, partition, high=False)


def _cached_watermark(consumer: Consumer, topic: str, partition: int, *, high: bool) -> int | None:
    try:
        watermarks = consumer.get_watermark_offsets(TopicPartition(topic, partition), cached=True)
    except KafkaException:
        return None
    if not watermarks:
        return None
    value = watermarks[1] if high else watermarks[0]
    return value if value >= 0 else None


def end_offset(consumer: Consumer, topic: str, partition: int, timeout: float = LIST_OFFSETS_TIMEOUT_S) -> int | None:
    """The partition's end offset: from fetches when there were any, else from ListOffsets."""
    fetched = fetched_end_offset(consumer, topic, partition)
    if fetched is not None:
        return fetched
    try:
        watermarks = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout, cached=False)
    except KafkaException:
        return None
    return watermarks[1] if watermarks and watermarks[1] >= 0 else None


def consumer_group_lag(
    bootstrap_servers: str, group: str, topics: list[str] | tuple[str, ...], time_limit: float = 2.0
) -> dict[str, Any]:
    """Committed offset, end offset and lag of every partition of `topics` for `group`.

    Works whether or not any member of the group is alive. A partition the group never
    committed counts as lagging by everything it holds. Returns
    {"group", "partitions": [{"topic", "partition", "committed", "end", "lag"}], "total_lag"}.
    """
    admin = AdminClient({"bootstrap.servers": bootstrap_servers})
    partitions = _partitions(admin, topics, time_limit)
    committed = _committed_offsets(admin, group, partitions, time_limit)
    ends, starts = _end_offsets(bootstrap_servers, partitions, time_limit)
    rows = []
    for topic, partition in partitions:
        end = ends.get((topic, partition))
        offset = committed.get((topic, partition))
        baseline = offset if offset is not None else starts.get((topic, partition), 0)
        rows.append(
            {
                "topic": topic,
                "partition": partition,
                "committed": offset,
                "end": end,
                "lag": max(end - baseline, 0) if end is not None else None,
            }
        )
    return {
        "group": group,
        "partitions": rows,
        "total_lag": sum(row["lag"] for row in rows if row["lag"] is not None),
    }


def _partitions(admin: AdminClient, topics: list[str] | tuple[str, ...], timeout: float) -> list[tuple[str, int]]:
    metadata = admin.list_topics(timeout=timeout)
    found = []
    for topic in topics:
        described = metadata.topics.get(topic)
        if described is None or described.error is not None:
            continue
        found.extend((topic, partition) for partition in sorted(described.partitions))
    return found


def _committed_offsets(
    admin: AdminClient, group: str, partitions: list[tuple[str, int]], timeout: float
) -> dict[tuple[str, int], int]:
    if not partitions:
        return {}
    request = ConsumerGroupTopicPartitions(group, [TopicPartition(topic, p) for topic, p in partitions])
    result = admin.list_consumer_group_offsets([request], request_timeout=timeout)[group].result()
    return {(tp.topic, tp.partition): tp.offset for tp in result.topic_partitions if tp.offset >= 0}


def _end_offsets(
    bootstrap_servers: str, partitions: list[tuple[str, int]], time_limit: float
) -> tuple[dict[tuple[str, int], int], dict[tuple[str, int], int]]:
    """End and start offsets from a throwaway consumer that fetches at the end of every partition.

    It joins no group and commits nothing; its group id only satisfies the client.
    """
    if not partitions:
        return {}, {}
    probe = Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": f"sentinel-lag-probe-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "fetch.wait.max.ms": 50,
            "fetch.max.bytes": 1024 * 1024,
        }
    )
    try:
        probe.assign([TopicPartition(topic, partition, OFFSET_END) for topic, partition in partitions])
        deadline = time.monotonic() + time_limit
        ends: dict[tuple[str, int], int] = {}
        while time.monotonic() < deadline:
            probe.consume(num_messages=1000, timeout=0.05)
            ends = {
                (topic, partition): high
                for topic, partition in partitions
                if (high := fetched_end_offset(probe, topic, partition)) is not None
            }
            if len(ends) == len(partitions):
                break
        starts = {}
        for topic, partition in partitions:
            if (topic, partition) not in ends:
                fallback = end_offset(probe, topic, partition)
                if fallback is not None:
                    ends[(topic, partition)] = fallback
            start = fetched_start_offset(probe, topic, partition)
            if start is not None:
                starts[(topic, partition)] = start
        return ends, starts
    finally:
        probe.close()
