"""Attacks on the callers' doors, against the running stack: each now fails; a valid key still works.

Before API keys, anyone who reached ingest or score could submit transactions or probe
score for the exact risk score of any transaction they made up, without limit.
"""

from __future__ import annotations

import uuid

import pytest
import requests
from support import a_transaction, created_event, post_binary, records_about, wait_for

pytestmark = pytest.mark.stack

TRANSACTIONS_TOPIC = "sentinel.transactions"


def create_key(stack, *options: str) -> str:
    """`sentinel keys create`, as an admin runs it: the key is the last line printed."""
    result = stack.sentinel("keys", "create", f"attack-{uuid.uuid4().hex[:8]}", *options)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_submitting_without_a_key_is_401_and_nothing_is_emitted(stack):
    """Attack: anyone who reaches ingest submits a transaction."""
    transaction = a_transaction()
    response = post_binary(stack.url("ingest") + "/", created_event(transaction))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert (
        records_about(stack.settings.kafka_bootstrap_servers, TRANSACTIONS_TOPIC, transaction["transaction_id"]) == []
    )


def test_submitting_on_the_original_api_without_a_key_is_401(stack):
    """Attack: the same through `POST /api/v1/transactions`."""
    response = requests.post(stack.url("ingest") + "/api/v1/transactions", json=a_transaction(), timeout=15)
    assert response.status_code == 401


def test_a_made_up_key_is_401_invalid_token(stack):
    """Attack: guessing a key."""
    response = post_binary(stack.url("ingest") + "/", created_event(a_transaction()), key="sentinel_" + "A" * 43)
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_probing_score_without_a_key_reveals_no_risk_score(stack):
    """Attack: asking score for the risk score of made-up transactions, to learn what passes."""
    response = post_binary(stack.url("score") + "/", created_event(a_transaction()))
    assert response.status_code == 401
    assert "risk_score" not in response.text


def test_an_ingest_key_cannot_probe_score(stack):
    """Attack: a client allowed to submit uses its key to probe score."""
    key = create_key(stack, "--scope", "ingest")
    response = post_binary(stack.url("score") + "/", created_event(a_transaction()), key=key)
    assert response.status_code == 403
    assert 'error="insufficient_scope", scope="score"' in response.headers["WWW-Authenticate"]


def test_a_read_key_cannot_submit(stack):
    key = create_key(stack, "--scope", "read")
    assert post_binary(stack.url("ingest") + "/", created_event(a_transaction()), key=key).status_code == 403


def test_a_revoked_key_stops_working_within_seconds(stack):
    """Attack: a leaked key keeps working after its owner revoked it."""
    name = f"leaked-{uuid.uuid4().hex[:8]}"
    created = stack.sentinel("keys", "create", name)
    key = created.stdout.strip().splitlines()[-1]
    assert post_binary(stack.url("ingest") + "/", created_event(a_transaction()), key=key).status_code == 202
    assert stack.sentinel("keys", "revoke", name).returncode == 0
    wait_for(
        lambda: post_binary(stack.url("ingest") + "/", created_event(a_transaction()), key=key).status_code == 401,
        timeout=10,
        every=0.5,
        what="the revoked key to be refused",
    )


def test_a_key_over_its_rate_gets_429_with_retry_after(stack):
    """Attack: one client floods ingest (or score) with requests."""
    key = create_key(stack, "--rate", "1")
    answers = [post_binary(stack.url("ingest") + "/", created_event(a_transaction()), key=key) for _ in range(6)]
    limited = [answer for answer in answers if answer.status_code == 429]
    assert limited, [answer.status_code for answer in answers]
    assert limited[0].headers["Retry-After"] == "1"


def test_the_key_is_shown_once_and_never_listed(stack):
    key = create_key(stack, "--scope", "ingest")
    listed = stack.sentinel("keys", "list", "--all")
    assert listed.returncode == 0 and key not in listed.stdout


def test_a_valid_key_submits_and_its_transaction_is_emitted(stack):
    """The positive path: the key `sentinel up` made for the local client."""
    transaction = a_transaction()
    response = post_binary(stack.url("ingest") + "/", created_event(transaction), key=stack.api_key)
    assert response.status_code == 202
    wait_for(
        lambda: records_about(
            stack.settings.kafka_bootstrap_servers, TRANSACTIONS_TOPIC, transaction["transaction_id"]
        ),
        what="the transaction on its topic",
    )
