"""Reading one dead-letter topic, through a PartitionLog: its newest dead letters, or one by its id."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Protocol

from eventing.dead_letters.errors import DeadLetterError, NoSuchDeadLetter
from eventing.dead_letters.kafka_log import DEFAULT_TIMEOUT_S, KafkaLog
from eventing.dead_letters.letter import DeadLetter, DeadLetters, format_id, parse_id
from eventing.topology import SinkSpec, Topology
from sentinel.codec.kafka import ConsumedRecord, KafkaRecord, from_kafka

_NEVER = datetime.min.replace(tzinfo=UTC)


def dead_letter_sink(topology: Topology, topic: str | None = None) -> SinkSpec:
    """The KafkaSink the KafkaSources dead-letter to (the one writing `topic`, when it is given)."""
    names = {source.delivery.dead_letter_sink for source in topology.sources.values()}
    sinks = sorted((topology.sinks[name] for name in names if name), key=lambda sink: sink.topic)
    chosen = [sink for sink in sinks if topic in (None, sink.topic)]
    if len(chosen) == 1:
        return chosen[0]
    known = ", ".join(sink.topic for sink in sinks)
    if not sinks:
        raise DeadLetterError("no KafkaSource in knative/ has a dead-letter sink")
    if topic is not None:
        raise DeadLetterError(f"no KafkaSource dead-letters to {topic}; the dead-letter topics are {known}")
    raise DeadLetterError(f"the KafkaSources dead-letter to {len(sinks)} topics ({known}): choose one")


class PartitionLog(Protocol):
    """The few broker operations dead letters need, on one topic; KafkaLog is the real one."""

    def partitions(self, topic: str) -> list[int]:
        """The topic's partitions; a DeadLetterError when the topic does not exist or the broker is unreachable."""
        ...

    def bounds(self, topic: str, partition: int) -> tuple[int, int]:
        """The first offset the partition holds and the next one it will write."""
        ...

    def records(self, topic: str, partition: int, start: int, stop: int) -> list[ConsumedRecord]:
        """The records at offsets start..stop-1."""
        ...

    def committed(self, group: str, topic: str, partition: int) -> int | None:
        """The offset `group` committed on the partition, None when it never did."""
        ...

    def commit(self, group: str, topic: str, partition: int, offset: int) -> None: ...

    def produce(self, topic: str, record: KafkaRecord) -> None:
        """Write the record; returns once the broker acknowledged it."""
        ...


OpenLog = Callable[[], AbstractContextManager[PartitionLog]]


class DeadLetterReader:
    """Reads one dead-letter topic: its newest dead letters, or one by its id."""

    def __init__(self, open_log: OpenLog, sink: SinkSpec, namespace: str) -> None:
        self.open_log = open_log
        self.topic = sink.topic
        self._sink_name = sink.name
        self._namespace = namespace

    @classmethod
    def of(
        cls, bootstrap_servers: str, topology: Topology, topic: str | None = None, timeout: float = DEFAULT_TIMEOUT_S
    ) -> DeadLetterReader:
        """The reader of the topology's dead-letter topic on the broker at `bootstrap_servers`."""
        sink = dead_letter_sink(topology, topic)
        return cls(lambda: KafkaLog(bootstrap_servers, timeout), sink, topology.namespace)

    def newest(self, limit: int) -> DeadLetters:
        """The newest `limit` dead letters, newest first, with how many there are and when the oldest came."""
        letters: list[DeadLetter] = []
        oldest: list[datetime] = []
        count = 0
        with self.open_log() as log:
            for partition in log.partitions(self.topic):
                start, end = log.bounds(self.topic, partition)
                count += end - start
                if end <= start:
                    continue
                first = max(start, end - limit)
                read = [self.letter(record) for record in log.records(self.topic, partition, first, end)]
                if first > start:  # the oldest is not among the newest: one record more
                    head = [self.letter(record) for record in log.records(self.topic, partition, start, start + 1)]
                else:
                    head = read[:1]
                oldest.extend(letter.dead_lettered_at for letter in head if letter.dead_lettered_at is not None)
                letters.extend(read)
        letters.sort(key=lambda letter: (letter.dead_lettered_at or _NEVER, letter.offset), reverse=True)
        return DeadLetters(self.topic, count, tuple(letters[:limit]), min(oldest, default=None))

    def get(self, letter_id: str) -> DeadLetter:
        partition, offset = parse_id(letter_id)
        with self.open_log() as log:
            return self.read(log, partition, offset)

    def read(self, log: PartitionLog, partition: int, offset: int) -> DeadLetter:
        """The dead letter at `offset` of `partition`, through a log already open."""
        if partition not in log.partitions(self.topic):
            raise NoSuchDeadLetter(
                f"there is no dead letter {format_id(partition, offset)}: {self.topic} has no partition {partition}"
            )
        start, end = log.bounds(self.topic, partition)
        if not start <= offset < end:
            held = (
                f"ids {format_id(partition, start)} to {format_id(partition, end - 1)}"
                if end > start
                else "no dead letters"
            )
            raise NoSuchDeadLetter(f"there is no dead letter {format_id(partition, offset)}: {self.topic} holds {held}")
        found = log.records(self.topic, partition, offset, offset + 1)
        if not found:  # a compacted topic has gaps
            raise NoSuchDeadLetter(f"there is no dead letter {format_id(partition, offset)} in {self.topic}")
        return self.letter(found[0])

    def letter(self, record: ConsumedRecord) -> DeadLetter:
        timestamp_type, timestamp_ms = record.timestamp()
        return DeadLetter(
            topic=record.topic() or self.topic,
            partition=record.partition() or 0,
            offset=record.offset() or 0,
            dead_lettered_at=datetime.fromtimestamp(timestamp_ms / 1000, UTC) if timestamp_type else None,
            event=from_kafka(record, namespace=self._namespace, source_name=self._sink_name),
        )
