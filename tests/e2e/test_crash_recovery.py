"""Nothing is lost and nothing is doubled while processes die and dependencies go away.

Streams 2,000 transactions (some re-sent, some fraud-like) plus a few poison
records through the real stack while every function, a dispatcher and the
ingress are killed with SIGKILL, PostgreSQL is stopped and started, and Redis
is stopped and started. Then checks PostgreSQL, the Redis alert stream and
the dead-letter topic against what was sent.
"""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
import requests
from cloudevents.conversion import to_binary
from confluent_kafka import Consumer, Producer, TopicPartition
from requests.adapters import HTTPAdapter
from support import bearer, wait_for

from sentinel.cli.demo_traffic import created_event, plan_traffic
from sentinel.core import events
from sentinel.stores import redis_client

pytestmark = pytest.mark.stack

TRANSACTIONS = 2_000
RATE = 100.0
POISON_PLAIN = 5
POISON_INVALID = 5
DLQ = "sentinel.dlq"


@dataclass
class Outcomes:
    """What the clients were told. An attempt cut off by a crash has no answer: ingest
    may have accepted it, and then the client's retry is rightly told it is a duplicate."""

    accepted: set[str] = field(default_factory=set)
    duplicates: int = 0
    unanswered: set[str] = field(default_factory=set)
    retries: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def submit_until_answered(session: requests.Session, url: str, transaction: dict, outcomes: Outcomes) -> None:
    """What a payment system's client does: retry 409, 503 and broken connections until ingest answers."""
    deadline = time.monotonic() + 180
    while True:
        headers, body = to_binary(created_event(transaction))
        try:
            response = session.post(url, data=body, headers=headers, timeout=15)
        except requests.RequestException:
            response = None
            with outcomes.lock:
                outcomes.unanswered.add(transaction["transaction_id"])
        if response is not None and response.status_code == 202:
            answer = response.json()
            with outcomes.lock:
                if answer["accepted"]:
                    outcomes.accepted.add(transaction["transaction_id"])
                else:
                    outcomes.duplicates += 1
            return
        assert response is None or response.status_code in (409, 503), response.text
        assert time.monotonic() < deadline, f"{transaction['transaction_id']} never accepted"
        with outcomes.lock:
            outcomes.retries += 1
        time.sleep(0.2)


def stream(url: str, api_key: str, transactions: list[dict], outcomes: Outcomes) -> None:
    session = requests.Session()
    session.headers.update(bearer(api_key))
    session.mount("http://", HTTPAdapter(pool_maxsize=16))
    started = time.monotonic()

    def send(index: int, transaction: dict) -> None:
        time.sleep(max(0.0, started + index / RATE - time.monotonic()))
        submit_until_answered(session, url, transaction, outcomes)

    with ThreadPoolExecutor(max_workers=16) as pool:
        for future in [pool.submit(send, i, t) for i, t in enumerate(transactions)]:
            future.result()


def inject_faults(stack, log: list[str]) -> None:
    """SIGKILL each function, a dispatcher and the ingress; stop and start PostgreSQL and Redis."""

    def kill(name: str) -> None:
        """SIGKILL the component's whole process tree (gunicorn's workers too), as a container dies."""
        [status] = [item for item in json.loads(stack.sentinel("status", "--json").stdout) if item["name"] == name]
        tree = process_tree(status["pid"])
        for pid in tree:
            os.kill(pid, signal.SIGKILL)
        log.append(f"killed {name} ({len(tree)} processes)")

    def outage(name: str, seconds: float) -> None:
        assert stack.sentinel("down", name).returncode == 0
        log.append(f"stopped {name}")
        time.sleep(seconds)
        result = stack.sentinel("up", timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
        log.append(f"started {name} again")

    for name in ("ingest", "score", "persist", "alert", "score-source", "kafka-sink-ingress"):
        time.sleep(1.5)
        kill(name)
    time.sleep(1.5)
    outage("postgres", 4)
    time.sleep(1.5)
    outage("redis", 4)


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [pid, *(descendant for child in children for descendant in process_tree(int(child)))]


def produce_poison(bootstrap: str) -> set[str]:
    """Records that can never be scored, written straight to the topic as a buggy producer would.

    Returns the ids their dead-lettered events will carry."""
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    expected: set[str] = set()

    def remember_position(error, message) -> None:
        assert error is None
        expected.add(f"partition:{message.partition()}/offset:{message.offset()}")

    for _ in range(POISON_PLAIN):
        producer.produce("sentinel.transactions", value=b'{"not": "a cloudevent"}', on_delivery=remember_position)
    for _ in range(POISON_INVALID):
        event_id = f"poison-{uuid.uuid4().hex[:12]}"
        expected.add(event_id)
        headers = [
            ("ce_specversion", b"1.0"),
            ("ce_id", event_id.encode()),
            ("ce_source", b"/buggy/producer"),
            ("ce_type", events.TRANSACTION_RECEIVED.encode()),
            ("content-type", b"application/json"),
        ]
        producer.produce(
            "sentinel.transactions",
            value=b'{"transaction_id": "x", "Amount": -1}',
            headers=headers,
        )
    assert producer.flush(15) == 0
    return expected


def dlq_events_since(bootstrap: str, start: int) -> list[dict[str, str]]:
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"tests-{uuid.uuid4().hex}", "enable.auto.commit": False}
    )
    try:
        consumer.assign([TopicPartition(DLQ, 0, start)])
        found, quiet_since = [], time.monotonic()
        while time.monotonic() - quiet_since < 2:
            message = consumer.poll(0.2)
            if message is None or message.error():
                continue
            quiet_since = time.monotonic()
            found.append({key: value.decode() for key, value in (message.headers() or [])})
        return found
    finally:
        consumer.close()


def test_nothing_is_lost_or_doubled_through_crashes_and_outages(stack):
    bootstrap = stack.settings.kafka_bootstrap_servers
    dlq_start = len(dlq_events_since(bootstrap, 0))
    transactions = plan_traffic(TRANSACTIONS, seed=random.randrange(1_000_000), fraud_share=0.05, duplicate_share=0.03)
    outcomes, faults = Outcomes(), []
    started = time.monotonic()

    fault_thread = threading.Thread(target=inject_faults, args=(stack, faults))
    fault_thread.start()
    poison = produce_poison(bootstrap)
    stream(stack.url("ingest") + "/", stack.api_key, transactions, outcomes)
    fault_thread.join()
    sent_for = time.monotonic() - started

    sent_ids = sorted({t["transaction_id"] for t in transactions})

    def stored() -> list[tuple[str, str]]:
        with psycopg.connect(stack.settings.database_url) as conn:
            return conn.execute(
                "SELECT transaction_id, decision FROM transactions WHERE transaction_id = ANY(%s)", (sent_ids,)
            ).fetchall()

    def drained() -> bool:
        return len(stored()) == len(sent_ids) and len(dlq_events_since(bootstrap, dlq_start)) >= len(poison)

    wait_for(drained, timeout=300, every=1.0, what="every transaction stored and every poison dead-lettered")
    drain_seconds = time.monotonic() - started - sent_for
    rows = stored()
    alerting = {tid for tid, decision in rows if decision in ("review", "block")}

    def alerts() -> list[str]:
        with psycopg.connect(stack.settings.database_url) as conn:
            return [
                r[0]
                for r in conn.execute(
                    "SELECT transaction_id FROM alerts WHERE transaction_id = ANY(%s)", (sent_ids,)
                ).fetchall()
            ]

    wait_for(lambda: set(alerts()) == alerting, timeout=120, every=1.0, what="every alert recorded")
    streamed = [
        fields[b"transaction_id"].decode()
        for _, fields in redis_client.connect(stack.settings.redis_url).xrange(stack.settings.alerts_stream)
        if fields[b"transaction_id"].decode() in alerting
    ]
    dead = dlq_events_since(bootstrap, dlq_start)

    print(
        f"\nsent {len(transactions)} transactions + {len(poison)} poison records in {sent_for:.1f}s "
        f"({outcomes.retries} client retries): {len(outcomes.accepted)} answered accepted, "
        f"{outcomes.duplicates} answered duplicate ({len(set(sent_ids) - outcomes.accepted)} of them accepted by an "
        f"attempt whose answer a crash cut off), persisted {len(rows)}, alerts {len(alerting)}, "
        f"dead-lettered {len(dead)}, "
        f"drained {drain_seconds:.1f}s after the last send\nfaults: {'; '.join(faults)}"
    )
    assert sorted(tid for tid, _ in rows) == sent_ids
    assert set(sent_ids) - outcomes.accepted <= outcomes.unanswered
    assert len(outcomes.accepted) + outcomes.duplicates == len(transactions)
    assert sorted(alerts()) == sorted(alerting)
    assert sorted(streamed) == sorted(alerting)
    assert {event["ce_id"] for event in dead} == poison
    assert len(dead) == len(poison)
    for event in dead:
        # Not a CloudEvent: 400. A received event no ingest signed: 403 (docs/eventing.md, "Integrity").
        assert event["ce_knativeerrorcode"] == ("403" if event["ce_id"].startswith("poison-") else "400")
        assert event["ce_knativeerrordest"].startswith(stack.url("score"))
        assert event["ce_knativeerrordata"]
    statuses = {item["name"]: item for item in json.loads(stack.sentinel("status", "--json").stdout)}
    for name in ("ingest", "score", "persist", "alert", "score-source", "kafka-sink-ingress"):
        assert statuses[name]["restarts"] >= 1, f"{name} was not restarted"
    assert all(item["healthy"] for item in statuses.values())
