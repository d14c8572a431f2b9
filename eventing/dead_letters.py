"""Dead letters: reading the dead-letter topic, and replaying a dead letter to the topic it came from.

A dispatcher that cannot deliver an event POSTs it to its KafkaSource's dead-letter
sink (eventing.sender): the original CloudEvent, in binary mode on `sentinel.dlq`,
plus `knativeerrordest` (where it failed to go), `knativeerrorcode` (the last HTTP
status) and `knativeerrordata` (the last answer's body, base64). A dead letter's id
is its offset (`partition:offset` outside partition 0), stable for as long as the
topic holds the record.

Reading never joins a consumer group and commits nothing. Replaying writes the
original event (the error extensions removed, the key restored from `partitionkey`)
to the topic of the KafkaSource whose sink the destination is; `replay_pending`
records how far it got in the consumer group `sentinel-dlq-replay`, so a next run
starts after the last record it replayed. Every effect downstream is idempotent on
`transaction_id`, so replaying an event twice is safe.

The broker is reached through a `PartitionLog`; `KafkaLog` is the real one.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from collections import Counter
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from eventing.kafka_clients import consumer_config
from eventing.offsets import fetched_end_offset, fetched_start_offset
from eventing.producer import AckingProducer
from eventing.topology import SinkSpec, Topology
from sentinel.codec.event import Event, is_json_media_type
from sentinel.codec.kafka import WRAPPED_EVENT_TYPE, ConsumedRecord, KafkaRecord, from_kafka, to_kafka
from sentinel.core.errors import Unavailable

ERROR_EXTENSION_PREFIX = "knativeerror"
REPLAY_GROUP = "sentinel-dlq-replay"
READER_GROUP = "sentinel-dlq-reader"  # named because the client needs one; never joined, never committed
DEFAULT_TIMEOUT_S = 5.0  # for each request to the broker
REPLAY_BATCH = 200
ONE_LINE_MAX_CHARS = 300
_ID = re.compile(r"(?:([0-9]{1,6}):)?([0-9]{1,18})")
# A KafkaLog lives for one command or page: a few requests, then it is closed.
_SHORT_LIVED = {
    # It says once, in words, that the broker is unreachable; librdkafka's own log would
    # add a line for every reconnect attempt, 20 a second.
    "log_level": 0,
    # It stops at the end it found. tansu holds a fetch that finds nothing new for all of
    # fetch.wait.max.ms, and each new position waits for the fetch in flight: 20 ms each.
    "fetch.wait.max.ms": 1,
    # Connecting to the bootstrap broker at once, not when the first request needs it,
    # saves 50 ms on that first request (measured on tansu).
    "enable.sparse.connections": False,
}
_CLUSTER_DOMAINS = ("", ".svc", ".svc.cluster.local")  # how a Knative Service's address names it


class DeadLetterError(Exception):
    """Why dead letters cannot be read or replayed, in words for the person who asked."""


class BrokerUnreachable(DeadLetterError):
    pass


class NoSuchDeadLetter(DeadLetterError):
    pass


class CannotReplay(DeadLetterError):
    pass


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    dead_lettered_at: datetime | None  # the record's timestamp: when the dead-letter sink accepted it
    event: Event

    @property
    def id(self) -> str:
        return _id(self.partition, self.offset)

    @property
    def event_id(self) -> str:
        return self.event.id

    @property
    def event_type(self) -> str:
        return self.event.type

    @property
    def subject(self) -> str | None:
        return self.event.subject

    @property
    def destination(self) -> str | None:
        return self.event.attributes.get("knativeerrordest")

    @property
    def error_code(self) -> int | None:
        code = self.event.attributes.get("knativeerrorcode", "")
        return int(code) if code.isdigit() else None

    @property
    def error_data(self) -> bytes | None:
        """The destination's last answer, as far as it was kept (1,024 bytes)."""
        encoded = self.event.attributes.get("knativeerrordata")
        if encoded is None:
            return None
        try:
            return base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            return encoded.encode()  # not base64 after all: show it as it came

    @property
    def error(self) -> str | None:
        """What went wrong, on one line: the message of the answer's JSON body, else its text."""
        data = self.error_data
        if data:
            return error_message(data)
        if self.error_code is None:
            return "no HTTP answer: the destination could not be reached or did not answer in time"
        return None

    def original(self) -> Event:
        """The event as it was before it was dead-lettered."""
        kept = {
            name: value for name, value in self.event.attributes.items() if not name.startswith(ERROR_EXTENSION_PREFIX)
        }
        return replace(self.event, attributes=kept)

    def to_json(self, *, detail: bool = False) -> dict[str, Any]:
        document: dict[str, Any] = {
            "id": self.id,
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "dead_lettered_at": self.dead_lettered_at.isoformat() if self.dead_lettered_at else None,
            "event_id": self.event_id,
            "type": self.event_type,
            "subject": self.subject,
            "error_code": self.error_code,
            "destination": self.destination,
            "error": self.error,
        }
        if detail:
            document["attributes"] = dict(self.event.attributes)
            document["error_data"] = _readable(self.error_data, json_expected=True)
            document["data"] = _readable(self.event.data, json_expected=is_json_media_type(self.event.media_type))
        return document


@dataclass(frozen=True)
class DeadLetters:
    """The newest dead letters of a topic, newest first, and how many it holds in all."""

    topic: str
    count: int
    letters: tuple[DeadLetter, ...]
    oldest_at: datetime | None

    @property
    def newest_at(self) -> datetime | None:
        return self.letters[0].dead_lettered_at if self.letters else None

    def to_json(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "count": self.count,
            "newest_at": self.newest_at.isoformat() if self.newest_at else None,
            "oldest_at": self.oldest_at.isoformat() if self.oldest_at else None,
            "dead_letters": [letter.to_json() for letter in self.letters],
        }


def error_message(body: bytes) -> str:
    """A function's error answer on one line: `{"error": ..., "problems": [...]}` as its message and problems."""
    text = body.decode("utf-8", "replace")
    try:
        document = json.loads(text)
    except ValueError:
        return _one_line(text)
    if not isinstance(document, dict) or not isinstance(document.get("error"), str):
        return _one_line(text)
    problems = [_problem(item) for item in document.get("problems") or [] if isinstance(item, dict)]
    return _one_line(document["error"] + (f" ({'; '.join(problems)})" if problems else ""))


def _problem(item: dict[str, Any]) -> str:
    message = str(item.get("message", item))
    return f"{item['field']}: {message}" if item.get("field") else message


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= ONE_LINE_MAX_CHARS else line[: ONE_LINE_MAX_CHARS - 1] + "…"


def _readable(data: bytes | None, *, json_expected: bool) -> Any:
    """Bytes for people: the JSON document they hold, else their text."""
    if data is None:
        return None
    if json_expected:
        try:
            return json.loads(data)
        except ValueError:
            pass
    return data.decode("utf-8", "replace")


def parse_id(text: str) -> tuple[int, int]:
    """A dead letter's (partition, offset) from its id: `12`, or `3:12` for partition 3."""
    match = _ID.fullmatch(text.strip())
    if match is None:
        raise NoSuchDeadLetter(
            f"{text!r} is not a dead-letter id: an id is the record's offset, e.g. 12 (3:12 on partition 3)"
        )
    return int(match.group(1) or 0), int(match.group(2))


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
                f"there is no dead letter {_id(partition, offset)}: {self.topic} has no partition {partition}"
            )
        start, end = log.bounds(self.topic, partition)
        if not start <= offset < end:
            held = f"ids {_id(partition, start)} to {_id(partition, end - 1)}" if end > start else "no dead letters"
            raise NoSuchDeadLetter(f"there is no dead letter {_id(partition, offset)}: {self.topic} holds {held}")
        found = log.records(self.topic, partition, offset, offset + 1)
        if not found:  # a compacted topic has gaps
            raise NoSuchDeadLetter(f"there is no dead letter {_id(partition, offset)} in {self.topic}")
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


_NEVER = datetime.min.replace(tzinfo=UTC)


def _id(partition: int, offset: int) -> str:
    return str(offset) if partition == 0 else f"{partition}:{offset}"


class Routes:
    """Which topic a dead letter came from: the topic of the KafkaSource whose sink its destination is."""

    def __init__(self, topology: Topology, addresses: Mapping[str, str]) -> None:
        """`addresses`: each function's URL outside a cluster (the local stack's); in a cluster a
        Knative Service's address is <name>.<namespace>.svc.cluster.local."""
        self._topology = topology
        self._functions_at = {_place(url): name for name, url in addresses.items()}

    def topic_for(self, letter: DeadLetter) -> str:
        """The topic to replay `letter` to; CannotReplay, saying why, when it cannot be told for sure."""
        if letter.event_type == WRAPPED_EVENT_TYPE:
            raise CannotReplay(
                f"dead letter {letter.id} holds a Kafka record that was not a CloudEvent ({WRAPPED_EVENT_TYPE}),"
                " whose original headers cannot be restored"
            )
        if not letter.destination:
            raise CannotReplay(f"dead letter {letter.id} does not say where it failed to go (no knativeerrordest)")
        function = self._function_at(letter.destination)
        if function is None:
            raise CannotReplay(
                f"cannot tell which topic dead letter {letter.id} came from:"
                f" {letter.destination} is the address of no function in knative/"
            )
        sources = [
            source
            for source in self._topology.sources.values()
            if source.sink == function and self._dead_letter_topic(source.delivery.dead_letter_sink) == letter.topic
        ]
        topics = sorted({topic for source in sources for topic in source.topics})
        if len(topics) != 1:
            why = (
                f"several topics feed {function} ({', '.join(topics)})"
                if topics
                else f"no KafkaSource that dead-letters to {letter.topic} feeds {function}"
            )
            raise CannotReplay(f"cannot tell which topic dead letter {letter.id} came from: {why}")
        return topics[0]

    def _dead_letter_topic(self, sink: str | None) -> str | None:
        return self._topology.sinks[sink].topic if sink else None

    def _function_at(self, url: str) -> str | None:
        place = _place(url)
        if place in self._functions_at:
            return self._functions_at[place]
        host = place[1]
        namespace = self._topology.namespace
        for name in self._topology.functions:
            if host in {f"{name}.{namespace}{domain}" for domain in _CLUSTER_DOMAINS}:
                return name
        return None


def _place(url: str) -> tuple[str, str, int | None, str]:
    """Where a URL points: scheme, host, port and path without its trailing slash."""
    parts = urlsplit(url.strip())
    try:
        port = parts.port
    except ValueError:
        port = None
    return parts.scheme.lower(), (parts.hostname or "").lower(), port, parts.path.rstrip("/")


@dataclass
class ReplayReport:
    """What a replay did: the dead letters replayed and where to, and those left alone, with why."""

    replayed: list[tuple[DeadLetter, str]] = field(default_factory=list)
    repeats: list[DeadLetter] = field(default_factory=list)  # an event this run had replayed already
    skipped: list[tuple[DeadLetter, str]] = field(default_factory=list)

    @property
    def topics(self) -> Counter[str]:
        return Counter(topic for _letter, topic in self.replayed)

    def to_json(self) -> dict[str, Any]:
        return {
            "replayed": [
                {"id": letter.id, "event_id": letter.event_id, "topic": topic} for letter, topic in self.replayed
            ],
            "topics": dict(self.topics),
            "repeats": [letter.id for letter in self.repeats],
            "skipped": [{"id": letter.id, "reason": reason} for letter, reason in self.skipped],
        }


class Replayer:
    """Re-emits dead letters to the topics they came from."""

    def __init__(self, reader: DeadLetterReader, routes: Routes, group: str = REPLAY_GROUP) -> None:
        self._reader = reader
        self._routes = routes
        self._group = group

    def replay(self, letter_id: str) -> tuple[DeadLetter, str]:
        """Replay one dead letter, whether or not it was replayed before; the group's progress stays as it is."""
        partition, offset = parse_id(letter_id)
        with self._reader.open_log() as log:
            letter = self._reader.read(log, partition, offset)
            topic = self._routes.topic_for(letter)
            log.produce(topic, to_kafka(letter.original()))
        return letter, topic

    def replay_pending(self) -> ReplayReport:
        """Replay every dead letter after those earlier runs replayed, up to the end of the topic as it is now.

        One that cannot be routed is skipped and reported; it stays in the topic, replayable
        by id. An event dead-lettered twice (by two functions fed by one topic) is replayed
        once. Progress is committed batch by batch, and on the way out of a run that failed
        half-way, so the next run continues it rather than repeating it."""
        topic = self._reader.topic
        report = ReplayReport()
        replayed: set[tuple[str, str, str]] = set()
        with self._reader.open_log() as log:
            for partition in log.partitions(topic):
                start, end = log.bounds(topic, partition)
                committed = log.committed(self._group, topic, partition)
                position = start if committed is None else max(committed, start)
                while position < end:
                    stop = min(position + REPLAY_BATCH, end)
                    done = position
                    try:
                        for record in log.records(topic, partition, position, stop):
                            self._replay_one(log, self._reader.letter(record), report, replayed)
                            done = (record.offset() or 0) + 1
                        done = stop
                    finally:
                        if done > position:
                            log.commit(self._group, topic, partition, done)
                    position = stop
        return report

    def _replay_one(
        self, log: PartitionLog, letter: DeadLetter, report: ReplayReport, replayed: set[tuple[str, str, str]]
    ) -> None:
        try:
            topic = self._routes.topic_for(letter)
        except CannotReplay as error:
            report.skipped.append((letter, str(error)))
            return
        event = (topic, letter.event.source, letter.event_id)
        if event in replayed:
            report.repeats.append(letter)
            return
        log.produce(topic, to_kafka(letter.original()))
        replayed.add(event)
        report.replayed.append((letter, topic))


class KafkaLog:
    """PartitionLog on a Kafka-protocol broker: consumers that join no group, and a producer once one is needed.

    A partition's end comes from a fetch response: tansu answers ListOffsets with the last
    batch's base offset + 1 (see eventing.offsets), so that answer only says where to fetch.
    """

    def __init__(self, bootstrap_servers: str, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self._servers = bootstrap_servers
        self._timeout = timeout
        self._consumers: dict[str, Consumer] = {}
        self._producer: AckingProducer | None = None

    def __enter__(self) -> KafkaLog:
        return self

    def __exit__(self, *_exc: object) -> None:
        for consumer in self._consumers.values():
            consumer.close()
        if self._producer is not None:
            self._producer.close(self._timeout)

    def partitions(self, topic: str) -> list[int]:
        try:
            metadata = self._consumer().list_topics(timeout=self._timeout)
        except KafkaException as error:
            raise self._unreachable(error) from None
        described = metadata.topics.get(topic)
        if described is None or described.error is not None:
            raise DeadLetterError(f"the broker at {self._servers} has no topic {topic}: is it the pipeline's broker?")
        return sorted(described.partitions)

    def bounds(self, topic: str, partition: int) -> tuple[int, int]:
        consumer = self._consumer()
        try:
            start, listed_end = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=self._timeout)
        except KafkaException as error:
            raise self._unreachable(error) from None
        if listed_end <= start:  # tansu's answer too is exact for an empty partition
            return start, start
        self._fetch(topic, partition, listed_end - 1, 1, done=lambda: self._fetched_end(topic, partition) is not None)
        fetched_start = fetched_start_offset(consumer, topic, partition)
        end = max(self._fetched_end(topic, partition) or 0, listed_end)
        return (start if fetched_start is None else fetched_start), end

    def records(self, topic: str, partition: int, start: int, stop: int) -> list[ConsumedRecord]:
        def past_stop() -> bool:
            [position] = self._consumer().position([TopicPartition(topic, partition)])
            return position.offset >= stop

        fetched = self._fetch(topic, partition, start, stop - start, done=past_stop)
        return [message for message in fetched if start <= message.offset() < stop]

    def committed(self, group: str, topic: str, partition: int) -> int | None:
        try:
            [found] = self._consumer(group).committed([TopicPartition(topic, partition)], timeout=self._timeout)
        except KafkaException as error:
            raise self._unreachable(error) from None
        return found.offset if found.offset >= 0 else None

    def commit(self, group: str, topic: str, partition: int, offset: int) -> None:
        try:
            self._consumer(group).commit(offsets=[TopicPartition(topic, partition, offset)], asynchronous=False)
        except KafkaException as error:
            raise self._unreachable(error) from None

    def produce(self, topic: str, record: KafkaRecord) -> None:
        if self._producer is None:
            self._producer = AckingProducer(
                self._servers, delivery_timeout_s=self._timeout, client_id="sentinel-dlq-replay"
            )
        try:
            self._producer.send(topic, record)
        except Unavailable as error:
            raise BrokerUnreachable(f"{error} (broker {self._servers})") from None

    def _fetch(self, topic: str, partition: int, start: int, wanted: int, *, done: Callable[[], bool]) -> list[Message]:
        consumer = self._consumer()
        consumer.assign([TopicPartition(topic, partition, start)])
        deadline = time.monotonic() + self._timeout
        fetched: list[Message] = []
        while True:
            batch = consumer.consume(num_messages=max(wanted - len(fetched), 1), timeout=0.05)
            for message in batch:
                if message.error() is not None:
                    raise self._unreachable(KafkaException(message.error()))
            fetched.extend(batch)
            if done():
                return fetched
            if time.monotonic() > deadline:
                raise BrokerUnreachable(
                    f"the broker at {self._servers} sent no records of {topic} from offset {start}"
                    f" within {self._timeout:g} s"
                )

    def _fetched_end(self, topic: str, partition: int) -> int | None:
        return fetched_end_offset(self._consumer(), topic, partition)

    def _consumer(self, group: str = READER_GROUP) -> Consumer:
        if group not in self._consumers:
            config = consumer_config(self._servers, group, initial_offset="earliest", client_id="sentinel-dlq")
            self._consumers[group] = Consumer({**config, **_SHORT_LIVED})
        return self._consumers[group]

    def _unreachable(self, error: KafkaException) -> BrokerUnreachable:
        cause = error.args[0] if error.args else error
        reason = cause.str() if isinstance(cause, KafkaError) else str(cause)
        return BrokerUnreachable(
            f"cannot read the Kafka broker at {self._servers}: {reason} (is `sentinel up` running?)"
        )
