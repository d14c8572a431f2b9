"""Forged events between hops, against the running stack: each is now refused; the real pipeline still works.

Before signatures, anyone who reached persist, alert or the KafkaSink ingress could write
a "scored" event of their own (persist and alert checked only its shape, and the first
write wins, so a forged approve replaced the genuine block that followed), and anyone who
reached score could post a `transaction.received` event without a key. Now score's
decisions carry an HMAC only score, persist and alert can make, ingest's transactions one
only ingest and score can make (docs/eventing.md, "Integrity").
"""

from __future__ import annotations

import dataclasses
import json
import time

import psycopg
import pytest
import requests
from psycopg.rows import dict_row
from support import (
    InProcess,
    RecordingSink,
    a_champion_score,
    a_transaction,
    blocked_features,
    created_event,
    post_binary,
    signed_scored,
    wait_for,
)

from functions.alert import main as alert_function
from sentinel.codec import http
from sentinel.codec.event import Event, json_event
from sentinel.core import events, webhook_signature

pytestmark = pytest.mark.stack

FORGER_KEY = "a key the attacker made up"
SETTLE_S = 3.0  # long enough for the dispatchers to deliver what was written before


def scored_ingress(stack) -> str:
    return stack.url("kafka-sink-ingress") + "/sentinel/sentinel-scored"


def post_event(url: str, event: Event, key: str | None = None) -> requests.Response:
    headers, body = http.binary(event)
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return requests.post(url, data=body, headers=headers, timeout=15)


def rows(stack, table: str, transaction_id: str) -> list[dict]:
    with psycopg.connect(stack.settings.database_url, row_factory=dict_row) as conn:
        query = f"SELECT * FROM {table} WHERE transaction_id = %s"  # table: "transactions" or "alerts"
        return conn.execute(query, (transaction_id,)).fetchall()


def dead_letters_of(stack, event_id: str) -> list[dict]:
    listed = stack.sentinel("dlq", "list", "--json", "--limit", "1000")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    return [letter for letter in json.loads(listed.stdout)["dead_letters"] if letter["event_id"] == event_id]


def forged(stack, transaction: dict, decision: str) -> Event:
    """What an attacker writes: well formed and consistent with the champion, signed with their own key."""
    return signed_scored(a_champion_score(stack.settings, transaction, decision), FORGER_KEY)


def test_a_forged_decision_posted_to_persist_is_refused_and_not_stored(stack):
    """Attack: whoever reaches persist stores an approve of their own."""
    transaction = a_transaction()
    response = post_event(stack.url("persist"), forged(stack, transaction, "approve"))
    assert response.status_code == 403, response.text
    assert rows(stack, "transactions", transaction["transaction_id"]) == []


def test_an_unsigned_decision_posted_to_persist_is_refused(stack):
    """Attack: whoever reaches persist stores an event that merely looks like score's."""
    transaction = a_transaction()
    response = post_event(stack.url("persist"), signed_scored(a_champion_score(stack.settings, transaction), None))
    assert response.status_code == 403
    assert rows(stack, "transactions", transaction["transaction_id"]) == []


def test_a_forged_block_posted_to_alert_raises_no_alert(stack):
    """Attack: whoever reaches alert floods the analysts with blocks of their own."""
    transaction = a_transaction()
    response = post_event(stack.url("alert"), forged(stack, transaction, "block"))
    assert response.status_code == 403
    assert rows(stack, "alerts", transaction["transaction_id"]) == []


def test_a_forged_decision_written_through_the_kafka_sink_is_dead_lettered_by_persist_and_alert(stack):
    """Attack: whoever reaches the KafkaSink ingress writes a decision into sentinel.scored."""
    transaction = a_transaction()
    assert post_event(scored_ingress(stack), forged(stack, transaction, "block")).status_code == 202
    letters = wait_for(
        lambda: len(found := dead_letters_of(stack, transaction["transaction_id"])) == 2 and found,
        timeout=60,
        every=0.5,
        what="the forged decision dead-lettered by persist and alert",
    )
    assert {letter["error_code"] for letter in letters} == {403}
    assert {letter["destination"] for letter in letters} == {stack.url("persist"), stack.url("alert")}
    assert rows(stack, "transactions", transaction["transaction_id"]) == []
    assert rows(stack, "alerts", transaction["transaction_id"]) == []


def test_a_forged_approve_written_before_the_genuine_block_does_not_replace_it(stack):
    """Attack: write an approve for a fraudulent transaction just before submitting it, so first-write-wins
    stores the approve and the genuine block that follows is a duplicate."""
    transaction = a_transaction(**blocked_features(stack.settings))
    assert post_event(scored_ingress(stack), forged(stack, transaction, "approve")).status_code == 202
    time.sleep(SETTLE_S)
    assert post_binary(stack.url("ingest") + "/", created_event(transaction), key=stack.api_key).status_code == 202
    [row] = wait_for(lambda: rows(stack, "transactions", transaction["transaction_id"]), what="the genuine decision")
    assert row["decision"] == "block"
    [alert] = wait_for(lambda: rows(stack, "alerts", transaction["transaction_id"]), what="the genuine alert")
    assert alert["decision"] == "block"


def received(transaction: dict) -> Event:
    data = {**transaction, "received_at": events.utc_now(), "client_id": "demo"}
    return json_event(events.transaction_attributes(events.TRANSACTION_RECEIVED, "/attacker", data), data)


def test_an_unsigned_received_event_posted_to_score_without_a_key_is_refused(stack):
    """Attack: whoever reaches score has it decide (and emit) transactions ingest never accepted."""
    response = post_event(stack.url("score") + "/", received(a_transaction()))
    assert response.status_code == 403, response.text


def test_an_unsigned_received_event_written_to_the_transactions_topic_is_never_decided(stack):
    """Attack: whoever reaches the KafkaSink ingress skips ingest's checks and de-duplication."""
    transaction = a_transaction()
    sink = stack.url("kafka-sink-ingress") + "/sentinel/sentinel-transactions"
    assert post_event(sink, received(transaction)).status_code == 202
    [letter] = wait_for(
        lambda: dead_letters_of(stack, transaction["transaction_id"]), timeout=60, every=0.5, what="dead letter"
    )
    assert (letter["destination"], letter["error_code"]) == (stack.url("score"), 403)
    assert rows(stack, "transactions", transaction["transaction_id"]) == []


def test_the_genuine_pipeline_still_stores_and_alerts(stack):
    """Positive path: a transaction through ingest, with a valid key, is decided, stored and alerted."""
    transaction = a_transaction(**blocked_features(stack.settings))
    assert post_binary(stack.url("ingest") + "/", created_event(transaction), key=stack.api_key).status_code == 202
    [row] = wait_for(lambda: rows(stack, "transactions", transaction["transaction_id"]), what="stored decision")
    assert row["decision"] == "block"
    wait_for(lambda: rows(stack, "alerts", transaction["transaction_id"]), what="alert")


def test_alert_webhooks_are_signed_so_a_receiver_can_refuse_anyone_else(stack):
    """Attack: whoever knows the webhook's URL posts alerts of their own to it; the receiver
    verifies Sentinel-Signature with the deployment's secret and refuses what it does not verify."""
    receiver = RecordingSink()
    settings = dataclasses.replace(stack.settings, alert_webhook_url=receiver.url, webhook_allow_http=True)
    alert = InProcess(alert_function.new, settings)
    try:
        transaction = a_transaction()
        decided = a_champion_score(stack.settings, transaction, "block")
        response = alert.post(signed_scored(decided, stack.settings.scored_signing_key))
        assert response.status_code == 200, response.text
        [request] = receiver.received
        secret = stack.settings.webhook_secret
        signature = request.headers["sentinel-signature"]
        assert webhook_signature.verifies(secret, signature, request.body, time.time())
        assert not webhook_signature.verifies(secret, signature, request.body.replace(b"block", b"review"), time.time())
    finally:
        alert.stop()
        receiver.stop()
