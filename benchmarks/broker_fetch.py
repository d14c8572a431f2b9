"""Broker fetch: the local broker's CPU and the hop's latency for each fetch wait the dispatchers could use.

Only what the broker sees: tansu started as the stack starts it, one topic of six
partitions, and three consumer groups (as the three KafkaSource dispatchers) with the
dispatchers' own consumer settings except `fetch.wait.max.ms`. For each wait, in
turn and `--rounds` times over: the broker's CPU while everything is idle, then its
CPU per event and each record's time from produce to consume while `--rate`
records/s are produced by the ingress's producer settings. tansu answers a fetch
that finds nothing only when its wait runs out, so the wait trades latency at low
rates for fewer fetches, each of which costs the broker CPU.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import threading
import time
from typing import Any

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from benchmarks import processes
from benchmarks.report import Table, percentiles_ms, save
from eventing.kafka_clients import FETCH_WAIT_MAX_MS, consumer_config, producer_config
from sentinel.stack.components import broker_command

TOPIC = "bench.fetch"
PARTITIONS = 6
GROUPS = 3
WARM_UP_S = 3.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--waits", default=f"20,{FETCH_WAIT_MAX_MS},50", help="fetch.wait.max.ms, comma-separated")
    parser.add_argument("--rate", type=float, default=150.0, help="records/s produced while measuring")
    parser.add_argument("--seconds", type=float, default=12.0, help="each idle and each loaded measurement")
    parser.add_argument("--rounds", type=int, default=2, help="times each wait is measured, in turn")
    parser.add_argument("--port", type=int, default=23192, help="the broker's port")


def run(args: argparse.Namespace) -> int:
    waits = [int(value) for value in args.waits.split(",")]
    measured: dict[int, list[dict[str, Any]]] = {wait: [] for wait in waits}
    for round_number in range(1, args.rounds + 1):
        for wait in waits:
            print(f"round {round_number}: fetch wait {wait} ms", flush=True)
            measured[wait].append(_measure(wait, args))
    table = Table(
        f"The local broker by fetch wait: {GROUPS} groups on {PARTITIONS} partitions, {args.rate:g} records/s, "
        f"medians of {args.rounds} rounds",
        ["fetch wait ms", "idle CPU % of a core", "CPU ms/event", "hop p50 ms", "hop p99 ms"],
    )
    for wait, rounds in measured.items():
        table.add(wait, *(statistics.median(one[key] for one in rounds) for key in ("idle", "per_event", "p50", "p99")))
    settings = {"rate": args.rate, "seconds": args.seconds, "rounds": args.rounds}
    save("broker_fetch", {"settings": settings, "measured": measured}, [table], publish=args.publish)
    return 0


def _measure(wait: int, args: argparse.Namespace) -> dict[str, float]:
    """One fresh broker: idle CPU with the groups polling, then CPU per event and latency under load."""
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
            consumer = threading.Thread(target=_consume, args=(servers, group, wait, latencies[group], stop))
            consumer.start()
            consumers.append(consumer)
        producer = Producer(producer_config(servers, delivery_timeout_s=30, client_id="bench-fetch"))
        _produce(producer, rate=50, seconds=WARM_UP_S)  # groups assigned and fetching, metadata known
        _wait_for(lambda: all(len(seen) >= WARM_UP_S * 50 for seen in latencies), "every group to catch up")
        idle = _cpu_share(broker.pid, args.seconds)
        for seen in latencies:
            seen.clear()
        before = processes.tree_cpu_seconds(broker.pid)
        sent = _produce(producer, rate=args.rate, seconds=args.seconds)
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


def _consume(servers: str, group: int, wait: int, latencies: list[float], stop: threading.Event) -> None:
    settings = consumer_config(servers, f"fetch-{group}", initial_offset="earliest", client_id=f"fetch-{group}")
    consumer = Consumer({**settings, "fetch.wait.max.ms": wait})
    consumer.subscribe([TOPIC])
    while not stop.is_set():
        record = consumer.poll(0.05)
        if record is not None and record.error() is None:
            latencies.append(time.time() - float(record.value()))
    consumer.close()


def _produce(producer: Producer, *, rate: float, seconds: float) -> int:
    started, sent = time.monotonic(), 0
    while (elapsed := time.monotonic() - started) < seconds:
        while sent < elapsed * rate:
            producer.produce(TOPIC, key=str(sent).encode(), value=repr(time.time()).encode())
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
