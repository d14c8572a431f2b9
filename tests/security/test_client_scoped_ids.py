"""Transaction ids belong to their client, against the running stack (issue: one global key space).

Before, a transaction id was one key for every client: submitting another client's
future transaction id with harmless features made the real transaction a "duplicate"
for seven days. Now an id names one transaction per client, as payment APIs scope
idempotency keys: a retry with the same payload gets the first answer again, the same
id with another payload gets 409.
"""

from __future__ import annotations

import uuid

import psycopg
import pytest
from support import a_transaction, created_event, post_binary, wait_for

pytestmark = pytest.mark.stack


def a_key(stack, *scopes: str) -> str:
    name = f"shop-{uuid.uuid4().hex[:8]}"
    options = [option for scope in scopes for option in ("--scope", scope)]
    result = stack.sentinel("keys", "create", name, *options)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip().splitlines()[-1]


def stored(stack, transaction_id: str) -> list[tuple[str, float]]:
    with psycopg.connect(stack.settings.database_url) as conn:
        return conn.execute(
            "SELECT client_id, amount::float FROM transactions WHERE transaction_id = %s ORDER BY client_id",
            (transaction_id,),
        ).fetchall()


def submit(stack, transaction: dict, key: str):
    return post_binary(stack.url("ingest") + "/", created_event(transaction), key=key)


def test_another_clients_id_taken_first_does_not_make_the_real_transaction_a_duplicate(stack):
    """Attack: submit a victim's future transaction id with harmless features first."""
    attacker = a_key(stack, "ingest")
    real = a_transaction(Amount=4999.0)
    decoy = {**real, "Amount": 1.0}
    assert submit(stack, decoy, attacker).json()["accepted"] == [real["transaction_id"]]
    answer = submit(stack, real, stack.api_key)
    assert answer.status_code == 202 and answer.json()["accepted"] == [real["transaction_id"]]
    wait_for(lambda: len(stored(stack, real["transaction_id"])) == 2, what="both transactions stored")
    rows = stored(stack, real["transaction_id"])
    assert ("demo", 4999.0) in rows and len({client for client, _ in rows}) == 2


def test_a_retry_with_the_same_payload_is_answered_as_a_duplicate(stack):
    transaction = a_transaction()
    assert submit(stack, transaction, stack.api_key).json()["accepted"] == [transaction["transaction_id"]]
    again = submit(stack, transaction, stack.api_key)
    assert again.status_code == 202 and again.json()["duplicates"] == [transaction["transaction_id"]]


def test_the_same_id_with_another_payload_is_409_and_never_stored(stack):
    transaction = a_transaction(Amount=10.0)
    submit(stack, transaction, stack.api_key)
    changed = submit(stack, {**transaction, "Amount": 9000.0}, stack.api_key)
    assert changed.status_code == 409 and "different payload" in changed.json()["error"]
    wait_for(lambda: stored(stack, transaction["transaction_id"]), what="the first transaction stored")
    assert stored(stack, transaction["transaction_id"]) == [("demo", 10.0)]


def test_score_answers_a_retry_with_the_first_decision(stack):
    """A decision inline, asked again (a lost answer), is the decision persist stored, not a new one."""
    transaction = a_transaction()
    first = post_binary(stack.url("score") + "/", created_event(transaction), key=stack.api_key)
    again = post_binary(stack.url("score") + "/", created_event(transaction), key=stack.api_key)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()


def test_score_refuses_the_same_id_with_another_payload_with_409(stack):
    transaction = a_transaction(Amount=10.0)
    post_binary(stack.url("score") + "/", created_event(transaction), key=stack.api_key)
    changed = post_binary(stack.url("score") + "/", created_event({**transaction, "Amount": 11.0}), key=stack.api_key)
    assert changed.status_code == 409
