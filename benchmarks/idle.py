"""Idle: what the local stack costs while no events pass, with the sources' idle back-off and without it.

For each setting in turn, `--rounds` times over, the benchmark stack is started fresh
with the KafkaSource dispatchers either fetching all the time
(SENTINEL_SOURCE_IDLE_AFTER_S=0, as before the back-off) or backing off when idle (the
default, eventing.idle_backoff). A few events warm it up; then one event at a time
after a quiet spell longer than the back-off's idle period, each one's time from
ingest to PostgreSQL (`persisted_at − received_at`): what the back-off costs the first
event after a quiet spell. Then the CPU every process of the stack spends over
`--seconds` of idleness, the broker's on its own line: what the back-off saves.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

import psycopg
import requests

from benchmarks import processes, stack, workload
from benchmarks.report import Table, ratio, save

IDLE_AFTER_VARIABLE = "SENTINEL_SOURCE_IDLE_AFTER_S"
SETTINGS = {"fetching all the time": "0", "backing off when idle": None}  # None: the default
WARM_UP_EVENTS = 20
QUIET_MARGIN_S = 2.0  # a quiet spell is the idle period and this much more
STORED_TIMEOUT_S = 30.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    stack.add_arguments(parser)
    parser.add_argument("--seconds", type=float, default=30.0, help="how long idle CPU is measured")
    parser.add_argument("--rounds", type=int, default=2, help="times each setting is measured, in turn")
    parser.add_argument("--events", type=int, default=5, help="events sent one at a time after quiet spells")


def run(args: argparse.Namespace) -> int:
    measured: dict[str, list[dict[str, Any]]] = {name: [] for name in SETTINGS}
    bench = stack.BenchStack.from_arguments(args)
    quiet_s = bench.settings.source_idle_after_s + QUIET_MARGIN_S  # the same spells for both settings
    run_id = time.strftime("%Y%m%d%H%M%S")  # the stack's PostgreSQL keeps earlier runs' transactions
    try:
        for round_number in range(1, args.rounds + 1):
            for index, (name, idle_after) in enumerate(SETTINGS.items()):
                print(f"round {round_number}: {name}", flush=True)
                prefix = f"bench-idle-{run_id}-{round_number}-{index}-"
                measured[name].append(_measure(bench, idle_after, quiet_s, args, prefix))
    finally:
        os.environ.pop(IDLE_AFTER_VARIABLE, None)
        if not args.keep_stack:
            bench.down()
    return _report(measured, args)


def _measure(
    bench: stack.BenchStack, idle_after: str | None, quiet_s: float, args: argparse.Namespace, prefix: str
) -> dict[str, Any]:
    if idle_after is None:
        os.environ.pop(IDLE_AFTER_VARIABLE, None)
    else:
        os.environ[IDLE_AFTER_VARIABLE] = idle_after
    bench.restart()
    template = workload.created(workload.transactions(1)[0], api_key=bench.api_key)
    url = f"http://127.0.0.1:{bench.port('ingest')}/"
    warm = [_send(url, template, f"{prefix}warm-{index}") for index in range(WARM_UP_EVENTS)]
    _latencies(bench.settings.database_url, warm)
    latencies = []
    for index in range(args.events):
        time.sleep(quiet_s)
        [latency] = _latencies(bench.settings.database_url, [_send(url, template, f"{prefix}after-quiet-{index}")])
        latencies.append(latency)
        print(f"  after {quiet_s:g} s quiet: {latency:.1f} ms from ingest to PostgreSQL", flush=True)
    pids = bench.pids()
    before = processes.cpu_seconds_by_name(pids)
    time.sleep(args.seconds)
    spent = processes.cpu_seconds_since(before, pids)
    share = {name: round(100 * seconds / args.seconds, 2) for name, seconds in spent.items()}
    print(f"  idle: broker {share.get('broker')} %, everything {sum(share.values()):.1f} % of a core", flush=True)
    return {"latencies_ms": latencies, "idle_cpu_percent": share}


def _send(url: str, template: workload.Template, transaction_id: str) -> str:
    answer = requests.post(url, data=template.render(transaction_id), headers=template.headers, timeout=10)
    answer.raise_for_status()
    return transaction_id


def _latencies(database_url: str, transaction_ids: list[str]) -> list[float]:
    """Each transaction's ms from ingest to PostgreSQL, once all are stored."""
    deadline = time.monotonic() + STORED_TIMEOUT_S
    with psycopg.connect(database_url, autocommit=True) as conn:
        while True:
            rows = conn.execute(
                "SELECT transaction_id, extract(epoch FROM persisted_at - received_at) * 1000"
                " FROM transactions WHERE transaction_id = ANY(%s)",
                (transaction_ids,),
            ).fetchall()
            if len(rows) == len(transaction_ids):
                found = dict(rows)
                return [float(found[transaction_id]) for transaction_id in transaction_ids]
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(transaction_ids) - len(rows)} event(s) not stored in {STORED_TIMEOUT_S:g} s")
            time.sleep(0.05)


def _report(measured: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> int:
    table = Table(
        f"The idle stack: CPU over {args.seconds:g} s of idleness (medians of {args.rounds} rounds), and "
        f"{args.events} events each sent after a quiet spell, ingest → PostgreSQL",
        ["dispatchers", "broker % of a core", "dispatchers %", "everything %", "after quiet: p50 ms", "max ms"],
    )
    summary: dict[str, dict[str, float]] = {}
    for name, rounds in measured.items():
        latencies = [value for one in rounds for value in one["latencies_ms"]]
        row = {
            "broker": statistics.median(one["idle_cpu_percent"].get("broker", 0.0) for one in rounds),
            "dispatchers": statistics.median(
                sum(share for process, share in one["idle_cpu_percent"].items() if process in stack.DISPATCHERS)
                for one in rounds
            ),
            "everything": statistics.median(sum(one["idle_cpu_percent"].values()) for one in rounds),
            "p50_ms": round(statistics.median(latencies), 1),
            "max_ms": round(max(latencies), 1),
        }
        summary[name] = row
        table.add(
            name, row["broker"], round(row["dispatchers"], 2), round(row["everything"], 1), row["p50_ms"], row["max_ms"]
        )
    fetching, backing_off = (summary[name] for name in SETTINGS)
    document = {
        "settings": {"seconds": args.seconds, "rounds": args.rounds, "events": args.events},
        "measured": measured,
        "summary": summary,
        "broker_idle_cpu_ratio": ratio(backing_off["broker"], fetching["broker"]),
        "everything_idle_cpu_ratio": ratio(backing_off["everything"], fetching["everything"]),
    }
    save("idle", document, [table], publish=args.publish)
    return 0
