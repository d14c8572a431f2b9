"""Benchmarks 3 and 6, end to end: events/s from ingest to PostgreSQL at fixed offered rates, and
the single-process batch consumer on the same machine and data, side by side.

The pipeline: an open-loop load of binary CloudEvents POSTed to ingest for 60 s at
each offered rate (or a closed loop from many connections for "max"), through the
whole local stack: ingest → KafkaSink ingress → Kafka → dispatcher → score →
ingress → Kafka → dispatchers → persist and alert. Latency is ingest→persisted,
from `received_at` (stamped by ingest) and `persisted_at` (stamped by PostgreSQL) of
every stored row; lost = accepted by ingest and never stored.

The baseline (benchmarks.batch_consumer): the same transactions produced to a
topic at the same rate, consumed in batches, scored with the same ONNX model and
inserted into the same table. Its "max" is how fast it drains a topic already
holding the records. CPU is the user+system time of every process involved.
Each rate starts on a freshly started stack: its broker keeps topics in memory,
and its cost per event grows with what a topic holds.

Plumbing (`--designs plumbing`): the same stack and load with each function replaced by
one that only passes its event on (benchmarks.passthrough): no validation, keys,
signatures, model, Redis or PostgreSQL. Its events are counted as persist's and alert's
dispatchers deliver them, so it has no latency column; its CPU per event and the rates
it sustains are the floor the design's hops (HTTP, the ingress, the dispatchers, the
broker) set on this machine, whatever the functions themselves cost. It runs at fixed
rates only: its ingest cannot know what is stored, so it cannot shed load, and at "max"
it would fill the broker, whose cost per event grows with what a topic holds.

Overload: a rate written `2x` or `5x` is that multiple of the pipeline's "max" measured
earlier in the same run (so `--rates max,2x,5x`). Ingest then sheds what the pipeline
cannot take (503 with Retry-After), the load generator obeys, and the rows show how
many were refused, how fast a refusal came back, and that the persisted rate holds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import requests
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from benchmarks import loadgen, passthrough, processes, profile, stack, workload
from benchmarks.report import RESULTS_DIR, Table, at_least, at_most, percentiles_ms, ratio, save
from sentinel.core import events

THROUGHPUT_TARGET = 1000.0
P99_TARGET_MS = 100.0
P99_TARGET_RATE = 500.0
# The cost targets on the way there: throughput 2.5x the first measured, CPU per event,
# p99 at a rate below the maximum, and CPU per event against the batch consumer's.
STEP_THROUGHPUT_TARGET = 500.0
CPU_MS_PER_EVENT_TARGET = 3.5
STEP_P99_TARGET_RATE = 250.0
CPU_RATIO_TO_BATCH_TARGET = 12.0
OVERLOAD_SHARE_TARGET = 0.9  # under overload, persisted/s at least this share of max
REFUSAL_P99_TARGET_MS = 50.0
SUSTAINED_SHARE = 0.98  # persisted/s at least this share of the offered rate counts as sustained
MAX_BASELINE_RECORDS = 120_000
PIPELINE = (
    "kafka-sink-ingress",
    "ingest",
    "score",
    "persist",
    "alert",
    "score-source",
    "persist-source",
    "alert-source",
    "broker",
    "postgres",
    "redis",
)
BASELINE = ("broker", "postgres")
PERSIST_SOURCE = "persist-source"
PLUMBING_ENDS = (PERSIST_SOURCE, "alert-source")  # the plumbing's events end when both have delivered them

LATENCY_QUERY = """
SELECT count(*),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM persisted_at - received_at)),
       percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM persisted_at - received_at)),
       extract(epoch FROM max(persisted_at) - min(received_at))
FROM transactions WHERE transaction_id LIKE %s
"""


@dataclass
class Outcome:
    design: str
    offered: str
    sent_per_s: float
    accepted: int
    stored: int
    p50_ms: float | None
    p99_ms: float | None
    persisted_per_s: float
    cpu_ms_per_event: float
    cpu_by_process: dict[str, float]
    refused: int = 0  # answered 429/503 with Retry-After
    refusal_p99_ms: float | None = None
    shed: int = 0  # fell due while the client waited out a Retry-After

    @property
    def lost(self) -> int:
        return self.accepted - self.stored


def add_arguments(parser: argparse.ArgumentParser) -> None:
    stack.add_arguments(parser)
    parser.add_argument(
        "--rates",
        default="100,250,500,1000,max,2x,5x",
        help="offered events/s, comma-separated; max: as fast as possible; 2x, 5x: multiples of the max before them",
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="how long each rate is offered")
    parser.add_argument("--max-connections", type=int, default=32, help="client connections for the max run")
    parser.add_argument(
        "--drain-timeout", type=float, default=60.0, help="give up waiting after this long without progress"
    )
    parser.add_argument(
        "--designs",
        type=designs_of,
        default="both",
        help="pipeline, baseline, or both (pipeline,baseline): the event-function pipeline and the batch consumer; "
        "plumbing: the pipeline with functions that only pass their event on (add it to the list, or alone)",
    )
    parser.add_argument(
        "--profile", action="store_true", help="record a py-spy profile of every pipeline process during the max run"
    )


DESIGNS = ("pipeline", "baseline", "plumbing")
BOTH = ("pipeline", "baseline")


def designs_of(text: str) -> tuple[str, ...]:
    """The designs `--designs` names, in DESIGNS order: a comma-separated choice of DESIGNS, "both" standing
    for pipeline and baseline."""
    names = {name.strip() for name in text.split(",") if name.strip()}
    if "both" in names:
        names = names - {"both"} | set(BOTH)
    unknown = names - set(DESIGNS)
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"{text!r}: give pipeline, baseline, plumbing or both")
    return tuple(name for name in DESIGNS if name in names)


def run(args: argparse.Namespace) -> int:
    bench = stack.BenchStack.from_arguments(args)
    designs = args.designs
    transactions = workload.transactions(2000)
    run_id = time.strftime("%H%M%S")
    outcomes: list[Outcome] = []
    try:
        for label in args.rates.split(","):
            # A fresh broker for every rate: tansu keeps topics in memory and its cost per
            # event grows with what a topic holds, so a rate must not inherit the last one's records.
            rate = _offered_rate(label, outcomes)
            for design in designs:
                if design == "plumbing" and (rate is None or _is_overload(label)):
                    print(f"  plumbing at {label}: not run, see the module's docstring", flush=True)
                    continue
                outcome = _measure(bench, design, designs, transactions, label, rate, f"e2e-{run_id}-", args)
                outcomes.append(outcome)
                print(
                    f"  {design} at {label}: {outcome.persisted_per_s:,.0f}/s persisted, p99 {outcome.p99_ms} ms, "
                    f"lost {outcome.lost}, {outcome.cpu_ms_per_event:.2f} CPU ms/event",
                    flush=True,
                )
    finally:
        if not args.keep_stack:
            bench.down()
    return _report(outcomes, args)


def _measure(
    bench: stack.BenchStack,
    design: str,
    designs: tuple[str, ...],
    transactions: list[dict],
    label: str,
    rate: float | None,
    run_prefix: str,
    args: argparse.Namespace,
) -> Outcome:
    """One design at one rate. The pipeline and the plumbing each get a fresh stack and a warm-up; the
    baseline runs on the pipeline's stack after it, or on a fresh one of its own."""
    prefix = f"{run_prefix}{design[0]}{label}-"
    if design == "baseline":
        if "pipeline" not in designs:
            bench.restart()
        return _baseline(bench, transactions, label, prefix, rate=rate, seconds=args.seconds, args=args)
    bench.restart(functions_from=passthrough.SOURCE if design == "plumbing" else None)
    with psycopg.connect(bench.settings.database_url, autocommit=True) as conn:
        conn.execute("TRUNCATE transactions, alerts")
    # Looked up before the warm-up: the lookup takes seconds, and the measured run must follow the
    # warm-up at once, before the sources back off as idle (SENTINEL_SOURCE_IDLE_AFTER_S).
    pids = bench.pids(*PIPELINE)
    warm_up = f"{run_prefix}w{design[0]}{label}-"
    _pipeline(bench, transactions, "warm-up", warm_up, rate=100, seconds=3, args=args, design=design, pids=pids)
    return _pipeline(
        bench, transactions, label, prefix, rate=rate, seconds=args.seconds, args=args, design=design, pids=pids
    )


def _pipeline(
    bench: stack.BenchStack,
    transactions: list[dict],
    label: str,
    prefix: str,
    *,
    rate: float | None,
    seconds: float,
    args: argparse.Namespace,
    design: str,
    pids: dict[str, int | None],
) -> Outcome:
    """The pipeline's run at `rate`; with `design` plumbing, on a stack serving benchmarks.passthrough."""
    templates = [workload.created(item, api_key=bench.api_key) for item in transactions]
    port = bench.port("ingest")
    request = workload.requests_for(templates, "127.0.0.1", port, id_prefix=prefix)
    profiles = _start_profiles(pids, seconds) if args.profile and rate is None else {}
    cpu_before = processes.cpu_seconds_by_name(pids)
    delivered_before = _delivered(bench) if design == "plumbing" else {}
    started = time.monotonic()
    if rate is None:
        result = loadgen.closed_loop("127.0.0.1", port, request, seconds=seconds, connections=args.max_connections)
    else:
        result = loadgen.open_loop("127.0.0.1", port, request, rate=rate, seconds=seconds, connections=64)
    accepted = result.succeeded()
    sent_per_s = result.sent / result.seconds
    if design == "plumbing":
        outcome = _passed_through(bench, label, sent_per_s, accepted, delivered_before, started, pids, cpu_before, args)
    else:
        outcome = _outcome(bench, design, label, prefix, sent_per_s, accepted, pids, cpu_before, args)
    outcome.refused = len(result.refusal_latencies)
    outcome.refusal_p99_ms = percentiles_ms(result.refusal_latencies)["p99_ms"]
    outcome.shed = result.shed
    for name, (recorder, path) in profiles.items():
        recorder.wait()
        print(profile.render(name, profile.summarise(path, top=20)), end="\n\n", flush=True)
    return outcome


def _start_profiles(pids: dict[str, int | None], seconds: float) -> dict[str, tuple[subprocess.Popen[bytes], Path]]:
    """py-spy on every Python process of the pipeline while the run lasts; raw profiles go to the results folder."""
    folder = RESULTS_DIR / f"profiles-{time.strftime('%Y%m%d-%H%M%S')}"
    folder.mkdir(parents=True, exist_ok=True)
    python = [name for name in PIPELINE if name not in ("broker", "postgres", "redis")]
    return {
        name: (profile.start(pids[name], seconds - 2, folder / f"{name}.txt"), folder / f"{name}.txt")
        for name in python
        if pids[name]
    }


def _baseline(
    bench: stack.BenchStack,
    transactions: list[dict],
    label: str,
    prefix: str,
    *,
    rate: float | None,
    seconds: float,
    args: argparse.Namespace,
) -> Outcome:
    topic = f"bench.baseline.{prefix.rstrip('-')}"
    servers = bench.settings.kafka_bootstrap_servers
    admin = AdminClient({"bootstrap.servers": servers})
    admin.create_topics([NewTopic(topic, num_partitions=6, replication_factor=1)])[topic].result()
    count = MAX_BASELINE_RECORDS if rate is None else int(rate * seconds)
    pids = bench.pids(*BASELINE)
    if rate is None:  # fill the topic first: the consumer's drain rate is its maximum
        produce_received(servers, topic, transactions, prefix, count=count, rate=None)
    consumer = subprocess.Popen(
        [
            processes.PYTHON,
            "-m",
            "benchmarks.batch_consumer",
            "--topic",
            topic,
            "--group",
            topic,
            "--expect",
            str(count),
        ],
        env=dict(os.environ),
        stdout=subprocess.PIPE,
    )
    pids["batch consumer"] = consumer.pid
    cpu_before = processes.cpu_seconds_by_name(pids)
    sent_per_s = 0.0
    if rate is not None:
        time.sleep(5)  # a fresh consumer group is assigned in about 3 s on tansu
        sent_per_s = produce_received(servers, topic, transactions, prefix, count=count, rate=rate)
    outcome = _outcome(bench, "baseline", label, prefix, sent_per_s, count, pids, cpu_before, args)
    consumer.wait(timeout=60)
    return outcome


def produce_received(
    servers: str, topic: str, transactions: list[dict], prefix: str, *, count: int, rate: float | None
) -> float:
    """Write `count` transactions as ingest emits them (binary CloudEvents keyed by user); returns records/s."""
    producer = Producer({"bootstrap.servers": servers, "linger.ms": 5, "acks": "all"})
    started = time.perf_counter()
    for index in range(count):
        if rate is not None:
            delay = started + index / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        item = {**transactions[index % len(transactions)], "transaction_id": f"{prefix}{index}"}
        value = json.dumps({**item, "received_at": events.utc_now(), "client_id": workload.BENCH_CLIENT}).encode()
        headers = [
            ("ce_specversion", b"1.0"),
            ("ce_id", item["transaction_id"].encode()),
            ("ce_type", events.TRANSACTION_RECEIVED.encode()),
            ("ce_source", events.client_source(events.INGEST_SOURCE, workload.BENCH_CLIENT).encode()),
            ("content-type", b"application/json"),
        ]
        while True:
            try:
                producer.produce(topic, value=value, key=item["user_id"].encode(), headers=headers)
                break
            except BufferError:
                producer.poll(0.01)
        producer.poll(0)
    producer.flush(30)
    return count / (time.perf_counter() - started)


def _outcome(
    bench: stack.BenchStack,
    design: str,
    label: str,
    prefix: str,
    sent_per_s: float,
    accepted: int,
    pids: dict[str, int | None],
    cpu_before: dict[str, float],
    args: argparse.Namespace,
) -> Outcome:
    stored = _wait_stored(bench.settings.database_url, prefix, accepted, args.drain_timeout)
    spent = _spent_since(cpu_before, pids)
    with psycopg.connect(bench.settings.database_url, autocommit=True) as conn:
        count, p50, p99, span = conn.execute(LATENCY_QUERY, (f"{prefix}%",)).fetchone()
    if design == "baseline" and label == "max":  # the records waited in the topic before the clock started
        p50 = p99 = None
    return Outcome(
        design=design,
        offered=label,
        sent_per_s=round(sent_per_s, 1),
        accepted=accepted,
        stored=stored,
        p50_ms=round(p50 * 1000, 1) if p50 is not None else None,
        p99_ms=round(p99 * 1000, 1) if p99 is not None else None,
        persisted_per_s=round(count / float(span), 1) if span else 0.0,
        cpu_ms_per_event=round(sum(spent.values()) * 1000 / max(stored, 1), 3),
        cpu_by_process=spent,
    )


def _passed_through(
    bench: stack.BenchStack,
    label: str,
    sent_per_s: float,
    accepted: int,
    delivered_before: dict[str, int],
    started: float,
    pids: dict[str, int | None],
    cpu_before: dict[str, float],
    args: argparse.Namespace,
) -> Outcome:
    """The plumbing's outcome: its events count as stored once persist's and alert's dispatchers delivered them;
    the rate is those delivered to persist over the time from the first request to the last delivery."""
    delivered = dict.fromkeys(PLUMBING_ENDS, 0)
    last_progress = finished = time.monotonic()
    while min(delivered.values()) < accepted and time.monotonic() - last_progress <= args.drain_timeout:
        time.sleep(0.2)
        now = {name: count - delivered_before[name] for name, count in _delivered(bench).items()}
        if now != delivered:
            last_progress = time.monotonic()
            if now[PERSIST_SOURCE] != delivered[PERSIST_SOURCE]:
                finished = last_progress
            delivered = now
    stored = min(delivered.values())
    spent = _spent_since(cpu_before, pids)
    return Outcome(
        design="plumbing",
        offered=label,
        sent_per_s=round(sent_per_s, 1),
        accepted=accepted,
        stored=stored,
        p50_ms=None,
        p99_ms=None,
        persisted_per_s=round(delivered[PERSIST_SOURCE] / (finished - started), 1),
        cpu_ms_per_event=round(sum(spent.values()) * 1000 / max(stored, 1), 3),
        cpu_by_process=spent,
    )


def _delivered(bench: stack.BenchStack) -> dict[str, int]:
    """Events each of persist's and alert's dispatchers has delivered since it started."""
    counts = {}
    for source in PLUMBING_ENDS:
        status = requests.get(f"http://127.0.0.1:{bench.port(source)}/healthz", timeout=5).json()
        counts[source] = status["counters"]["delivered"]
    return counts


def _spent_since(cpu_before: dict[str, float], pids: dict[str, int | None]) -> dict[str, float]:
    """CPU seconds each process spent since `cpu_before` was taken."""
    return {name: round(seconds, 2) for name, seconds in processes.cpu_seconds_since(cpu_before, pids).items()}


def _wait_stored(database_url: str, prefix: str, expected: int, stall_timeout: float) -> int:
    """Rows stored under `prefix` once all `expected` are there, or progress stalled for `stall_timeout`."""
    stored, last_progress = -1, time.monotonic()
    with psycopg.connect(database_url, autocommit=True) as conn:
        while True:
            (count,) = conn.execute(
                "SELECT count(*) FROM transactions WHERE transaction_id LIKE %s", (f"{prefix}%",)
            ).fetchone()
            if count > stored:
                stored, last_progress = count, time.monotonic()
            if stored >= expected or time.monotonic() - last_progress > stall_timeout:
                return stored
            time.sleep(1.0)


def _report(outcomes: list[Outcome], args: argparse.Namespace) -> int:
    table = Table(
        f"End to end: ingest → PostgreSQL, {args.seconds:g} s per offered rate, next to the batch consumer",
        [
            "design",
            "offered/s",
            "sent/s",
            "persisted/s",
            "p50 ms",
            "p99 ms",
            "lost",
            "refused",
            "refusal p99 ms",
            "CPU ms/event",
        ],
    )
    for outcome in outcomes:
        table.add(
            outcome.design,
            outcome.offered,
            outcome.sent_per_s,
            outcome.persisted_per_s,
            outcome.p50_ms,
            outcome.p99_ms,
            outcome.lost,
            outcome.refused,
            outcome.refusal_p99_ms,
            outcome.cpu_ms_per_event,
        )
    tables = [table]
    pipeline = {o.offered: o for o in outcomes if o.design == "pipeline"}
    baseline = {o.offered: o for o in outcomes if o.design == "baseline"}
    if pipeline and baseline:
        ratios = Table(
            "The cost of the event-function design (batch consumer ÷ pipeline)",
            ["offered/s", "throughput ×", "CPU per event ×", "p99 latency ×"],
        )
        for label, one in pipeline.items():
            other = baseline.get(label)
            if other:
                ratios.add(
                    label,
                    ratio(other.persisted_per_s, one.persisted_per_s),
                    ratio(one.cpu_ms_per_event, other.cpu_ms_per_event),
                    ratio(one.p99_ms, other.p99_ms),
                )
        tables.append(ratios)
    plumbing = {o.offered: o for o in outcomes if o.design == "plumbing"}
    for design, runs in (("pipeline", pipeline), ("plumbing", plumbing)):
        busiest = max(runs.values(), key=lambda o: o.persisted_per_s, default=None)
        if busiest:
            tables.append(_where_the_cpu_goes(design, busiest))
    document: dict[str, Any] = {
        "outcomes": [vars(outcome) | {"lost": outcome.lost} for outcome in outcomes],
        "targets": _targets(pipeline) | _cost_targets(pipeline, baseline),
        "plumbing_cpu_share_of_pipeline": {
            label: ratio(one.cpu_ms_per_event, pipeline[label].cpu_ms_per_event)
            for label, one in plumbing.items()
            if label in pipeline
        },
        "settings": {"seconds": args.seconds, "rates": args.rates, "max_connections": args.max_connections},
    }
    save("end_to_end", document, tables, publish=args.publish)
    return 0


def _where_the_cpu_goes(design: str, busiest: Outcome) -> Table:
    where = Table(
        f"Where the {design}'s CPU goes at offered {busiest.offered}/s (ms per stored event)",
        ["process", "CPU ms/event", "share"],
    )
    total = sum(busiest.cpu_by_process.values()) or 1.0
    for name, seconds in sorted(busiest.cpu_by_process.items(), key=lambda item: -item[1]):
        where.add(name, round(seconds * 1000 / max(busiest.stored, 1), 3), f"{seconds / total:.0%}")
    return where


def _targets(pipeline: dict[str, Outcome]) -> dict[str, Any]:
    sustained = [
        o.persisted_per_s
        for o in pipeline.values()
        if o.lost == 0
        and not _is_overload(o.offered)
        and (o.offered == "max" or o.persisted_per_s >= SUSTAINED_SHARE * float(o.offered))
    ]
    at_500 = pipeline.get(f"{P99_TARGET_RATE:g}")
    best = max(sustained, default=0.0)
    return {
        "sustained_events_per_s": at_least(THROUGHPUT_TARGET, best),
        "p99_ms_at_500": at_most(P99_TARGET_MS, at_500.p99_ms if at_500 else None),
        "lost": {
            "target": 0,
            "measured": sum(o.lost for o in pipeline.values()),
            "met": all(o.lost == 0 for o in pipeline.values()),
        },
        **{
            f"overload_{o.offered}": _overload_target(o, pipeline.get("max"))
            for o in pipeline.values()
            if _is_overload(o.offered)
        },
    }


def _cost_targets(pipeline: dict[str, Outcome], baseline: dict[str, Outcome]) -> dict[str, Any]:
    """Throughput, CPU per event, p99 below the maximum, and CPU per event against the batch consumer's
    draining cost measured in the same run (None where the run did not measure it)."""
    most, drained, at_step = pipeline.get("max"), baseline.get("max"), pipeline.get(f"{STEP_P99_TARGET_RATE:g}")
    cpu = most.cpu_ms_per_event if most else None
    times_batch = ratio(cpu, drained.cpu_ms_per_event) if most and drained and drained.stored else None
    step_p99 = at_step.p99_ms if at_step else None
    return {
        "max_events_per_s": at_least(STEP_THROUGHPUT_TARGET, most.persisted_per_s if most else None),
        "cpu_ms_per_event_at_max": at_most(CPU_MS_PER_EVENT_TARGET, cpu),
        f"p99_ms_at_{STEP_P99_TARGET_RATE:g}": at_most(P99_TARGET_MS, step_p99),
        "cpu_per_event_times_batch_consumer_at_max": at_most(CPU_RATIO_TO_BATCH_TARGET, times_batch),
    }


def _overload_target(overloaded: Outcome, most: Outcome | None) -> dict[str, Any]:
    """Point 6 of the overload contract: the persisted rate holds, refusals are quick, nothing is lost."""
    share = overloaded.persisted_per_s / most.persisted_per_s if most and most.persisted_per_s else None
    return {
        "persisted_share_of_max": {
            "target": OVERLOAD_SHARE_TARGET,
            "measured": round(share, 3) if share is not None else None,
            "met": share is not None and share >= OVERLOAD_SHARE_TARGET,
        },
        "refusal_p99_ms": {
            "target": REFUSAL_P99_TARGET_MS,
            "measured": overloaded.refusal_p99_ms,
            "met": overloaded.refusal_p99_ms is None or overloaded.refusal_p99_ms <= REFUSAL_P99_TARGET_MS,
        },
        "lost": {"target": 0, "measured": overloaded.lost, "met": overloaded.lost == 0},
    }


def _is_overload(label: str) -> bool:
    """`2x`, `5x`: a multiple of the max (which itself ends in x but is not one)."""
    return label.endswith("x") and label[:-1].replace(".", "", 1).isdigit()


def _offered_rate(label: str, outcomes: list[Outcome]) -> float | None:
    """Events/s to offer for `label`: None for max, a multiple of the max measured before for `2x`."""
    if label == "max":
        return None
    if not _is_overload(label):
        return float(label)
    most = next((o for o in outcomes if o.design == "pipeline" and o.offered == "max"), None)
    if most is None:
        raise SystemExit(f"rate {label} is a multiple of max: put max before it in --rates")
    return float(label[:-1]) * most.persisted_per_s
