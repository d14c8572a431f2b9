"""Replaying dead letters to the topics they came from, and recording how far a replay got."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from eventing.dead_letters.errors import CannotReplay
from eventing.dead_letters.letter import DeadLetter, parse_id
from eventing.dead_letters.reader import DeadLetterReader, PartitionLog
from eventing.topology import Topology
from sentinel.codec.kafka import WRAPPED_EVENT_TYPE, to_kafka

REPLAY_GROUP = "sentinel-dlq-replay"
REPLAY_BATCH = 200
_CLUSTER_DOMAINS = ("", ".svc", ".svc.cluster.local")  # how a Knative Service's address names it


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
