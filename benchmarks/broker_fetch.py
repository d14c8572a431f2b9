"""Broker fetch: the local broker's CPU and the hop's latency for each fetch wait, fetch size and linger
the dispatchers and the ingress could use.

Only what the broker sees: tansu started as the stack starts it, one topic of six
partitions, and three consumer groups (as the three KafkaSource dispatchers) with the
dispatchers' own consumer settings except `fetch.wait.max.ms` and `fetch.min.bytes`.
For each combination of `--waits`, `--min-bytes` and `--lingers`, in turn and
`--rounds` times over: the broker's CPU while everything is idle, then its CPU per
event and each record's time from produce to consume while `--rate` records/s are
produced by the ingress's producer settings except `linger.ms`. tansu answers a
fetch that finds nothing only when its wait runs out, so the wait trades latency at
low rates for fewer fetches, each of which costs the broker CPU; a minimum fetch size
and a longer linger would make fewer, fuller fetches and produce requests.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import subprocess
import threading
import time
from typing import Any

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from benchmarks import processes
from benchmarks.report import Table, percentiles_ms, save
from eventing.kafka_clients import FETCH_WAIT_MAX_MS, LINGER_MS, consumer_config, producer_config
from sentinel.stack.components import broker_command

TOPIC = "bench.fetch"
PARTITIONS = 6
GROUPS = 3
WARM_UP_S = 3.0
TIMESTAMP_BYTES = 24  # each record's value starts with its send time, padded to this many bytes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--waits", default=f"20,{FETCH_WAIT_MAX_MS},50", help="fetch.wait.max.ms, comma-separated")
    parser.add_argument("--min-bytes", default="1", help="the consumers' fetch.min.bytes, comma-separated")
    parser.add_argument("--lingers", default=str(LINGER_MS), help="the producer's linger.ms, comma-separated")
    parser.add_argument(
        "--record-bytes", type=int, default=TIMESTAMP_BYTES, help="each record's size (a received transaction: ~1,500)"
    )
    parser.add_argument("--rate", type=float, default=150.0, help="records/s produced while measuring")
    parser.add_argument("--seconds", type=float, default=12.0, help="each idle and each loaded measurement")
    parser.add_argument("--rounds", type=int, default=2, help="times each wait is measured, in turn")
    parser.add_argument("--port", type=int, default=23192, help="the broker's port")


def run(args: argparse.Namespace) -> int:
    variants = list(itertools.product(*(_integers(text) for text in (args.waits, args.min_bytes, args.lingers))))
    measured: dict[tuple[int, int, int], list[dict[str, Any]]] = {variant: [] for variant in variants}
    for round_number in range(1, args.rounds + 1):
        for variant in variants:
            wait, min_bytes, linger = variant
            print(f"round {round_number}: fetch wait {wait} ms, min bytes {min_bytes}, linger {linger} ms", flush=True)
            measured[variant].append(_measure(variant, args))
    table = Table(
        f"The local broker by fetch wait, fetch size and linger: {GROUPS} groups on {PARTITIONS} partitions, "
        f"{args.rate:g} records/s of {args.record_bytes:,} bytes, medians of {args.rounds} rounds",
        ["fetch wait ms", "min bytes", "linger ms", "idle CPU % of a core", "CPU ms/event", "hop p50 ms", "hop p99 ms"],
    )
    for variant, rounds in measured.items():
        table.add(
            *variant, *(statistics.median(one[key] for one in rounds) for key in ("idle", "per_event", "p50", "p99"))
        )
    settings = {"rate": args.rate, "seconds": args.seconds, "rounds": args.rounds, "record_bytes": args.record_bytes}
    document = {
        "settings": settings,
        "measured": [
            {"fetch_wait_ms": wait, "min_bytes": min_bytes, "linger_ms": linger, "rounds": rounds}
            for (wait, min_bytes, linger), rounds in measured.items()
        ],
    }
    save("broker_fetch", document, [table], publish=args.publish)
    return 0


def _integers(text: str) -> list[int]:
    return [int(value) for value in text.split(",")]


def _measure(variant: tuple[int, int, int], args: argparse.Namespace) -> dict[str, float]:
    """One fresh broker: idle CPU with the groups polling, then CPU per event and latency under load."""
    wait, min_bytes, linger = variant
    servers = f"127.0.0.1:{args.port}"
    broker = subprocess.Popen(broker_command(args.port), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stop = threading.Event()
    consumers: list[threading.Thread] = []
    try:
        processes.wait_port(args.port, broker)
        admin = AdminClient({"bootstrap.servers": servers})
        admin.create_topics([NewTopic(TOPIC, PARTITIONS, 1)])[TOPIC].result()
        latencies: list[list[float]] = [[] for _ in range(GROUPS)]
        for group in range(GROUPS):
            consumer = threading.Thread(
                target=_consume,
                args=(servers, group, {"fetch.wait.max.ms": wait, "fetch.min.bytes": min_bytes}),
                kwargs={"latencies": latencies[group], "stop": stop},
            )
            consumer.start()
            consumers.append(consumer)
        producer = Producer(
            {**producer_config(servers, delivery_timeout_s=30, client_id="bench-fetch"), "linger.ms": linger}
        )
        padding = b" " * max(args.record_bytes - TIMESTAMP_BYTES, 0)
        _produce(producer, rate=50, seconds=WARM_UP_S, padding=padding)  # groups assigned and fetching, metadata known
        _wait_for(lambda: all(len(seen) >= WARM_UP_S * 50 for seen in latencies), "every group to catch up")
        idle = _cpu_share(broker.pid, args.seconds)
        for seen in latencies:
            seen.clear()
        before = processes.tree_cpu_seconds(broker.pid)
        sent = _produce(producer, rate=args.rate, seconds=args.seconds, padding=padding)
        _wait_for(lambda: all(len(seen) >= sent for seen in latencies), "every record consumed")
        per_event = (processes.tree_cpu_seconds(broker.pid) - before) * 1000 / sent
        hop = percentiles_ms([value for seen in latencies for value in seen])
        return {"idle": 100 * idle, "per_event": per_event, "p50": hop["p50_ms"], "p99": hop["p99_ms"]}
    finally:
        stop.set()
        for consumer in consumers:
            consumer.join()
        broker.terminate()
        broker.wait()


def _consume(
    servers: str, group: int, overrides: dict[str, int], *, latencies: list[float], stop: threading.Event
) -> None:
    settings = consumer_config(servers, f"fetch-{group}", initial_offset="earliest", client_id=f"fetch-{group}")
    consumer = Consumer({**settings, **overrides})
    consumer.subscribe([TOPIC])
    while not stop.is_set():
        record = consumer.poll(0.05)
        if record is not None and record.error() is None:
            latencies.append(time.time() - float(record.value()[:TIMESTAMP_BYTES]))
    consumer.close()


def _produce(producer: Producer, *, rate: float, seconds: float, padding: bytes) -> int:
    started, sent = time.monotonic(), 0
    while (elapsed := time.monotonic() - started) < seconds:
        while sent < elapsed * rate:
            stamp = repr(time.time()).ljust(TIMESTAMP_BYTES).encode()
            producer.produce(TOPIC, key=str(sent).encode(), value=stamp + padding)
            sent += 1
        producer.poll(0)
        time.sleep(0.002)
    producer.flush(30)
    return sent


def _cpu_share(pid: int, seconds: float) -> float:
    before = processes.tree_cpu_seconds(pid)
    time.sleep(seconds)
    return (processes.tree_cpu_seconds(pid) - before) / seconds


def _wait_for(done: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise RuntimeError(f"gave up waiting for {what}")
        time.sleep(0.1)
