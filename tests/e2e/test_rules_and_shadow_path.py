"""Rules and a challenger in shadow on the real stack, driven by `sentinel rules` and `sentinel models` as a
user drives them: a rule added while events flow decides every later matching one, and no event is lost or
counted twice across the change; a challenger in shadow is recorded on every decision and never changes one.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
import uuid

import psycopg
import pytest
from psycopg.rows import dict_row
from support import SENTINEL, a_copy_of_the_champion, a_transaction, created_event, post_binary, wait_for

from sentinel.stores import redis_client

pytestmark = pytest.mark.stack

EVENTS = 80
RATE = 8  # a second: the stream lasts ten seconds, well past the CLI and the rule reaching score


def rows_of(stack, user_id: str) -> list[dict]:
    with psycopg.connect(stack.settings.database_url, row_factory=dict_row) as conn:
        return conn.execute(
            "SELECT t.*, a.rule AS alert_rule, a.transaction_id IS NOT NULL AS alerted FROM transactions t"
            " LEFT JOIN alerts a USING (client_id, transaction_id) WHERE t.user_id = %s",
            (user_id,),
        ).fetchall()


def stored_count(stack) -> int:
    with psycopg.connect(stack.settings.database_url) as conn:
        return conn.execute("SELECT count(*) FROM transactions").fetchone()[0]


def send_all(stack, transactions: list[dict]) -> None:
    for transaction in transactions:
        response = post_binary(stack.url("ingest") + "/", created_event(transaction), key=stack.api_key)
        assert response.status_code == 202, response.text
        time.sleep(1 / RATE)


@pytest.fixture
def merchant(stack):
    """A merchant of this test's own, and the rule blocking it disabled afterwards."""
    name = f"m-{uuid.uuid4().hex[:10]}"
    yield name
    stack.sentinel("rules", "disable", "block-test-merchant")


def test_a_rule_added_with_the_cli_while_events_flow_decides_every_later_match_and_nothing_is_lost_or_doubled(
    stack, merchant
):
    user = f"u-rules-{uuid.uuid4().hex[:10]}"
    transactions = [
        a_transaction(user_id=user, merchant_id=merchant, Amount=12.0, transaction_id=f"t-rules-{user}-{n}")
        for n in range(EVENTS)
    ]
    sender = threading.Thread(target=send_all, args=(stack, transactions))
    sender.start()
    wait_for(lambda: len(rows_of(stack, user)) >= EVENTS // 4, timeout=60, what="the first events stored")
    added = stack.sentinel(
        "rules", "add", "block-test-merchant", f'merchant_id == "{merchant}"', "--action", "block", "--priority", "1"
    )
    assert added.returncode == 0, added.stdout + added.stderr
    assert "in force" in added.stdout
    sender.join(timeout=120)
    rows = wait_for(
        lambda: (found := rows_of(stack, user)) and len(found) >= EVENTS and found,
        timeout=60,
        what="every event stored",
    )

    assert sorted(row["transaction_id"] for row in rows) == sorted(item["transaction_id"] for item in transactions)
    in_order = sorted(rows, key=lambda row: row["behaviour"]["user_previous_count"])
    # The user's history counted every transaction exactly once, redeliveries included.
    assert [row["behaviour"]["user_previous_count"] for row in in_order] == list(range(EVENTS))
    ruled = [row["rule"] is not None for row in in_order]
    switch = ruled.index(True)
    assert 0 < switch and all(ruled[switch:]), "the rule decides every event after the first it decided"
    assert {row["decision"] for row in in_order[switch:]} == {"block"}
    assert all(row["alerted"] and row["alert_rule"]["name"] == "block-test-merchant" for row in in_order[switch:])

    stream = redis_client.connect(stack.settings.redis_url)
    streamed = [
        json.loads(fields[b"alert"])
        for _, fields in stream.xrange(stack.settings.alerts_stream)
        if fields[b"transaction_id"].decode() == in_order[-1]["transaction_id"]
    ]
    assert [entry["rule"]["name"] for entry in streamed] == ["block-test-merchant"]


def test_sentinel_decisions_names_the_rule_that_decided_the_next_matching_transaction(stack):
    name, merchant = f"cli-fires-{uuid.uuid4().hex[:8]}", f"m-{uuid.uuid4().hex[:10]}"
    added = stack.sentinel("rules", "add", name, f'merchant_id == "{merchant}"', "--action", "review")
    assert added.returncode == 0, added.stdout + added.stderr
    user = f"u-fires-{uuid.uuid4().hex[:10]}"

    def ruled() -> dict | None:
        send_all(stack, [a_transaction(user_id=user, merchant_id=merchant, Amount=3.0)])
        return next((row for row in rows_of(stack, user) if row["rule"]), None)

    try:
        row = wait_for(ruled, timeout=30, every=0.5, what="a transaction decided by the rule")
        listed = subprocess.run(
            [SENTINEL, "decisions", "--decision", "review", "--limit", "50"],
            env={**stack.env, "COLUMNS": "250"},
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        stack.sentinel("rules", "disable", name)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    [line] = [line for line in listed.stdout.splitlines() if row["transaction_id"] in line]
    assert f"{name} v1" in line


@pytest.fixture
def challenger(stack):
    """A second registered model (the champion's own bytes under a new version), out of shadow afterwards."""
    yield a_copy_of_the_champion(stack.settings)
    stack.sentinel("models", "shadow", "--stop")


def test_a_challenger_put_in_shadow_with_the_cli_is_recorded_and_compared_and_never_decides(stack, challenger):
    result = stack.sentinel("models", "shadow", challenger)
    assert result.returncode == 0 and f"{challenger} runs in shadow" in result.stdout, result.stdout + result.stderr
    user = f"u-shadow-{uuid.uuid4().hex[:10]}"

    def shadowed() -> list[dict]:
        post_binary(stack.url("ingest") + "/", created_event(a_transaction(user_id=user)), key=stack.api_key)
        return [row for row in rows_of(stack, user) if row["shadow"]]

    wait_for(lambda: len(shadowed()) >= 5, timeout=60, every=0.2, what="decisions with the challenger in shadow")
    for row in rows_of(stack, user):
        if row["shadow"]:
            # The same model in shadow: it would have decided exactly as the champion did.
            assert row["shadow"]["model_version"] == challenger
            assert (row["shadow"]["decision"], row["shadow"]["risk_score"]) == (row["decision"], row["risk_score"])
            assert row["model_version"] != challenger

    compared = stack.sentinel("models", "compare")
    assert compared.returncode == 0, compared.stdout + compared.stderr
    assert f"with {challenger} in shadow" in compared.stdout and "agree on 100.0%" in compared.stdout


def test_the_cli_lists_tries_and_tells_the_history_of_rules_and_refuses_an_invalid_one(stack):
    name = f"cli-{uuid.uuid4().hex[:8]}"
    assert stack.sentinel("rules", "add", name, "Amount > 999999", "--action", "review").returncode == 0
    assert stack.sentinel("rules", "disable", name).returncode == 0
    listed = stack.sentinel("rules")
    assert name in listed.stdout and "disabled" in listed.stdout
    history = stack.sentinel("rules", "history", name)
    assert "v2" in history.stdout and "v1" in history.stdout and "(disabled)" in history.stdout
    assert stack.sentinel("send", "--count", "25", "--rate", "100", "--seed", "9").returncode == 0
    wait_for(lambda: stored_count(stack) >= 20, what="20 transactions stored")
    tried = stack.sentinel("rules", "test", "Amount >= 0", "--action", "block", "--limit", "20")
    assert tried.returncode == 0 and "of the newest 20 transactions, 20 match" in tried.stdout
    refused = stack.sentinel("rules", "add", name, "amount > 5", "--action", "block")
    assert refused.returncode == 1 and "did you mean Amount" in refused.stdout
