"""A transaction's whole path through the real stack: ingest → Kafka → score → Kafka → persist and alert.

Every test talks to the stack `sentinel up` started: the tansu broker,
PostgreSQL, Redis, the four functions, the dispatchers and the ingress.
"""

from __future__ import annotations

import json

import psycopg
import pytest
import requests
from psycopg.rows import dict_row
from support import (
    a_transaction,
    bearer,
    blocked_features,
    created_event,
    post_batch,
    post_binary,
    post_structured,
    records_about,
    wait_for,
)

from sentinel.core import events
from sentinel.stack import client_key
from sentinel.stores import redis_client
from sentinel.stores.alerts import STREAMED_PREFIX
from sentinel.stores.dedup import KEY_PREFIX

pytestmark = pytest.mark.stack


def stored_rows(stack, transaction_id: str) -> list[dict]:
    with psycopg.connect(stack.settings.database_url, row_factory=dict_row) as conn:
        return conn.execute("SELECT * FROM transactions WHERE transaction_id = %s", (transaction_id,)).fetchall()


def alert_rows(stack, transaction_id: str) -> list[dict]:
    with psycopg.connect(stack.settings.database_url, row_factory=dict_row) as conn:
        return conn.execute("SELECT * FROM alerts WHERE transaction_id = %s", (transaction_id,)).fetchall()


def wait_for_row(stack, transaction_id: str) -> dict:
    [row] = wait_for(lambda: stored_rows(stack, transaction_id), what=f"row for {transaction_id}")
    return row


def ingest(stack) -> str:
    return stack.url("ingest") + "/"


@pytest.fixture
def fraud_like(stack):
    """A transaction the champion blocks, as the first of a user of its own."""
    return blocked_features(stack.settings)


def test_a_binary_mode_transaction_becomes_one_stored_decision(stack):
    transaction = a_transaction()
    response = post_binary(ingest(stack), created_event(transaction), key=stack.api_key)
    assert response.status_code == 202
    assert response.json() == {"accepted": [transaction["transaction_id"]], "duplicates": []}
    row = wait_for_row(stack, transaction["transaction_id"])
    assert 0 <= row["risk_score"] <= 1
    assert row["decision"] in ("approve", "review", "block")
    assert row["model_version"]
    assert row["payload"]["V1"] == transaction["V1"]


def test_a_structured_mode_transaction_is_stored(stack):
    transaction = a_transaction()
    assert post_structured(ingest(stack), created_event(transaction), key=stack.api_key).status_code == 202
    wait_for_row(stack, transaction["transaction_id"])


def test_a_batch_stores_every_transaction_in_it(stack):
    batch = [a_transaction(), a_transaction()]
    response = post_batch(ingest(stack), [created_event(item) for item in batch], key=stack.api_key)
    assert response.status_code == 202
    assert sorted(response.json()["accepted"]) == sorted(item["transaction_id"] for item in batch)
    for item in batch:
        wait_for_row(stack, item["transaction_id"])


def test_the_original_json_api_enters_the_same_path(stack):
    transaction = a_transaction()
    response = requests.post(
        stack.url("ingest") + "/api/v1/transactions", json=transaction, headers=bearer(stack.api_key), timeout=15
    )
    assert response.status_code == 202
    assert wait_for_row(stack, transaction["transaction_id"])["user_id"] == transaction["user_id"]


def test_records_are_keyed_by_user_so_a_users_events_stay_ordered(stack):
    transaction = a_transaction(user_id="u-keyed")
    post_binary(ingest(stack), created_event(transaction), key=stack.api_key)
    wait_for_row(stack, transaction["transaction_id"])
    [record] = records_about(
        stack.settings.kafka_bootstrap_servers, "sentinel.transactions", transaction["transaction_id"]
    )
    assert record["key"] == "u-keyed"
    assert record["ce_type"] == events.TRANSACTION_RECEIVED


def test_a_fraud_like_transaction_raises_exactly_one_alert(stack, fraud_like):
    transaction = a_transaction(**fraud_like)
    post_binary(ingest(stack), created_event(transaction), key=stack.api_key)
    row = wait_for_row(stack, transaction["transaction_id"])
    assert row["decision"] == "block"
    [alert] = wait_for(lambda: alert_rows(stack, transaction["transaction_id"]), what="alert row")
    assert (alert["decision"], alert["status"]) == ("block", "open")
    client = redis_client.connect(stack.settings.redis_url)

    def streamed() -> list[dict]:
        return [
            fields
            for _, fields in client.xrange(stack.settings.alerts_stream)
            if fields[b"transaction_id"].decode() == transaction["transaction_id"]
        ]

    # alert adds the row, then the stream entry: the row can be seen a moment before the entry.
    entries = wait_for(streamed, what="the alert on the stream")
    assert len(entries) == 1
    assert json.loads(entries[0][b"alert"])["decision"] == "block"
    assert client.exists(f"{STREAMED_PREFIX}{client_key.NAME}:{transaction['transaction_id']}")


def test_a_blocked_transaction_carries_its_reasons_and_behaviour_to_its_row_its_alert_and_the_stream(stack, fraud_like):
    transaction = a_transaction(**fraud_like)
    post_binary(ingest(stack), created_event(transaction), key=stack.api_key)
    row = wait_for_row(stack, transaction["transaction_id"])
    assert row["decision"] == "block" and 1 <= len(row["reasons"]) <= 3
    assert row["behaviour"]["user_previous_count"] == 0  # the first transaction of a new user
    [alert] = wait_for(lambda: alert_rows(stack, transaction["transaction_id"]), what="alert row")
    assert alert["reasons"] == row["reasons"]
    client = redis_client.connect(stack.settings.redis_url)
    [entry] = wait_for(
        lambda: [
            json.loads(fields[b"alert"])
            for _, fields in client.xrange(stack.settings.alerts_stream)
            if fields[b"transaction_id"].decode() == transaction["transaction_id"]
        ],
        what="the alert on the stream",
    )
    assert entry["reasons"] == row["reasons"]


def test_an_approved_transaction_raises_no_alert(stack):
    transaction = a_transaction()
    post_binary(ingest(stack), created_event(transaction), key=stack.api_key)
    assert wait_for_row(stack, transaction["transaction_id"])["decision"] == "approve"
    assert alert_rows(stack, transaction["transaction_id"]) == []


def test_a_duplicate_is_reported_and_never_scored_twice(stack):
    transaction = a_transaction()
    first = post_binary(ingest(stack), created_event(transaction), key=stack.api_key)
    second = post_binary(ingest(stack), created_event(transaction), key=stack.api_key)
    assert first.json()["accepted"] == [transaction["transaction_id"]]
    assert second.status_code == 202
    assert second.json() == {"accepted": [], "duplicates": [transaction["transaction_id"]]}
    wait_for_row(stack, transaction["transaction_id"])
    scored = records_about(stack.settings.kafka_bootstrap_servers, "sentinel.scored", transaction["transaction_id"])
    assert len(scored) == 1
    assert len(stored_rows(stack, transaction["transaction_id"])) == 1


def test_a_repeat_within_one_batch_is_a_duplicate(stack):
    transaction = a_transaction()
    response = post_batch(ingest(stack), [created_event(transaction), created_event(transaction)], key=stack.api_key)
    assert response.json() == {
        "accepted": [transaction["transaction_id"]],
        "duplicates": [transaction["transaction_id"]],
    }


@pytest.mark.parametrize(
    "change, field",
    [({"Amount": -5}, "Amount"), ({"V4": "NaN"}, "V4"), ({"V29": 1.0}, "V29"), ({"Amount": 1e12}, "Amount")],
)
def test_a_bad_transaction_gets_a_400_naming_the_field_and_leaves_no_trace(stack, change, field):
    transaction = a_transaction(**change)
    response = post_binary(ingest(stack), created_event(transaction), key=stack.api_key)
    assert response.status_code == 400
    assert field in {problem["field"] for problem in response.json()["problems"]}
    client = redis_client.connect(stack.settings.redis_url)
    assert not client.exists(f"{KEY_PREFIX}{client_key.NAME}:{transaction['transaction_id']}")
    assert (
        records_about(stack.settings.kafka_bootstrap_servers, "sentinel.transactions", transaction["transaction_id"])
        == []
    )
    assert stored_rows(stack, transaction["transaction_id"]) == []


def test_one_bad_event_in_a_batch_rejects_the_whole_batch(stack):
    good, bad = a_transaction(), a_transaction(Amount=-1)
    response = post_batch(ingest(stack), [created_event(good), created_event(bad)], key=stack.api_key)
    assert response.status_code == 400
    assert "event 1" in response.json()["problems"][0]["message"]
    assert records_about(stack.settings.kafka_bootstrap_servers, "sentinel.transactions", good["transaction_id"]) == []


def test_an_unknown_event_type_is_refused(stack):
    response = post_binary(
        ingest(stack), created_event(a_transaction(), type="dev.sentinel.nonsense"), key=stack.api_key
    )
    assert response.status_code == 400
    [problem] = response.json()["problems"]
    assert problem["field"] == "type" and "unsupported event type" in problem["message"]


def test_a_body_over_one_mebibyte_is_413(stack):
    headers = {
        "ce-specversion": "1.0",
        "ce-id": "big",
        "ce-source": "/t",
        "ce-type": events.TRANSACTION_CREATED,
        "Content-Type": "application/json",
        **bearer(stack.api_key),
    }
    response = requests.post(ingest(stack), data=b" " * (1024 * 1024 + 10), headers=headers, timeout=15)
    assert response.status_code == 413


def test_a_wrong_content_type_is_415(stack):
    response = requests.post(
        ingest(stack), data="a,b,c", headers={"Content-Type": "text/csv", **bearer(stack.api_key)}, timeout=15
    )
    assert response.status_code == 415


def test_ingest_keeps_serving_after_bad_input(stack):
    headers = {"Content-Type": "application/cloudevents+json", **bearer(stack.api_key)}
    requests.post(ingest(stack), data="{", headers=headers, timeout=15)
    transaction = a_transaction()
    assert post_binary(ingest(stack), created_event(transaction), key=stack.api_key).status_code == 202


def test_score_answers_a_direct_call_with_the_scored_event_and_still_emits_it(stack):
    transaction = a_transaction()
    response = post_binary(stack.url("score") + "/", created_event(transaction), key=stack.api_key)
    assert response.status_code == 200
    assert response.headers["ce-type"] == events.TRANSACTION_SCORED
    assert response.headers["ce-subject"] == transaction["transaction_id"]
    score = response.json()
    assert score["decision"] in ("approve", "review", "block")
    assert set(score["thresholds"]) == {"review", "block"}
    assert score["model_version"]
    row = wait_for_row(stack, transaction["transaction_id"])
    assert row["risk_score"] == pytest.approx(score["risk_score"])


def test_status_reports_every_component_healthy(stack):
    result = stack.sentinel("status", "--json")
    assert result.returncode == 0, result.stdout
    statuses = {item["name"]: item for item in json.loads(result.stdout)}
    expected = {
        "broker",
        "postgres",
        "redis",
        "ingest",
        "score",
        "persist",
        "alert",
        "kafka-sink-ingress",
        "score-source",
        "persist-source",
        "alert-source",
        "ui",
    }
    assert expected <= set(statuses)
    assert all(item["healthy"] for item in statuses.values())
    assert statuses["postgres"]["address"].startswith("postgresql://")
    assert all(statuses[name]["pid"] for name in expected)
    assert statuses["score-source"]["consumer_group"] == "sentinel-score"
    assert statuses["score-source"]["lag"] is not None


def test_up_twice_is_safe(stack):
    result = stack.sentinel("up", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "already running" in result.stdout
