"""An admin's rules and challenger in real headless Chromium, against the real stack: add a rule in the UI and
see it decide the next matching transaction; put a challenger in shadow and compare it with the champion."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from psycopg.rows import dict_row
from support import a_copy_of_the_champion, a_transaction, created_event, post_binary, wait_for

pytestmark = pytest.mark.stack

RUN = uuid.uuid4().hex[:8]


def send(stack, transaction: dict) -> None:
    response = post_binary(stack.url("ingest"), created_event(transaction), key=stack.api_key)
    assert response.status_code == 202, response.text


def stored(stack, transaction_id: str) -> dict | None:
    with psycopg.connect(stack.settings.database_url, row_factory=dict_row) as conn:
        return conn.execute("SELECT * FROM transactions WHERE transaction_id = %s", (transaction_id,)).fetchone()


def test_an_admin_adds_a_rule_and_sees_it_decide_the_next_matching_transaction(admin_page, screenshot, ui_url, stack):
    page, merchant, name = admin_page, f"m-browser-{RUN}", f"browser-{RUN}"
    page.goto(f"{ui_url}/rules")
    form = page.locator("#rule-form")
    form.get_by_label("Name").fill(name)
    form.get_by_label("When").fill(f'merchant_id == "{merchant}"')
    form.get_by_label("Action").select_option("block")
    form.get_by_label("Priority").fill("1")
    form.get_by_role("button", name="Save rule").click()
    page.wait_for_selector(f'table#rules tr[data-id="{name}"]')
    screenshot("rules")

    def decided_by_rule() -> dict | None:
        transaction = a_transaction(user_id=f"u-browser-{RUN}", merchant_id=merchant, Amount=3.0)
        send(stack, transaction)
        row = wait_for(lambda: stored(stack, transaction["transaction_id"]), what="the transaction stored")
        return row if row["rule"] else None

    row = wait_for(decided_by_rule, timeout=30, every=0.5, what="a transaction decided by the rule")
    page.goto(f"{ui_url}/transactions/{row['client_id']}/{row['transaction_id']}")
    assert f"rule {name} v1 (block)" in " ".join(page.locator("#decided-by").inner_text().split())
    screenshot("transaction-decided-by-rule")

    page.goto(f"{ui_url}/rules")
    page.locator(f'table#rules tr[data-id="{name}"]').get_by_role("button", name="Disable").click()
    page.wait_for_selector(f'table#rules tr[data-id="{name}"] >> text=disabled')
    assert page.problems == []


def test_an_admin_puts_a_challenger_in_shadow_and_compares_it_on_the_models_page(admin_page, screenshot, ui_url, stack):
    page = admin_page
    challenger = a_copy_of_the_champion(stack.settings)
    page.goto(f"{ui_url}/models/{challenger}")
    page.get_by_role("button", name="Put in shadow").click()
    page.wait_for_selector("#shadow-comparison")

    def shadowed() -> bool:
        transaction = a_transaction(user_id=f"u-shadow-{RUN}")
        send(stack, transaction)
        row = wait_for(lambda: stored(stack, transaction["transaction_id"]), what="the transaction stored")
        return bool(row["shadow"])

    wait_for(shadowed, timeout=30, every=0.5, what="a decision with the challenger in shadow")
    page.goto(f"{ui_url}/models")
    assert page.locator("#shadow-agreement").inner_text() == "100.0 %"  # the champion's own bytes agree with it
    screenshot("models-shadow-comparison")
    page.get_by_role("button", name="End the shadow").click()
    page.wait_for_selector("text=is out of shadow")
    assert page.problems == []
