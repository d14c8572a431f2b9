"""A local stand-in for Knative's KafkaSource dispatcher: one process per KafkaSource.

    python -m eventing.dispatcher --source score-source --sink-url http://127.0.0.1:18082/ --port 18090

Everything else comes from the KafkaSource in the knative/ manifests: topics, consumer
group, initial offset, ordering and delivery. Each record is POSTed to the sink by
eventing.sender's rules; a partition's offset is committed only up to the records that
reached an end (delivered, dead-lettered or dropped), so delivery is at-least-once.
A source that has found and delivered nothing for a while fetches only in short probes
(eventing.idle_backoff), so an idle stack costs the broker little.
GET /healthz on --port reports the dispatcher's assignment, counters and lag (GET /metrics
the same, and delivery times, for Prometheus: eventing.metrics), and
answers 503 while it is stalled: a partition holding records whose commit point has
not moved for longer than one retry step (then it names the event, its attempts and
the last error). Answering is not enough to be healthy; making progress is.

Only the main thread touches the consumer (the client serialises calls from other
threads behind a running consume()), so the status server reads a snapshot that the
main loop refreshes.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from confluent_kafka import (
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)

from eventing.idle_backoff import IdleBackoff
from eventing.kafka_clients import consumer_config
from eventing.metrics import DeliveryMetrics, collect_dispatcher, metrics_document
from eventing.offsets import end_offset, fetched_end_offset, fetched_start_offset
from eventing.partition_lane import PartitionLane
from eventing.sender import EventSender
from eventing.status_server import serve_status
from eventing.topology import KNATIVE_DIR, SourceSpec, load
from sentinel.codec.kafka import from_kafka
from sentinel.config import Settings
from sentinel.serving import tracing

log = logging.getLogger("eventing.dispatcher")

UNORDERED_MAX_IN_FLIGHT = 50
MAX_BACKLOG_PER_PARTITION = 1000  # fetching pauses above this and resumes below half of it
COMMIT_INTERVAL_S = 0.2
POLL_TIMEOUT_S = 0.05
FETCH_BATCH = 500
WATERMARK_INTERVAL_S = 0.5
LIST_OFFSETS_TIMEOUT_S = 0.5
DEFAULT_GRACE_PERIOD_S = 10.0
STALL_LIMIT_S = 10.0  # the consume loop itself has not turned for this long
MIN_STALL_S = 1.0  # a partition is stalled after max(one retry step, this) without progress

PartitionKey = tuple[str, int]


@dataclass(frozen=True)
class FailingDelivery:
    """An event whose delivery has failed at least once and has not reached an end yet."""

    event_id: str
    offset: int
    attempts: int  # failed so far
    last_error: str


class Dispatcher:
    """Consumes one KafkaSource's topics and delivers every record to its sink."""

    def __init__(
        self,
        source: SourceSpec,
        *,
        namespace: str,
        bootstrap_servers: str,
        sink_url: str,
        dead_letter_url: str | None,
        idle_after_s: float,
        idle_probe_every_s: float,
        grace_period: float = DEFAULT_GRACE_PERIOD_S,
    ) -> None:
        """`idle_after_s` 0 keeps fetching however long the source is idle (eventing.idle_backoff)."""
        self.source = source
        self.namespace = namespace
        self.grace_period = grace_period
        self.counters = DeliveryMetrics(source=source.name)
        self._max_in_flight = 1 if source.ordering == "ordered" else UNORDERED_MAX_IN_FLIGHT
        self._consumer = Consumer(
            {
                **consumer_config(
                    bootstrap_servers,
                    source.consumer_group,
                    initial_offset=source.initial_offset,
                    client_id=f"sentinel-dispatcher-{source.name}",
                ),
                "on_commit": self._on_commit,
                "logger": logging.getLogger("librdkafka"),
            }
        )
        self._sender = EventSender(
            sink_url,
            dead_letter_url,
            source.delivery,
            namespace=namespace,
            concurrency=self._max_in_flight * max(self._partition_count(), 1),
            counters=self.counters,
        )
        self._lock = threading.Lock()  # guards the dicts and sets below
        self._lanes: dict[PartitionKey, PartitionLane[Message]] = {}
        self._committed: dict[PartitionKey, int] = {}
        self._commit_requested: dict[PartitionKey, int] = {}
        self._paused: set[PartitionKey] = set()  # by backpressure
        self._idle_paused: set[PartitionKey] = set()  # by the idle back-off
        # A probe lasts one poll: long enough for a fetch the broker holds FETCH_WAIT_MAX_MS.
        self._idle = IdleBackoff(idle_after_s, idle_probe_every_s, probe_s=POLL_TIMEOUT_S)
        self._watermarks: dict[PartitionKey, tuple[int | None, int | None]] = {}  # (start, end)
        self._failing: dict[tuple[str, int, int], FailingDelivery] = {}  # by (topic, partition, offset)
        self._stall_after = max(source.delivery.backoff(1), MIN_STALL_S)
        self._stop = threading.Event()
        self._running = False
        self._last_loop = time.monotonic()

    def request_stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        """Consume and deliver until request_stop(); then drain, commit and leave the group."""
        self._running = True
        self._consumer.subscribe(
            list(self.source.topics), on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost
        )
        log.info(
            "%s: consuming %s as group %s (%s, at most %d in flight per partition)",
            self.source.name,
            ", ".join(self.source.topics),
            self.source.consumer_group,
            self.source.ordering,
            self._max_in_flight,
        )
        last_commit = last_watermarks = 0.0
        try:
            while not self._stop.is_set():
                self._last_loop = now = time.monotonic()
                messages = self._fetch()
                self._accept(messages)
                self._apply_backpressure()
                self._apply_idle_backoff(found=len(messages))
                if now - last_commit >= COMMIT_INTERVAL_S:
                    self._commit(self._current_lanes(), asynchronous=True)
                    last_commit = now
                if now - last_watermarks >= WATERMARK_INTERVAL_S:
                    self._refresh_watermarks()
                    last_watermarks = now
        finally:
            self._shutdown()

    def status(self) -> dict[str, Any]:
        with self._lock:
            lanes = dict(self._lanes)
            committed = dict(self._committed)
            paused = set(self._paused)
            watermarks = dict(self._watermarks)
            failing = dict(self._failing)
        partitions, stalled = [], []
        for (topic, partition), lane in sorted(lanes.items()):
            start, end = watermarks.get((topic, partition), (None, None))
            # The broker's end offset is refreshed only every WATERMARK_INTERVAL_S (and not while the source is
            # idle); records fetched since then are part of the partition too, so lag counts them until committed.
            end = max((offset for offset in (end, lane.fetched_end) if offset is not None), default=None)
            partitions.append(
                {
                    "topic": topic,
                    "partition": partition,
                    "committed": committed.get((topic, partition)),
                    "end": end,
                    "lag": self._lag(committed.get((topic, partition)), start, end),
                    "in_flight": lane.in_flight,
                    "backlog": lane.backlog,
                    "paused": (topic, partition) in paused,
                }
            )
            stuck_for = lane.stuck_for()
            if stuck_for > self._stall_after:
                stalled.append(_stall(topic, partition, stuck_for, failing))
        looping = self._running and time.monotonic() - self._last_loop < STALL_LIMIT_S
        return {
            "healthy": looping and not stalled,
            "reason": _reason(looping, stalled),
            "stalled": stalled,
            "source": self.source.name,
            "consumer_group": self.source.consumer_group,
            "topics": list(self.source.topics),
            "ordering": self.source.ordering,
            "assigned_partitions": [f"{row['topic']}/{row['partition']}" for row in partitions],
            "idle": self._idle.idle,
            "counters": self.counters.snapshot(),
            "partitions": partitions,
            "total_lag": sum(row["lag"] or 0 for row in partitions),
        }

    def _lag(self, committed: int | None, start: int | None, end: int | None) -> int | None:
        if end is None:
            return None
        if committed is None:
            if self.source.initial_offset != "earliest":
                return 0
            committed = start or 0
        return max(end - committed, 0)

    def _refresh_watermarks(self) -> None:
        """Note each assigned partition's start and end offset for the status server.

        The end comes from the last fetch response (right on tansu, unlike ListOffsets),
        from ListOffsets only while nothing was fetched from the partition yet.
        """
        with self._lock:
            keys = list(self._lanes)
            known = dict(self._watermarks)
        found = {}
        for topic, partition in keys:
            end = fetched_end_offset(self._consumer, topic, partition)
            if end is None and (topic, partition) not in known:
                end = end_offset(self._consumer, topic, partition, timeout=LIST_OFFSETS_TIMEOUT_S)
            elif end is None:
                end = known[(topic, partition)][1]
            found[(topic, partition)] = (fetched_start_offset(self._consumer, topic, partition), end)
        with self._lock:
            self._watermarks = {key: value for key, value in found.items() if key in self._lanes}

    def _partition_count(self) -> int:
        try:
            metadata = self._consumer.list_topics(timeout=10)
        except KafkaException as error:
            log.warning("%s: could not read topic metadata: %s", self.source.name, error)
            return 0
        return sum(len(metadata.topics[t].partitions) for t in self.source.topics if t in metadata.topics)

    def _deliver(self, record: Message, cancelled: threading.Event) -> bool:
        event = from_kafka(record, namespace=self.namespace, source_name=self.source.name)
        key = (record.topic(), record.partition(), record.offset())

        def failed(attempts: int, error: str) -> None:
            with self._lock:
                self._failing[key] = FailingDelivery(event.id, key[2], attempts, error)

        try:
            return self._sender.send(event, cancelled, failed).finished
        finally:
            with self._lock:
                self._failing.pop(key, None)

    def _fetch(self) -> list[Message]:
        """What the consumer holds, as soon as it holds anything.

        `consume(n, timeout)` waits for n records or the whole timeout, which at a low
        rate delays every record by up to the timeout; `poll` returns with the first.
        """
        first = self._consumer.poll(POLL_TIMEOUT_S)
        if first is None:
            return []
        return [first, *self._consumer.consume(num_messages=FETCH_BATCH - 1, timeout=0)]

    def _accept(self, messages: list[Message]) -> None:
        batches: dict[PartitionKey, list[Message]] = {}
        for message in messages:
            error = message.error()
            if error is not None:
                self._on_consumer_error(error)
                continue
            batches.setdefault((message.topic(), message.partition()), []).append(message)
        with self._lock:
            lanes = {key: self._lanes.get(key) for key in batches}
        for key, batch in batches.items():
            lane = lanes[key]
            if lane is not None:
                lane.add(batch)

    def _on_consumer_error(self, error: KafkaError) -> None:
        if error.fatal():
            log.error("%s: fatal consumer error, stopping: %s", self.source.name, error)
            self._stop.set()
        else:
            log.warning("%s: consumer error: %s", self.source.name, error)

    def _apply_backpressure(self) -> None:
        """Stop fetching a partition whose backlog is large; the consumer keeps polling, so it stays in the group."""
        to_pause, to_resume = [], []
        with self._lock:
            for key, lane in self._lanes.items():
                backlog = lane.backlog
                if key not in self._paused and backlog >= MAX_BACKLOG_PER_PARTITION:
                    self._paused.add(key)
                    to_pause.append(TopicPartition(*key))
                elif key in self._paused and backlog < MAX_BACKLOG_PER_PARTITION // 2:
                    self._paused.discard(key)
                    to_resume.append(TopicPartition(*key))
        if to_pause:
            self._consumer.pause(to_pause)
        if to_resume:
            self._consumer.resume(to_resume)

    def _apply_idle_backoff(self, *, found: int) -> None:
        """Pause every partition while the source is idle between probes; resume them for a probe or on activity.
        Under load records are found on every turn, so only a turn that found none asks whether lanes are busy."""
        fetching = self._idle.fetching(found=found, busy=not found and self._lanes_busy())
        with self._lock:
            if fetching:
                to_resume = [TopicPartition(*key) for key in self._idle_paused]
                self._idle_paused.clear()
                to_pause = []
            else:
                new = [key for key in self._lanes if key not in self._idle_paused and key not in self._paused]
                self._idle_paused.update(new)
                to_pause, to_resume = [TopicPartition(*key) for key in new], []
        if to_pause:
            self._consumer.pause(to_pause)
        if to_resume:
            self._consumer.resume(to_resume)
            self._wake_fetcher()

    def _lanes_busy(self) -> bool:
        """Whether any partition still holds records to deliver or deliveries in flight."""
        with self._lock:
            return any(lane.backlog or lane.in_flight for lane in self._lanes.values())

    def _wake_fetcher(self) -> None:
        """Make the client fetch the partitions just resumed now rather than within a second.

        With every partition paused, the client's broker thread sleeps for up to a second
        and resume() does not wake it: a record produced during a pause was fetched about
        1 s after resume. A metadata request is served by that thread and so wakes it; the
        record was then fetched within 2 ms."""
        try:
            self._consumer.list_topics(topic=self.source.topics[0], timeout=LIST_OFFSETS_TIMEOUT_S)
        except KafkaException as error:
            log.debug("%s: metadata request after resume failed: %s", self.source.name, error)

    def _current_lanes(self) -> dict[PartitionKey, PartitionLane[Message]]:
        with self._lock:
            return dict(self._lanes)

    def _commit(self, lanes: dict[PartitionKey, PartitionLane[Message]], *, asynchronous: bool) -> None:
        offsets = []
        with self._lock:
            for key, lane in lanes.items():
                point = lane.commit_point()
                if point is not None and point != self._commit_requested.get(key):
                    self._commit_requested[key] = point
                    offsets.append(TopicPartition(key[0], key[1], point))
        if not offsets:
            return
        try:
            result = self._consumer.commit(offsets=offsets, asynchronous=asynchronous)
        except KafkaException as error:
            log.warning("%s: commit failed: %s", self.source.name, error)
            with self._lock:
                for tp in offsets:
                    self._commit_requested.pop((tp.topic, tp.partition), None)
            return
        if not asynchronous and result:
            self._record_commits(result)
            log.info("%s: committed %s", self.source.name, _names([tp for tp in result if tp.error is None]))

    def _on_commit(self, error: KafkaError | None, partitions: list[TopicPartition]) -> None:
        if error is not None:
            log.warning("%s: commit failed: %s", self.source.name, error)
            with self._lock:
                for tp in partitions:
                    self._commit_requested.pop((tp.topic, tp.partition), None)
            return
        self._record_commits(partitions)

    def _record_commits(self, partitions: list[TopicPartition]) -> None:
        self.counters.committed(sum(1 for tp in partitions if tp.error is None and tp.offset >= 0))
        with self._lock:
            for tp in partitions:
                key = (tp.topic, tp.partition)
                if tp.error is None and tp.offset >= 0 and key in self._lanes:
                    self._committed[key] = tp.offset

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        try:
            committed = consumer.committed(partitions, timeout=5)
        except KafkaException as error:
            log.warning("%s: could not read committed offsets: %s", self.source.name, error)
            committed = []
        with self._lock:
            for tp in partitions:
                key = (tp.topic, tp.partition)
                self._lanes[key] = PartitionLane(self._deliver, self._max_in_flight, f"{tp.topic}-{tp.partition}")
            for tp in committed:
                if tp.offset >= 0:
                    self._committed[(tp.topic, tp.partition)] = tp.offset
            self._idle.wake()
        log.info("%s: assigned %s", self.source.name, _names(partitions))

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Let in-flight deliveries finish (within the grace period), commit what finished, let go."""
        lanes = self._take_lanes(partitions)
        if lanes:
            _close_all(lanes.values(), self.grace_period)
            self._commit(lanes, asynchronous=False)
            log.info("%s: revoked %s", self.source.name, _names(partitions))

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """The group moved on without us: whatever is in flight may no longer be committed."""
        lanes = self._take_lanes(partitions)
        _close_all(lanes.values(), 0)
        log.warning("%s: lost %s; their deliveries in flight will be repeated", self.source.name, _names(partitions))

    def _take_lanes(self, partitions: list[TopicPartition] | None = None) -> dict[PartitionKey, PartitionLane[Message]]:
        """Remove the lanes of `partitions` (all lanes when None) from the assignment."""
        with self._lock:
            keys = list(self._lanes) if partitions is None else [(tp.topic, tp.partition) for tp in partitions]
            taken = {}
            for key in keys:
                lane = self._lanes.pop(key, None)
                if lane is not None:
                    taken[key] = lane
                self._paused.discard(key)
                self._idle_paused.discard(key)
                self._committed.pop(key, None)
                self._commit_requested.pop(key, None)
                self._watermarks.pop(key, None)
            return taken

    def _shutdown(self) -> None:
        log.info("%s: stopping; waiting up to %g s for deliveries in flight", self.source.name, self.grace_period)
        lanes = self._take_lanes()
        _close_all(lanes.values(), self.grace_period)
        self._commit(lanes, asynchronous=False)
        self._consumer.close()
        self._sender.close()
        self._running = False
        log.info("%s: stopped; %s", self.source.name, self.counters.snapshot())


def _stall(
    topic: str, partition: int, stuck_for: float, failing: dict[tuple[str, int, int], FailingDelivery]
) -> dict[str, Any]:
    """A stalled partition, with its oldest failing delivery when one is known."""
    oldest = min(
        (delivery for (t, p, _), delivery in failing.items() if (t, p) == (topic, partition)),
        key=lambda delivery: delivery.offset,
        default=None,
    )
    found = {"topic": topic, "partition": partition, "for_s": round(stuck_for, 1)}
    if oldest is None:
        return {**found, "event_id": None, "offset": None, "attempts": 0, "last_error": None}
    return {**found, **asdict(oldest)}


def _reason(looping: bool, stalled: list[dict[str, Any]]) -> str | None:
    """Why the dispatcher is not healthy, in words; None when it is."""
    if not looping:
        return "the consume loop is not running"
    if not stalled:
        return None
    return "stalled: " + "; ".join(
        f"{row['topic']}/{row['partition']} has not advanced for {row['for_s']:g} s, "
        + (
            f"event {row['event_id']} failed {row['attempts']} time(s), last: {row['last_error']}"
            if row["event_id"]
            else "waiting for the sink to answer"
        )
        for row in stalled
    )


def _close_all(lanes: Iterable[PartitionLane[Message]], grace_period: float) -> None:
    """Close lanes together, so the grace period is shared rather than spent lane by lane."""
    closing = list(lanes)
    for lane in closing:
        lane.begin_close()
    deadline = time.monotonic() + grace_period
    for lane in closing:
        lane.wait_idle(deadline)


def _names(partitions: list[TopicPartition]) -> str:
    """`topic/partition` for each, with `@offset` where the offset is a real one."""
    return (
        ", ".join(f"{tp.topic}/{tp.partition}" + (f"@{tp.offset}" if tp.offset >= 0 else "") for tp in partitions)
        or "nothing"
    )


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m eventing.dispatcher", description=__doc__.split("\n")[0])
    parser.add_argument("--source", required=True, help="name of the KafkaSource to run")
    parser.add_argument("--sink-url", required=True, help="where events are POSTed")
    parser.add_argument(
        "--dead-letter-url",
        help="where failed events are POSTed: the address of the source's deadLetterSink (needed when it names one)",
    )
    parser.add_argument("--port", type=int, required=True, help="status port (GET /healthz)")
    parser.add_argument("--host", default="127.0.0.1", help="status address (default 127.0.0.1)")
    parser.add_argument("--topology", type=Path, default=KNATIVE_DIR, help="the knative/ manifests directory")
    parser.add_argument(
        "--grace-period",
        type=float,
        default=DEFAULT_GRACE_PERIOD_S,
        help="seconds deliveries in flight may take to finish on shutdown or rebalance",
    )
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    topology = load(args.topology)
    source = topology.sources.get(args.source)
    if source is None:
        known = ", ".join(sorted(topology.sources)) or "none"
        print(f"no KafkaSource named {args.source!r} in {args.topology} (known: {known})", file=sys.stderr)
        return 2
    if source.delivery.dead_letter_sink and not args.dead_letter_url:
        print(
            f"KafkaSource {source.name} dead-letters to {source.delivery.dead_letter_sink}:"
            " pass --dead-letter-url with that sink's address",
            file=sys.stderr,
        )
        return 2
    tracing.start(source.name)
    settings = Settings.from_env()
    dispatcher = Dispatcher(
        source,
        namespace=topology.namespace,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        sink_url=args.sink_url,
        dead_letter_url=args.dead_letter_url,
        grace_period=args.grace_period,
        idle_after_s=settings.source_idle_after_s,
        idle_probe_every_s=settings.source_idle_probe_every_s,
    )
    collect_dispatcher(dispatcher.status)
    try:
        server = serve_status(dispatcher.status, args.host, args.port, metrics=metrics_document)
    except OSError as error:
        print(f"cannot serve status on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 2
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: dispatcher.request_stop())
    try:
        dispatcher.run()
    finally:
        server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
