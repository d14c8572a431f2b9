"""Benchmark 2, function overhead: score's synchronous decisions per second and latency next to a
no-op functions-framework handler, same machine, same load generator (wrk), same concurrency.

Every function is started exactly as the stack starts it (functions-framework --asgi,
one worker, the threads its manifest pins) against the benchmark stack's PostgreSQL and
Redis, with the stack's dispatchers stopped so nothing else runs. Score is measured
twice: emitting to a null sink that answers 202 at once (its own cost: in the
cluster the KafkaSink receiver runs in other pods), and emitting to the local
KafkaSink ingress (the whole synchronous path on these two cores). Ingest, persist
and alert are measured the same way, for the capacity model. Then score and the
no-op take an open-loop load at half of score's maximum, for latency under load: the
maximum measured again by wrk just before each open-loop round, because the machine's
speed changes from minute to minute.
Score is also measured with its review threshold overridden to 0, so every event is a
review and gets its reasons (TreeSHAP over the exported trees), which an approval does
not; and deciding with ten rules and a challenger in shadow beside the
champion (the champion's own model registered again, so it costs what a challenger
of the same size costs): the same process, switched to that setup in PostgreSQL
before each of its runs and back after, so both are measured in alternation.
Tracing is measured three ways: score as the stack runs it (spans made, sent nowhere),
with no spans at all (OTEL_SDK_DISABLED), and exporting every span by OTLP (to the
null sink, so only the exporter's own cost counts). Metrics are always on: their cost
is measured against a run of the code before them (docs/benchmarks.md).
The no-op is also run on uvicorn's pure-Python parts and on the gunicorn threads the
functions ran on before --asgi: the servers compared side by side. And a function that
takes persist's and alert's decisions and does nothing with them runs on the handler
every function uses (sentinel.serving.http_handler: the gate and work threads, event
decoding, metrics, the trace): what each function pays before its own work.
Each open-loop round also times a fixed piece of work in a process of its own
(benchmarks.machine_speed): this machine is shared and at times runs the same work 1.2
to 3.2 times slower, which puts a process at half a maximum measured before the slowdown
at all of it. Every round is reported with that slowdown, and the p99 is also given over
the rounds the machine ran at full speed.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from benchmarks import loadgen, machine_speed, processes, stack, workload, wrk
from benchmarks.report import Table, at_least, at_most, percentiles_ms, ratio, save
from sentinel.core.rules import Rule
from sentinel.serving.event_integrity import scored_keys
from sentinel.stack.signing_secrets import with_signing_secrets
from sentinel.stores import database, registry, rules

SHARE_TARGET = 0.70
P99_TARGET_MS = 10.0
NOOP_CPU_TARGET_MS = 0.3  # a no-op handler's overhead on the chosen server, CPU per request
NOOP = "no-op handler"
NOOP_PURE_PYTHON = "no-op, uvicorn's h11 and asyncio"
NOOP_THREADS = "no-op, gunicorn threads (before --asgi)"
NOOP_SENTINEL = "no-op on Sentinel's handler (a decision taken, nothing done)"
SCORE = "score → null sink"
SCORE_INGRESS = "score → KafkaSink ingress"
SCORE_RULES = "score, 10 rules and a challenger in shadow → null sink"
SCORE_REASONS = "score, every event a review with its reasons → null sink"
SCORE_UNTRACED = "score, no spans made (OTEL_SDK_DISABLED) → null sink"
SCORE_EXPORTING = "score, spans exported by OTLP → null sink"
SETTLE_SECONDS = 2.5  # a score process follows a change of rules or challenger within a poll (1 s) and a load
USERS = 1000  # the transactions are spread over this many users, so their histories are not all one key
ALONE_RATE = 20.0  # requests/s: far below capacity, so nothing queues
# A round counts as run at the machine's full speed when its work unit took at most this much longer
# than in the fastest round (benchmarks.machine_speed); the slowed rounds first measured took 1.8 to 2 times as long.
FULL_SPEED_SLOWDOWN = 1.2
# The open-loop rounds' subjects, in turn, each with the subject whose maximum sets its rate: the
# no-op is offered score's rate, so the two can be compared in the same round.
LATENCY_PLAN = (
    (SCORE, SCORE),
    (NOOP, SCORE),
    (SCORE_RULES, SCORE_RULES),
    (SCORE_REASONS, SCORE_REASONS),
    (SCORE_INGRESS, SCORE_INGRESS),
)


@dataclass
class Subject:
    """One process measured. Transactions come from a template, which wrk sends; signed
    decisions (persist, alert) are built per request, which the asyncio generator sends."""

    name: str
    process: processes.Started
    template: workload.Template | None = None
    signed: Callable[[str], loadgen.Request] | None = None  # id prefix -> the i-th signed request
    charged: tuple[int, ...] = ()  # other processes (sink, ingress) whose CPU this subject's requests cost
    runs: list[dict[str, Any]] = field(default_factory=list)
    alone: dict[str, float | None] = field(default_factory=dict)
    setup: Callable[[bool], None] | None = None  # switches what the process decides with on (True) and off

    def measured(self, measure: Callable[[], Any]) -> Any:
        """`measure()`, with the subject's setup switched on for its duration."""
        if self.setup is None:
            return measure()
        self.setup(True)
        try:
            return measure()
        finally:
            self.setup(False)

    def requests(self, id_prefix: str) -> loadgen.Request:
        if self.signed is not None:
            return self.signed(id_prefix)
        assert self.template is not None
        return workload.requests_for([self.template], "127.0.0.1", self.process.port, id_prefix=id_prefix)

    def median(self, key: str) -> float:
        return statistics.median(run[key] for run in self.runs)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    stack.add_arguments(parser)
    parser.add_argument("--connections", type=int, default=8, help="concurrent connections for every subject")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="wrk runs per subject, in alternation")
    parser.add_argument("--latency-seconds", type=float, default=20.0, help="length of each open-loop run")
    parser.add_argument(
        "--latency-rounds", type=int, default=3, help="open-loop runs per subject, in alternation; the median counts"
    )
    parser.add_argument(
        "--maximum-seconds",
        type=float,
        default=5.0,
        help="length of the wrk run that measures a subject's maximum again before each of its open-loop runs",
    )


def run(args: argparse.Namespace) -> int:
    wrk.ensure_wrk()
    bench = stack.BenchStack.from_arguments(args)
    bench.restart()
    bench.down(*stack.DISPATCHERS)
    try:
        with processes.Group(bench.settings.state_dir / "logs" / "benchmarks") as group:
            subjects = _start_subjects(bench, group)
            for index, subject in enumerate(subjects.values()):
                subject.measured(lambda subject=subject, index=index: _measure_alone(subject, f"bench-alone-{index}-"))
            for round_number in range(args.rounds):
                for index, subject in enumerate(subjects.values()):
                    # Ids of this round and subject only: two subjects share one score process, and an id it
                    # has answered inline before is answered from its retry cache, not decided again.
                    prefix = f"bench-fn-{round_number}-{index}-"
                    subject.measured(lambda subject=subject, prefix=prefix: _measure_throughput(subject, args, prefix))
                    print(f"  round {round_number + 1}: {subject.name}: {subject.runs[-1]['rate']:,.0f}/s", flush=True)
            latency = _latency_at_half(subjects, args)
    finally:
        if not args.keep_stack:
            bench.down()
    return _report(subjects, latency, args)


def _start_subjects(bench: stack.BenchStack, group: processes.Group) -> dict[str, Subject]:
    """Every process measured, started and ready."""
    sink = group.start("null-sink", [processes.PYTHON, "-m", "benchmarks.null_sink", "--port", "{port}"], {})
    ingress = bench.pids("kafka-sink-ingress")["kafka-sink-ingress"]

    def function(name: str, label: str, **env: str) -> processes.Started:
        # A no-op runs with score's environment: the same settings, nothing it reads.
        noop = name in processes.NOOP_COMMANDS
        base = bench.function_env("score" if noop else name)
        started = group.start(label, processes.function_command(name), {**base, **env})
        if not noop:
            processes.wait_ready(f"{started.url}health/readiness")
        return started

    transaction = workload.transactions(1)[0]
    created = workload.created(transaction, api_key=bench.api_key, users=USERS)
    with database.connect(bench.settings.database_url) as conn:
        champion = registry.champion(conn)
    assert champion is not None, "the benchmark stack has no champion model"
    keys = scored_keys(with_signing_secrets(bench.settings))  # the stack's, which persist and alert check

    def blocks(process: processes.Started) -> Callable[[str], loadgen.Request]:
        def requests(id_prefix: str) -> loadgen.Request:
            return workload.signed_scored_requests(
                transaction, "127.0.0.1", process.port, champion=champion, keys=keys, id_prefix=id_prefix
            )

        return requests

    persist, alert = function("persist", "persist"), function("alert", "alert")
    sentinel_noop = function("noop-sentinel", "noop-sentinel")
    score = function("score", "score-null-sink", K_SINK=sink.url)
    subjects = [
        Subject(NOOP, function("noop", "noop"), created),
        Subject(NOOP_PURE_PYTHON, function("noop-pure-python", "noop-pure-python"), created),
        Subject(NOOP_THREADS, function("noop-threads", "noop-threads", THREADS="8"), created),
        Subject(NOOP_SENTINEL, sentinel_noop, signed=blocks(sentinel_noop)),
        Subject(SCORE, score, created, charged=(sink.process.pid,)),
        Subject(SCORE_RULES, score, created, charged=(sink.process.pid,), setup=_rules_and_challenger(bench, champion)),
        Subject(
            SCORE_REASONS,
            function("score", "score-reasons", K_SINK=sink.url, SENTINEL_REVIEW_THRESHOLD="0"),
            created,
            charged=(sink.process.pid,),
        ),
        Subject(
            SCORE_UNTRACED,
            function("score", "score-untraced", K_SINK=sink.url, OTEL_SDK_DISABLED="true"),
            created,
            charged=(sink.process.pid,),
        ),
        Subject(
            SCORE_EXPORTING,
            # The null sink takes the OTLP export too: the exporter's own cost is measured, not a collector's.
            function("score", "score-exporting", K_SINK=sink.url, OTEL_EXPORTER_OTLP_ENDPOINT=sink.url.rstrip("/")),
            created,
            charged=(sink.process.pid,),
        ),
        Subject(SCORE_INGRESS, function("score", "score-ingress"), created, charged=(ingress,) if ingress else ()),
        Subject(
            "ingest → null sink",
            # Nothing persists what it admits here, so its backlog would only grow: admission is off.
            function("ingest", "ingest", K_SINK=sink.url, SENTINEL_INGEST_MAX_BACKLOG="0"),
            created,
            charged=(sink.process.pid,),
        ),
        Subject("persist", persist, signed=blocks(persist)),
        Subject("alert, every event a block", alert, signed=blocks(alert)),
    ]
    return {subject.name: subject for subject in subjects}


RULES = (
    ("huge-amounts", "Amount > 100000", "block"),
    ("card-testing", "user_count_10m >= 20 and Amount < 2", "block"),
    ("big-at-new-merchant", "Amount > 50000 and merchant_new_for_user", "review"),
    ("velocity", "user_count_1h > 100000 or user_amount_1h > 100000000", "review"),
    ("far-from-usual", "amount_vs_user_usual > 500 and hours_from_user_usual > 10", "review"),
    ("blocked-merchants", "merchant_id in [" + ", ".join(f'"m-blocked-{n}"' for n in range(50)) + "]", "block"),
    ("blocked-users", "user_id in [" + ", ".join(f'"u-blocked-{n}"' for n in range(100)) + "]", "block"),
    ("trusted-users", 'user_id in ["u-trusted-1", "u-trusted-2"] and risk_score < 0.999', "allow"),
    ("tiny-and-busy", "Amount < 0.01 and user_count_10m > 50 and seconds_since_user_previous < 1", "review"),
    ("risky-and-large", "risk_score > 0.9999 and Amount > 20000 and not merchant_new_for_user", "block"),
)


def _rules_and_challenger(bench: stack.BenchStack, champion: registry.ModelRecord) -> Callable[[bool], None]:
    """Switches the stack's score processes between deciding alone and with RULES and a challenger in shadow.
    The rules are written so that none matches the benchmark's transactions: every one is tried on every event."""
    with database.connect(bench.settings.database_url) as conn:
        copies = [model.version for model in registry.models(conn) if model.sha256 == champion.sha256]
        challenger = next((version for version in copies if version != champion.version), None)
        if challenger is None:  # registered once per benchmark stack, and reused
            challenger = registry.register(
                conn,
                champion.onnx,
                thresholds=champion.thresholds,
                metrics={"benchmark": "the champion's model, as a challenger of the same size"},
                data_fingerprint=champion.data_fingerprint,
                feature_names=champion.feature_names,
            ).version

    def switch(on: bool) -> None:
        with database.connect(bench.settings.database_url) as conn:
            for name, expression, action in RULES:
                rules.save(conn, Rule(name, expression, action, priority=10, enabled=on), by="benchmark")
            if on:
                registry.put_in_shadow(conn, challenger, by="benchmark")
            else:
                registry.end_shadow(conn, by="benchmark")
        time.sleep(SETTLE_SECONDS)

    return switch


def _measure_alone(subject: Subject, id_prefix: str) -> None:
    """A request's time when it has the process to itself: the service time the capacity model uses."""
    request = subject.requests(id_prefix)
    result = loadgen.open_loop("127.0.0.1", subject.process.port, request, rate=ALONE_RATE, seconds=5, connections=2)
    subject.alone = percentiles_ms(result.latencies)


def _measure_throughput(subject: Subject, args: argparse.Namespace, id_prefix: str) -> None:
    pids = (subject.process.process.pid, *subject.charged)
    before = [processes.tree_cpu_seconds(pid) for pid in pids]
    prefix = f"{id_prefix}{subject.process.name}-"
    if subject.template is not None:
        result = wrk.run(
            subject.process.url, subject.template, connections=args.connections, seconds=args.seconds, id_prefix=prefix
        ).to_json()
    else:
        result = _closed_loop(subject, args, prefix)
    spent = [processes.tree_cpu_seconds(pid) - began for pid, began in zip(pids, before, strict=True)]
    requests = max(int(result["requests"]), 1)
    subject.runs.append(
        {
            **result,
            "cpu_ms_per_request": round(spent[0] * 1000 / requests, 3),
            "charged_cpu_ms_per_request": round(sum(spent[1:]) * 1000 / requests, 3),
        }
    )


def _closed_loop(subject: Subject, args: argparse.Namespace, id_prefix: str) -> dict[str, float | int]:
    """What wrk reports, from the asyncio generator: for requests that must be built one by one."""
    port = subject.process.port
    result = loadgen.closed_loop(
        "127.0.0.1", port, subject.requests(id_prefix), seconds=args.seconds, connections=args.connections
    )
    succeeded = result.succeeded()
    return {
        "requests": succeeded,
        "seconds": round(result.seconds, 2),
        "rate": round(succeeded / result.seconds, 1) if result.seconds else 0.0,
        **percentiles_ms(result.latencies),
        "failed": result.sent - succeeded,
    }


def _latency_at_half(subjects: dict[str, Subject], args: argparse.Namespace) -> list[dict[str, Any]]:
    """Open-loop latency of each score at half the maximum it served just before, in the same round,
    and of the no-op at score's rate.

    The maximum is measured again before every round because the machine's speed changes from
    minute to minute (benchmarks.machine_speed): half of a maximum measured minutes earlier can be
    all of the maximum by the time it is offered. The subjects take turns for `--latency-rounds`
    rounds and each row holds the medians: on a shared machine one run's tail can be another
    tenant's burst, which the no-op measured in the same round shows. Every round's figures are
    kept in the row."""
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in LATENCY_PLAN}
    for round_number in range(args.latency_rounds):
        maxima: dict[str, float] = {}
        for position, (name, paced_by) in enumerate(LATENCY_PLAN):
            subject = subjects[name]
            prefix = f"bench-lat-{round_number}-{position}-"
            run = subject.measured(
                lambda subject=subject, paced_by=paced_by, prefix=prefix, maxima=maxima: _open_loop_at_half(
                    subject, subjects[paced_by], maxima, args, prefix
                )
            )
            rounds[name].append(run)
            print(
                f"  open loop at {run['offered_rate']:,.0f}/s (half of {run['maximum_rate']:,.0f}/s),"
                f" round {round_number + 1}: {name}: p99 {run['p99_ms']} ms"
                f" (the machine's work unit: {run['machine_work_us']} µs)",
                flush=True,
            )
    _add_slowdowns(rounds)
    return [
        {
            "subject": name,
            **{
                key: _median_of(rounds[name], key)
                for key in ("maximum_rate", "offered_rate", "achieved_rate", "p50_ms", "p99_ms", "max_ms")
            },
            "p99_ms_at_full_speed": _median_of(_at_full_speed(rounds[name]), "p99_ms"),
            "failed": sum(run["failed"] for run in rounds[name]),
            "rounds": rounds[name],
        }
        for name, _ in LATENCY_PLAN
    ]


def _open_loop_at_half(
    subject: Subject, paced_by: Subject, maxima: dict[str, float], args: argparse.Namespace, id_prefix: str
) -> dict[str, Any]:
    """One open-loop round of `subject` at half of `paced_by`'s maximum, measured now unless this
    round has measured it already (`maxima`, by subject name)."""
    if paced_by.name not in maxima:
        assert paced_by.template is not None, "a paced subject is sent by wrk"
        maxima[paced_by.name] = wrk.run(
            paced_by.process.url,
            paced_by.template,
            connections=args.connections,
            seconds=args.maximum_seconds,
            id_prefix=f"{id_prefix}max-",
        ).rate
    rate = maxima[paced_by.name] / 2
    request = subject.requests(id_prefix)
    with machine_speed.Probe() as speed:
        result = loadgen.open_loop(
            "127.0.0.1", subject.process.port, request, rate=rate, seconds=args.latency_seconds, connections=32
        )
    return {
        "maximum_rate": round(maxima[paced_by.name], 1),
        "offered_rate": round(rate, 1),
        "achieved_rate": round(result.succeeded() / result.seconds, 1),
        "failed": result.sent - result.succeeded(),
        **percentiles_ms(result.latencies),
        "machine_work_us": speed.work_us,
    }


def _add_slowdowns(rounds: dict[str, list[dict[str, Any]]]) -> None:
    """Each round's machine slowdown: its work unit's time over the fastest round's, across every subject."""
    every_round = [run for runs in rounds.values() for run in runs]
    slowdowns = machine_speed.slowdowns([run["machine_work_us"] for run in every_round])
    for run, slowdown in zip(every_round, slowdowns, strict=True):
        run["machine_slowdown"] = slowdown


def _at_full_speed(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rounds the machine ran within FULL_SPEED_SLOWDOWN of its fastest."""
    return [
        run for run in runs if run["machine_slowdown"] is not None and run["machine_slowdown"] <= FULL_SPEED_SLOWDOWN
    ]


def _median_of(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [run[key] for run in runs if run[key] is not None]
    return statistics.median(values) if values else None


def _report(subjects: dict[str, Subject], latency: list[dict[str, Any]], args: argparse.Namespace) -> int:
    noop_rate = subjects[NOOP].median("rate")
    throughput = Table(
        f"Function overhead: wrk, {args.connections} connections, {args.seconds:g} s × {args.rounds} rounds (medians)",
        [
            "process",
            "alone p50 ms",
            "requests/s",
            "share of no-op",
            "p50 ms",
            "p99 ms",
            "CPU ms/request",
            "+ sink CPU ms",
            "failed",
        ],
    )
    document: dict[str, Any] = {"subjects": {}, "latency_at_half_rate": latency}
    for subject in subjects.values():
        share = ratio(subject.median("rate"), noop_rate)
        row = {
            "alone_p50_ms": subject.alone["p50_ms"],
            "rate": subject.median("rate"),
            "share_of_noop": share,
            "p50_ms": subject.median("p50_ms"),
            "p99_ms": subject.median("p99_ms"),
            "cpu_ms_per_request": subject.median("cpu_ms_per_request"),
            "charged_cpu_ms_per_request": subject.median("charged_cpu_ms_per_request"),
            "failed": sum(run["failed"] for run in subject.runs),
            "runs": subject.runs,
        }
        document["subjects"][subject.name] = row
        throughput.add(
            subject.name,
            row["alone_p50_ms"],
            row["rate"],
            f"{share:.0%}" if share else None,
            row["p50_ms"],
            row["p99_ms"],
            row["cpu_ms_per_request"],
            row["charged_cpu_ms_per_request"] if subject.charged else None,
            row["failed"],
        )
    under_load = Table(
        "Latency under an open-loop load at half the maximum measured just before it (asyncio generator, "
        f"32 connections, {args.latency_seconds:g} s × {args.latency_rounds} rounds in turn, medians)",
        [
            "process",
            "maximum/s",
            "offered/s",
            "achieved/s",
            "p50 ms",
            "p99 ms",
            "p99 ms, each round (offered/s, machine slowdown)",
            "p99 ms at full speed",
            "failed",
        ],
    )
    for row in latency:
        each_round = ", ".join(
            f"{run['p99_ms']:.1f} ({run['offered_rate']:,.0f}/s, ×{run['machine_slowdown']})"
            for run in row["rounds"]
            if run["p99_ms"] is not None
        )
        under_load.add(
            row["subject"],
            row["maximum_rate"],
            row["offered_rate"],
            row["achieved_rate"],
            row["p50_ms"],
            row["p99_ms"],
            each_round,
            row["p99_ms_at_full_speed"],
            row["failed"],
        )
    score_share = document["subjects"][SCORE]["share_of_noop"]
    score, with_rules = (next(row for row in latency if row["subject"] == name) for name in (SCORE, SCORE_RULES))
    document["targets"] = {
        "score_share_of_noop": at_least(SHARE_TARGET, score_share),
        "score_p99_ms_at_half_rate": at_most(P99_TARGET_MS, score["p99_ms"]),
        "score_p99_ms_at_half_rate_at_full_speed": at_most(P99_TARGET_MS, score["p99_ms_at_full_speed"]),
        "score_with_rules_and_challenger_p99_ms_at_half_rate": at_most(P99_TARGET_MS, with_rules["p99_ms"]),
        "noop_cpu_ms_per_request": at_most(NOOP_CPU_TARGET_MS, subjects[NOOP].median("cpu_ms_per_request")),
        "noop_on_sentinels_handler_cpu_ms_per_request": at_most(
            NOOP_CPU_TARGET_MS, subjects[NOOP_SENTINEL].median("cpu_ms_per_request")
        ),
    }
    document["cost_of_reasons"] = {
        "rate_ratio": ratio(subjects[SCORE_REASONS].median("rate"), subjects[SCORE].median("rate")),
        "cpu_ms_per_request": [
            subjects[SCORE].median("cpu_ms_per_request"),
            subjects[SCORE_REASONS].median("cpu_ms_per_request"),
        ],
    }
    document["cost_of_rules_and_challenger"] = {
        "rate_ratio": ratio(subjects[SCORE_RULES].median("rate"), subjects[SCORE].median("rate")),
        "cpu_ms_per_request": [
            subjects[SCORE].median("cpu_ms_per_request"),
            subjects[SCORE_RULES].median("cpu_ms_per_request"),
        ],
    }
    document["cost_of_tracing"] = {
        "rate_ratio_made_to_none": ratio(subjects[SCORE].median("rate"), subjects[SCORE_UNTRACED].median("rate")),
        "rate_ratio_exported_to_none": ratio(
            subjects[SCORE_EXPORTING].median("rate"), subjects[SCORE_UNTRACED].median("rate")
        ),
        "cpu_ms_per_request": {
            "none": subjects[SCORE_UNTRACED].median("cpu_ms_per_request"),
            "made": subjects[SCORE].median("cpu_ms_per_request"),
            "exported": subjects[SCORE_EXPORTING].median("cpu_ms_per_request"),
        },
    }
    document["settings"] = {"connections": args.connections, "seconds": args.seconds, "rounds": args.rounds}
    save("functions", document, [throughput, under_load], publish=args.publish)
    return 0
