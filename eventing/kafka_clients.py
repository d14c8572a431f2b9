"""Kafka client settings shared by the dispatcher, the ingress and the lag probe.

The local broker (tansu) rebalances a consumer group promptly only with short
session and poll timeouts (DESIGN.md §7); Redpanda and Kafka are happy with them too.
"""

from __future__ import annotations

from typing import Any

SESSION_TIMEOUT_MS = 6000
HEARTBEAT_INTERVAL_MS = 2000
MAX_POLL_INTERVAL_MS = 30000
# librdkafka prefetches up to 64 MB per partition by default, and a paused partition's
# prefetched records are dropped and fetched again on resume. The dispatcher pauses
# a partition whose backlog is full, so behind a growing backlog the broker served the
# same records over and over (tansu's CPU per event doubled). A small prefetch keeps
# what is fetched close to what is delivered.
PREFETCH_KBYTES_PER_PARTITION = 1024
FETCH_BYTES_PER_PARTITION = 256 * 1024
# How long the broker may hold a fetch that finds nothing new. tansu answers such a
# fetch only when this runs out, even if records arrive meanwhile, so every hop
# through Kafka waits up to this long: 100 ms gave the pipeline a p50 of 50 ms at
# 50 events/s, 20 ms a p50 of 15 ms. Each fetch costs tansu CPU whether it finds
# records or not (python -m benchmarks broker-fetch measures the trade); 30 ms cut the
# idle broker's CPU by a quarter, but the pipeline's p99 at 100 events/s rose from
# 56-59 ms to 93-159 ms, so the wait stays at 20 ms.
FETCH_WAIT_MAX_MS = 20
# How long the ingress's producer waits to put more records in one produce request. On the
# broker alone 10 ms cost tansu a quarter less CPU per record (python -m benchmarks
# broker-fetch --lingers), but in the pipeline, whose ordered partitions wait for each
# acknowledgement, it stored fewer events a second for no less broker CPU and added
# 12-20 ms at the median (docs/benchmarks.md, "The broker's fetch wait").
LINGER_MS = 2


def consumer_config(bootstrap_servers: str, group: str, *, initial_offset: str, client_id: str) -> dict[str, Any]:
    """A group member that commits only what the application says is done."""
    return {
        "bootstrap.servers": bootstrap_servers,
        "group.id": group,
        "client.id": client_id,
        "auto.offset.reset": initial_offset,
        "enable.auto.commit": False,
        "session.timeout.ms": SESSION_TIMEOUT_MS,
        "heartbeat.interval.ms": HEARTBEAT_INTERVAL_MS,
        "max.poll.interval.ms": MAX_POLL_INTERVAL_MS,
        "fetch.wait.max.ms": FETCH_WAIT_MAX_MS,
        "queued.max.messages.kbytes": PREFETCH_KBYTES_PER_PARTITION,
        "max.partition.fetch.bytes": FETCH_BYTES_PER_PARTITION,
    }


def producer_config(bootstrap_servers: str, *, delivery_timeout_s: float, client_id: str) -> dict[str, Any]:
    """An idempotent producer that waits for every in-sync replica.

    `murmur2_random` is the Java client's partitioner, so a key lands on the same
    partition as it would through Knative's own KafkaSink.
    """
    return {
        "bootstrap.servers": bootstrap_servers,
        "client.id": client_id,
        "acks": "all",
        "enable.idempotence": True,
        "partitioner": "murmur2_random",
        "linger.ms": LINGER_MS,
        "delivery.timeout.ms": int(delivery_timeout_s * 1000),
    }
