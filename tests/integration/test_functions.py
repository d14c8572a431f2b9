"""Each function against the real PostgreSQL, Redis and KafkaSink ingress of the test stack.

The functions run in-process here (as functions-framework would call them), so
a test can point one at a dependency that is down, or call it twice with the
same event as an at-least-once dispatcher would.
"""

from __future__ import annotations

import dataclasses
import json

import psycopg
import pytest
from support import (
    InProcess,
    RecordingSink,
    Reply,
    a_champion_score,
    a_traceparent,
    a_transaction,
    created_event,
    free_port,
    signed_scored,
)

from functions.alert import main as alert_function
from functions.ingest import main as ingest_function
from functions.persist import main as persist_function
from functions.score import main as score_function
from sentinel.codec import http
from sentinel.codec.event import Event
from sentinel.core import events
from sentinel.core.idempotency import fingerprint
from sentinel.stack import client_key
from sentinel.stores import redis_client
from sentinel.stores.api_keys import ApiKeyStore
from sentinel.stores.dedup import KEY_PREFIX

pytestmark = pytest.mark.stack


def closed_port_url(scheme: str, path: str = "") -> str:
    return f"{scheme}://127.0.0.1:{free_port()}{path}"


@pytest.fixture
def settings(stack):
    return stack.settings


@pytest.fixture
def running(stack):
    """Start functions in-process and stop them after the test; they are called with the stack's key."""
    started: list[InProcess] = []

    def start(new, settings, api_key=stack.api_key):
        served = InProcess(new, settings, api_key=api_key)
        started.append(served)
        return served

    yield start
    for served in started:
        served.stop()


def ingress_sink(stack) -> str:
    return stack.url("kafka-sink-ingress") + "/sentinel/sentinel-transactions"


def scored_event_for(stack, running, transaction) -> Event:
    """A real scored event, produced by the score function with the champion model.

    Score emits it to a sink of the test's own, not the stack's: through the stack's
    pipeline, persist and alert would store it before the test hands it to them."""
    sink = RecordingSink()
    try:
        score = running(score_function.new, dataclasses.replace(stack.settings, k_sink=sink.url))
        response = score.post(created_event(transaction))
    finally:
        sink.stop()
    assert response.status_code == 200, response.text
    [event] = http.read_events(response.headers, response.content)
    return event


# -- ingest -----------------------------------------------------------------


def test_a_retry_after_a_failed_emit_is_accepted_not_duplicate(stack, settings, running):
    transaction = a_transaction()
    broken = running(ingest_function.new, dataclasses.replace(settings, k_sink=closed_port_url("http", "/sink")))
    failed = broken.post(created_event(transaction))
    assert failed.status_code == 503 and failed.json()["retryable"] is True
    healthy = running(ingest_function.new, dataclasses.replace(settings, k_sink=ingress_sink(stack)))
    retried = healthy.post(created_event(transaction))
    assert retried.status_code == 202
    assert retried.json() == {"accepted": [transaction["transaction_id"]], "duplicates": []}


def test_deduplication_survives_a_restart_of_ingest(stack, settings, running):
    transaction = a_transaction()
    first = running(ingest_function.new, dataclasses.replace(settings, k_sink=ingress_sink(stack)))
    assert first.post(created_event(transaction)).json()["accepted"]
    first.stop()
    restarted = running(ingest_function.new, dataclasses.replace(settings, k_sink=ingress_sink(stack)))
    assert restarted.post(created_event(transaction)).json()["duplicates"] == [transaction["transaction_id"]]


def test_ingest_answers_503_when_redis_is_down(stack, settings, running):
    ingest = running(
        ingest_function.new,
        dataclasses.replace(settings, k_sink=ingress_sink(stack), redis_url=closed_port_url("redis")),
    )
    response = ingest.post(created_event(a_transaction()))
    assert response.status_code == 503
    assert "Redis" in response.json()["error"]


def test_a_transaction_id_is_remembered_only_once_emitted(stack, settings, running):
    transaction = a_transaction()
    ingest = running(ingest_function.new, dataclasses.replace(settings, k_sink=ingress_sink(stack)))
    ingest.post(created_event(transaction))
    client = redis_client.connect(settings.redis_url)
    key = f"{KEY_PREFIX}{client_key.NAME}:{transaction['transaction_id']}"
    assert client.get(key) == b"emitted:" + fingerprint(transaction).encode()
    assert client.ttl(key) > settings.dedup_ttl_seconds - 60


# -- score ------------------------------------------------------------------


def test_score_without_a_champion_answers_503_saying_so(stack, settings, running):
    empty_url = stack.fresh_database("empty_registry")
    key_store = ApiKeyStore.connect(empty_url)
    key = key_store.create("empty-registry", ["score"], by="tests")
    key_store.close()
    score = running(
        score_function.new,
        dataclasses.replace(settings, database_url=empty_url, k_sink=closed_port_url("http")),
        api_key=key,
    )
    response = score.post(created_event(a_transaction()))
    assert response.status_code == 503
    assert "no champion" in response.json()["error"]
    readiness = score.request("/health/readiness", "GET")
    assert readiness.status_code == 503 and "no champion" in readiness.json()["reason"]


def test_score_emits_nothing_and_answers_503_when_the_sink_is_down(stack, settings, running):
    score = running(score_function.new, dataclasses.replace(settings, k_sink=closed_port_url("http")))
    assert score.post(created_event(a_transaction())).status_code == 503


# -- persist ----------------------------------------------------------------


def test_persist_stores_a_redelivered_event_once(stack, settings, running):
    transaction = a_transaction()
    scored = scored_event_for(stack, running, transaction)
    persist = running(persist_function.new, settings)
    first, second = persist.post(scored), persist.post(scored)
    assert first.json() == {"stored": [transaction["transaction_id"]], "duplicates": []}
    assert second.status_code == 200
    assert second.json() == {"stored": [], "duplicates": [transaction["transaction_id"]]}
    with psycopg.connect(settings.database_url) as conn:
        count = conn.execute(
            "SELECT count(*) FROM transactions WHERE transaction_id = %s", (transaction["transaction_id"],)
        ).fetchone()[0]
    assert count == 1


def test_persist_answers_503_when_postgresql_is_down(stack, settings, running):
    transaction = a_transaction()
    scored = scored_event_for(stack, running, transaction)
    down = dataclasses.replace(settings, database_url=f"postgresql://sentinel@127.0.0.1:{free_port()}/sentinel")
    response = running(persist_function.new, down).post(scored)
    assert response.status_code == 503
    assert "PostgreSQL" in response.json()["error"]


def test_persist_refuses_a_malformed_scored_event_with_400(stack, settings, running):
    bad = created_event({"transaction_id": "x"}, type=events.TRANSACTION_SCORED)
    response = running(persist_function.new, settings).post(bad)
    assert response.status_code == 400
    assert "risk_score" in {problem["field"] for problem in response.json()["problems"]}


# -- alert ------------------------------------------------------------------


def scored_with_decision(stack, running, decision: str):
    """A scored event as score emits it (the champion's, signed with the stack's key) decided `decision`."""
    transaction = a_transaction()
    decided = a_champion_score(stack.settings, transaction, decision)
    return signed_scored(decided, stack.settings.scored_signing_key), transaction["transaction_id"]


def test_alert_records_a_redelivered_block_once_in_postgresql_and_the_stream(stack, settings, running):
    event, transaction_id = scored_with_decision(stack, running, "block")
    alert = running(alert_function.new, settings)
    assert alert.post(event).json() == {"alerted": [transaction_id], "duplicates": []}
    assert alert.post(event).json() == {"alerted": [], "duplicates": [transaction_id]}
    with psycopg.connect(settings.database_url) as conn:
        rows = conn.execute("SELECT decision FROM alerts WHERE transaction_id = %s", (transaction_id,)).fetchall()
    assert rows == [("block",)]
    client = redis_client.connect(settings.redis_url)
    stream = [f for _, f in client.xrange(settings.alerts_stream) if f[b"transaction_id"].decode() == transaction_id]
    assert len(stream) == 1


def test_alert_ignores_an_approval(stack, settings, running):
    event, transaction_id = scored_with_decision(stack, running, "approve")
    assert running(alert_function.new, settings).post(event).json() == {"alerted": [], "duplicates": []}


def test_alert_answers_503_when_redis_is_down(stack, settings, running):
    event, _ = scored_with_decision(stack, running, "block")
    response = running(alert_function.new, dataclasses.replace(settings, redis_url=closed_port_url("redis"))).post(
        event
    )
    assert response.status_code == 503


def with_webhook(settings, url: str):
    """`settings` posting alerts to `url`, a plain-http receiver on this host."""
    return dataclasses.replace(settings, alert_webhook_url=url, webhook_allow_http=True)


@pytest.fixture
def webhook():
    receiver = RecordingSink()
    yield receiver
    receiver.stop()


def test_alert_posts_each_new_alert_to_the_webhook_once(stack, settings, running, webhook):
    event, transaction_id = scored_with_decision(stack, running, "block")
    alert = running(alert_function.new, with_webhook(settings, webhook.url))
    alert.post(event)
    alert.post(event)
    [delivered] = webhook.received
    assert json.loads(delivered.body)["transaction_id"] == transaction_id
    assert json.loads(delivered.body)["decision"] == "block"


def test_the_webhook_post_carries_the_trace_of_the_scored_event(stack, settings, running, webhook):
    """W3C Trace Context §3.2: the receiver can continue the trace from the traceparent header."""
    event, _ = scored_with_decision(stack, running, "block")
    traceparent, trace_id = a_traceparent()
    running(alert_function.new, with_webhook(settings, webhook.url)).post(
        event.with_extensions({"traceparent": traceparent})
    )
    [delivered] = webhook.received
    assert delivered.headers["traceparent"].split("-")[1] == trace_id


def test_a_failing_webhook_makes_alert_retryable_until_it_is_delivered(stack, settings, running, webhook):
    event, transaction_id = scored_with_decision(stack, running, "block")
    webhook.script(Reply(status=500))
    alert = running(alert_function.new, with_webhook(settings, webhook.url))
    assert alert.post(event).status_code == 503
    assert alert.post(event).status_code == 200
    assert alert.post(event).status_code == 200
    assert len(webhook.received) == 2
    with psycopg.connect(settings.database_url) as conn:
        delivered = conn.execute(
            "SELECT webhook_delivered_at FROM alerts WHERE transaction_id = %s", (transaction_id,)
        ).fetchone()[0]
    assert delivered is not None
