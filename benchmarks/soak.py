"""Soak: whether the local broker keeps its speed as events pass through it (idle CPU and CPU per event).

A million events through the whole pipeline would take hours on two cores, so this
runs only what the broker sees: tansu started as the stack starts it, the stack's
topics, and its three KafkaSource dispatchers (the real eventing.dispatcher, each
delivering to the null sink). Each event is the two records the pipeline writes for
it, produced straight into sentinel.transactions and sentinel.scored: the record
ingest emits and the one score emits, built by the functions' own code, each in a
batch of its own as the ingress writes them at the pipeline's rates.

The broker is measured fresh and at checkpoints as events pass through: idle (its
CPU ticks over 10 s with the dispatchers caught up and polling), and its CPU per
event while a fixed rate is offered. The fill keeps the dispatchers close behind, as
the pipeline would. A run stops at --events, once a measurement exceeds --stop-ratio
times the fresh one (the trend is clear), after --max-minutes, or when the broker
refuses records.
"""

from __future__ import annotations

import argparse
import os
import secrets
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import requests
from confluent_kafka import KafkaError, Message, Producer

from benchmarks import processes, workload
from benchmarks.report import RESULTS_DIR, Table, ratio, save
from eventing import topology
from eventing.broker_holdings import held_records
from eventing.kafka_clients import producer_config
from eventing.topics import ensure_topics
from functions.ingest.main import received_event
from functions.score.main import signed_scored_event
from sentinel.codec.kafka import KafkaRecord, to_kafka
from sentinel.config import RECEIVED_SIGNING_KEY, SCORED_SIGNING_KEY
from sentinel.core import events, score
from sentinel.core.integrity import SigningKeys
from sentinel.stack.components import broker_command

CHECKPOINTS = (5_000, 10_000, 30_000, 100_000, 300_000, 1_000_000)
TRANSACTIONS = "sentinel.transactions"
SCORED = "sentinel.scored"
DISTINCT_EVENTS = 2000  # events are drawn in turn from this many synthetic transactions
LAG_LIMIT = 20_000  # the fill waits while the dispatchers are further behind than this (records)
WITHIN = 0.10  # "keeps its speed": within 10 % of the fresh broker
PROGRESS_EVERY_S = 10.0
LAG_CHECK_EVERY_S = 1.0
QUEUED_RECORDS = 1000
DRAIN_TIMEOUT_S = 600.0
SETTLE_S = 2.0  # after the count and before the idle window


@dataclass
class Point:
    events: int
    records_held: int
    idle_ticks: int  # broker CPU ticks over --idle-seconds, the dispatchers caught up
    cpu_ms_per_event: float  # broker CPU while --rate events/s are offered, until every group committed them
    drain_s: float  # from the last offered event until every group had committed it
    count_cpu_ms: float  # broker CPU to answer one count of what the topics hold (as `sentinel status` asks)
    rss_mib: float
    fill_events_per_s: float | None  # how fast the broker took the fill that led here


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--events", type=int, default=1_000_000, help="events to pass through the broker")
    parser.add_argument("--rate", type=float, default=100.0, help="offered events/s when CPU per event is measured")
    parser.add_argument("--rate-seconds", type=float, default=20.0, help="how long that rate is offered")
    parser.add_argument("--idle-seconds", type=float, default=10.0, help="how long idle CPU is measured")
    parser.add_argument(
        "--stop-ratio", type=float, default=3.0, help="stop once idle or per-event CPU is this many times the fresh one"
    )
    parser.add_argument("--max-minutes", type=float, default=60.0, help="stop filling after this long")


def run(args: argparse.Namespace) -> int:
    pairs = _records(DISTINCT_EVENTS)
    started = time.monotonic()
    with processes.Group(RESULTS_DIR / "soak-logs") as group:
        soak = Soak(group, pairs, args)
        try:
            print(f"fresh broker (pid {soak.broker.process.pid}); measuring", flush=True)
            points = [soak.measure(fill_rate=None)]
            _print_point(points[0], points[0])
            stopped = None
            for checkpoint in checkpoints(args.events):
                try:
                    points.append(soak.measure(soak.fill(checkpoint)))
                except BrokerRefused as error:
                    stopped = f"after {soak.events:,} events {error}"
                    print(f"stopping: {stopped}", flush=True)
                    break
                _print_point(points[-1], points[0])
                stopped = _stop_reason(points, args, time.monotonic() - started)
                if stopped:
                    print(f"stopping: {stopped}", flush=True)
                    break
        finally:
            soak.close()
    return _report(points, stopped, args)


class BrokerRefused(RuntimeError):
    """The broker did not take every record produced."""


def checkpoints(events: int) -> list[int]:
    """Where the broker is measured on the way to `events`: the standard checkpoints below it, then it."""
    return [point for point in CHECKPOINTS if point < events] + [events]


class Soak:
    """The broker, its topics and the three dispatchers; the records produced so far."""

    def __init__(self, group: processes.Group, pairs: list[tuple[KafkaRecord, KafkaRecord]], args: argparse.Namespace):
        self.args = args
        self.pairs = pairs
        port = processes.free_port()
        self.broker = processes.start("broker", broker_command(port), dict(os.environ), port, group.log_dir)
        group.started.append(self.broker)
        processes.wait_port(port, self.broker.process)
        self.servers = f"127.0.0.1:{port}"
        wiring = topology.load()
        ensure_topics(self.servers, wiring.sinks.values())
        self.topics = sorted({sink.topic for sink in wiring.sinks.values()})
        self.sources = {source.name: source.topics for source in wiring.sources.values()}
        env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": self.servers}
        self.dispatchers = {}
        for name in self.sources:
            null_sink = [processes.PYTHON, "-m", "benchmarks.null_sink", "--port", "{port}"]
            sink = group.start(f"null-sink-{name}", null_sink, env)
            command = [processes.PYTHON, "-m", "eventing.dispatcher", "--source", name, "--sink-url", sink.url]
            command += ["--dead-letter-url", sink.url, "--port", "{port}"]
            self.dispatchers[name] = group.start(name, command, env)
        self._wait_assigned()
        # One record per batch, as the ingress writes them at the pipeline's rates; a short
        # queue, so the fill goes at the broker's pace instead of timing out in the client.
        config = producer_config(self.servers, delivery_timeout_s=60.0, client_id="soak")
        self.producer = Producer({**config, "batch.num.messages": 1, "queue.buffering.max.messages": QUEUED_RECORDS})
        self.acked = dict.fromkeys(self.topics, 0)
        self.failed = 0
        self.last_error = ""
        self.events = 0

    def close(self) -> None:
        """Let go of the broker before it is stopped, so the producer does not report it gone."""
        self.producer.purge()
        self.producer.close()

    # -- producing ----------------------------------------------------------

    def _produce_event(self) -> None:
        transaction, scored = self.pairs[self.events % len(self.pairs)]
        for topic, record in ((TRANSACTIONS, transaction), (SCORED, scored)):
            while True:
                try:
                    self.producer.produce(
                        topic, value=record.value, key=record.key, headers=record.headers, on_delivery=self._on_delivery
                    )
                    break
                except BufferError:
                    self.producer.poll(0.01)
        self.events += 1

    def _on_delivery(self, error: KafkaError | None, message: Message) -> None:
        if error is None:
            self.acked[message.topic()] += 1
        else:
            self.failed += 1
            self.last_error = error.str()

    def _flush(self) -> None:
        if self.producer.flush(60) or self.failed:
            raise BrokerRefused(f"the broker refused {self.failed:,} records: {self.last_error}")

    def fill(self, target: int) -> float:
        """Produce as fast as the broker takes it until `target` events have passed; returns events/s."""
        first, started = self.events, time.monotonic()
        checked = shown = started
        cpu_shown, events_shown = processes.tree_cpu_seconds(self.broker.process.pid), first
        while self.events < target:
            self._produce_event()
            if self.events % 200 or time.monotonic() - checked < LAG_CHECK_EVERY_S:
                continue
            self.producer.poll(0)
            while (behind := self._behind()) > LAG_LIMIT:
                time.sleep(0.2)
            checked = now = time.monotonic()
            if now - shown >= PROGRESS_EVERY_S:
                cpu = processes.tree_cpu_seconds(self.broker.process.pid)
                print(
                    f"  {self.events:,} / {target:,} events, {(self.events - events_shown) / (now - shown):,.0f}/s,"
                    f" broker {100 * (cpu - cpu_shown) / (now - shown):.0f} % of a core,"
                    f" dispatchers {behind:,} records behind",
                    flush=True,
                )
                cpu_shown, events_shown, shown = cpu, self.events, now
        self._flush()
        self._wait_drained()
        return (self.events - first) / (time.monotonic() - started)

    # -- measuring ----------------------------------------------------------

    def measure(self, fill_rate: float | None) -> Point:
        """Once every group has caught up: what the topics hold, idle CPU, then CPU per event at --rate."""
        self._flush()
        self._wait_drained()
        passed, pid = self.events, self.broker.process.pid
        before = processes.tree_cpu_seconds(pid)
        held = sum(held_records(self.servers, self.topics).values())
        count_cpu_ms = round(1000 * (processes.tree_cpu_seconds(pid) - before))
        time.sleep(SETTLE_S)
        before = processes.tree_cpu_seconds(pid)
        time.sleep(self.args.idle_seconds)
        idle_ticks = round((processes.tree_cpu_seconds(pid) - before) * processes.CLOCK_TICKS)
        offered = round(self.args.rate * self.args.rate_seconds)
        first, before, started = self.events, processes.tree_cpu_seconds(pid), time.monotonic()
        for index in range(offered):
            delay = started + index / self.args.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self._produce_event()
            self.producer.poll(0)
        self._flush()
        offered_until = time.monotonic()
        self._wait_drained()
        drained_at = time.monotonic()
        cpu = processes.tree_cpu_seconds(pid) - before
        return Point(
            events=passed,
            records_held=held,
            idle_ticks=idle_ticks,
            cpu_ms_per_event=round(1000 * cpu / (self.events - first), 3),
            drain_s=round(drained_at - offered_until, 2),
            count_cpu_ms=count_cpu_ms,
            rss_mib=_rss_mib(pid),
            fill_events_per_s=round(fill_rate, 1) if fill_rate is not None else None,
        )

    # -- the dispatchers ------------------------------------------------------

    def _statuses(self) -> dict[str, dict[str, Any]]:
        return {
            name: requests.get(f"http://127.0.0.1:{started.port}/healthz", timeout=5).json()
            for name, started in self.dispatchers.items()
        }

    def _behind(self) -> int:
        """Records acknowledged by the broker that some group has not committed yet, summed over the groups."""
        behind = 0
        for name, status in self._statuses().items():
            committed = sum(partition["committed"] or 0 for partition in status["partitions"])
            behind += sum(self.acked[topic] for topic in self.sources[name]) - committed
        return behind

    def _wait_drained(self) -> None:
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while (behind := self._behind()) > 0:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the dispatchers are still {behind:,} records behind after {DRAIN_TIMEOUT_S:g} s")
            time.sleep(0.2)

    def _wait_assigned(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                statuses = self._statuses()
            except requests.RequestException:
                statuses = {}
            if statuses and all(status["assigned_partitions"] for status in statuses.values()):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the dispatchers were not all assigned partitions within {timeout:g} s")
            time.sleep(0.5)


# The dispatchers deliver to the null sink, which checks no signature: throwaway keys, as long as the real ones.
RECEIVED_KEYS = SigningKeys(RECEIVED_SIGNING_KEY, secrets.token_urlsafe(32))
SCORED_KEYS = SigningKeys(SCORED_SIGNING_KEY, secrets.token_urlsafe(32))


def _records(count: int) -> list[tuple[KafkaRecord, KafkaRecord]]:
    """The records ingest and score write for `count` synthetic transactions."""
    pairs = []
    for item in workload.transactions(count):
        now = events.utc_now()
        decision = score.build(
            {**item, "received_at": now},
            risk_score=0.02,
            decision="approve",
            model_version="soak",
            thresholds={"review": 0.5, "block": 0.9},
            received_at=now,
            scored_at=now,
        )
        pairs.append(
            (to_kafka(received_event(item, now, RECEIVED_KEYS)), to_kafka(signed_scored_event(decision, SCORED_KEYS)))
        )
    return pairs


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _stop_reason(points: list[Point], args: argparse.Namespace, elapsed_s: float) -> str | None:
    fresh, last = points[0], points[-1]
    grown = max(last.idle_ticks / max(fresh.idle_ticks, 1), last.cpu_ms_per_event / fresh.cpu_ms_per_event)
    if last.events < args.events and grown > args.stop_ratio:
        return f"after {last.events:,} events the broker costs {grown:.1f}× the fresh one (the trend is clear)"
    if last.events < args.events and elapsed_s > args.max_minutes * 60:
        return f"{args.max_minutes:g} minutes spent, after {last.events:,} events"
    return None


def _print_point(point: Point, fresh: Point) -> None:
    print(
        f"after {point.events:,} events: {point.records_held:,} records held, idle {point.idle_ticks} ticks"
        f" ({ratio(point.idle_ticks, fresh.idle_ticks)}× fresh), {point.cpu_ms_per_event} ms CPU per event"
        f" ({ratio(point.cpu_ms_per_event, fresh.cpu_ms_per_event)}× fresh), drained in {point.drain_s} s,"
        f" {point.rss_mib} MiB",
        flush=True,
    )


def _report(points: list[Point], stopped: str | None, args: argparse.Namespace) -> int:
    fresh, last = points[0], points[-1]
    table = Table(
        f"The broker fresh and after events passed through it (CPU per event at {args.rate:g} events/s offered)",
        [
            "events passed",
            "records held",
            f"idle ticks / {args.idle_seconds:g} s",
            "idle × fresh",
            "CPU ms / event",
            "per event × fresh",
            "drain s",
            "count CPU ms",
            "broker MiB",
            "fill events/s",
        ],
    )
    for point in points:
        table.add(
            point.events,
            point.records_held,
            point.idle_ticks,
            ratio(point.idle_ticks, fresh.idle_ticks),
            point.cpu_ms_per_event,
            ratio(point.cpu_ms_per_event, fresh.cpu_ms_per_event),
            point.drain_s,
            point.count_cpu_ms,
            point.rss_mib,
            point.fill_events_per_s,
        )
    idle_ratio = ratio(last.idle_ticks, fresh.idle_ticks)
    event_ratio = ratio(last.cpu_ms_per_event, fresh.cpu_ms_per_event)
    kept = idle_ratio is not None and event_ratio is not None and max(idle_ratio, event_ratio) <= 1 + WITHIN
    verdict = Table(
        "Does the broker keep its speed?",
        ["events passed", "idle × fresh", "CPU per event × fresh", f"within {WITHIN:.0%}", "stopped early"],
    )
    verdict.add(last.events, idle_ratio, event_ratio, kept, stopped or "no")
    document = {
        "events_target": args.events,
        "offered_rate": args.rate,
        "rate_seconds": args.rate_seconds,
        "idle_seconds": args.idle_seconds,
        "stop_ratio": args.stop_ratio,
        "max_minutes": args.max_minutes,
        "stopped": stopped,
        "within_10_percent": kept,
        "points": [asdict(point) for point in points],
    }
    save("soak", document, [table, verdict], publish=args.publish)
    return 0
