"""An analyst's session in real headless Chromium, against the real stack.

Transactions enter through the stack's ingest function and reach the UI the way
every decision does: score, persist and alert, through the broker. This run's
transactions belong to users of its own, so other tests' rows never interfere.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from support import created_event, post_binary, wait_for

from sentinel.core import drift
from sentinel.stores import drift as drift_store
from training.synthetic import demo_transactions

pytestmark = pytest.mark.stack

RUN = uuid.uuid4().hex[:8]
USERS = (f"browser-{RUN}-a", f"browser-{RUN}-b")


def _send(stack, transactions: list[dict[str, Any]]) -> None:
    for transaction in transactions:
        response = post_binary(stack.url("ingest"), created_event(transaction), key=stack.api_key)
        assert response.status_code == 202, response.text


def _stored(stack, transaction_ids: list[str]) -> list[dict[str, Any]]:
    """This run's stored decisions; each names the client its transaction is of (the stack key's)."""
    columns = ("client_id", "transaction_id", "user_id", "decision")
    with psycopg.connect(stack.settings.database_url) as conn:
        cursor = conn.execute(
            f"SELECT {', '.join(columns)} FROM transactions WHERE transaction_id = ANY(%s)", (transaction_ids,)
        )
        rows = [dict(zip(columns, row, strict=True)) for row in cursor]
    return sorted(rows, key=lambda row: row["transaction_id"])


def _shown_ids(page) -> set[str]:
    return set(page.locator("table#transactions tbody tr").evaluate_all("rows => rows.map(r => r.dataset.id)"))


@pytest.fixture(scope="module")
def decisions(stack) -> list[dict[str, Any]]:
    """Forty decisions of this run's two users, a quarter of them fraud-like, all stored."""
    transactions = demo_transactions(40, seed=int(RUN, 16) % 100_000, fraud_share=0.25)
    for index, transaction in enumerate(transactions):
        transaction["transaction_id"] = f"b-{RUN}-{index:03d}"
        transaction["user_id"] = USERS[index % 2]
    _send(stack, transactions)
    ids = [transaction["transaction_id"] for transaction in transactions]
    return wait_for(lambda: len(stored := _stored(stack, ids)) == len(ids) and stored, timeout=60, what="all stored")


def test_the_transactions_page_lists_the_decisions(page, screenshot, ui_url, decisions):
    page.goto(f"{ui_url}/transactions")
    page.wait_for_selector("table#transactions tbody tr")
    assert page.title() == "Transactions · Sentinel"
    assert page.locator("#live-status").is_visible()
    screenshot("transactions")
    assert page.problems == []


def test_filtering_by_user_and_decision_keeps_the_filters_in_the_url(page, screenshot, ui_url, decisions):
    user = USERS[0]
    decision = next(item["decision"] for item in decisions if item["user_id"] == user)
    expected = {item["transaction_id"] for item in decisions if (item["user_id"], item["decision"]) == (user, decision)}
    assert expected
    page.goto(f"{ui_url}/transactions")
    page.get_by_label("User").fill(USERS[0])
    page.get_by_label("Decision").select_option(decision)
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"user=" + re.escape(USERS[0])))
    assert f"decision={decision}" in page.url
    assert _shown_ids(page) == expected
    assert page.get_by_label("User").input_value() == USERS[0]
    screenshot("transactions-filtered")
    page.reload()
    assert _shown_ids(page) == expected


def test_open_a_detail_and_label_it(page, screenshot, ui_url, decisions, stack, analyst):
    client, target = decisions[3]["client_id"], decisions[3]["transaction_id"]
    page.goto(f"{ui_url}/transactions?user={decisions[3]['user_id']}")
    page.get_by_role("link", name=target, exact=True).click()
    page.wait_for_url(f"{ui_url}/transactions/{client}/{target}")
    assert page.locator("#client").inner_text() == client
    assert page.get_by_role("heading", name=target).is_visible()
    assert page.get_by_text("The values the model scored").is_visible()
    screenshot("transaction-detail")

    page.get_by_label("Note").fill("confirmed with the cardholder")
    page.get_by_role("button", name="Label fraud").click()
    page.wait_for_selector(".flash-success")
    assert f"Labelled fraud by {analyst[0]}." in page.locator(".flash-success").inner_text()
    assert "confirmed with the cardholder" in page.locator("table#labels").inner_text()
    screenshot("transaction-labelled")

    with psycopg.connect(stack.settings.database_url) as conn:
        stored = conn.execute(
            "SELECT label, source, labelled_by, note FROM labels WHERE client_id = %s AND transaction_id = %s",
            (client, target),
        ).fetchall()
    assert stored == [("fraud", "analyst", analyst[0], "confirmed with the cardholder")]
    assert page.problems == []


def test_a_new_decision_appears_without_reloading(page, screenshot, ui_url, decisions, stack):
    page.goto(f"{ui_url}/transactions?user={USERS[1]}")
    page.wait_for_selector("table#transactions tbody tr")
    page.evaluate("window.stillTheSamePage = true")
    transaction = demo_transactions(1, seed=7, fraud_share=0.0)[0]
    transaction.update(transaction_id=f"b-{RUN}-live", user_id=USERS[1])
    _send(stack, [transaction])
    row = page.locator(f'tr[data-id="b-{RUN}-live"]')
    row.wait_for(timeout=30_000)
    assert page.evaluate("window.stillTheSamePage") is True
    assert page.locator("table#transactions tbody tr").first.get_attribute("data-id") == f"b-{RUN}-live"
    assert "fresh" in (row.get_attribute("class") or "")
    screenshot("transactions-live")
    assert page.problems == []


def test_acknowledge_and_close_an_alert(page, screenshot, ui_url, decisions, stack):
    flagged = [(item["client_id"], item["transaction_id"]) for item in decisions if item["decision"] != "approve"]
    assert flagged, "the fraud-like transactions should have raised alerts"
    target = flagged[0]
    wait_for(lambda: _alert_status(stack, *target) == "open", timeout=30, what=f"the alert for {target}")
    page.goto(f"{ui_url}/alerts?limit=200")
    screenshot("alerts")
    page.get_by_role("button", name=f"Acknowledge alert {'/'.join(target)}").click()
    page.wait_for_selector(".flash-success")
    assert _alert_status(stack, *target) == "acknowledged"
    page.goto(f"{ui_url}/alerts?status=acknowledged&limit=200")
    page.get_by_role("button", name=f"Close alert {'/'.join(target)}").click()
    page.wait_for_selector(".flash-success")
    assert _alert_status(stack, *target) == "closed"
    assert page.problems == []


def _alert_status(stack, client_id: str, transaction_id: str) -> str | None:
    with psycopg.connect(stack.settings.database_url) as conn:
        row = conn.execute(
            "SELECT status FROM alerts WHERE client_id = %s AND transaction_id = %s", (client_id, transaction_id)
        ).fetchone()
    return row[0] if row else None


def test_searching_a_transaction_id_finds_it(page, screenshot, ui_url, decisions):
    client, target = decisions[5]["client_id"], decisions[5]["transaction_id"]
    page.goto(f"{ui_url}/transactions")
    page.get_by_label("Transaction id").fill(target)
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"transaction=" + re.escape(target)))
    assert _shown_ids(page) == {target}
    assert page.locator(f'tr[data-id="{target}"]').get_attribute("data-client") == client
    screenshot("transactions-search")
    assert page.problems == []


def test_the_overview_draws_its_charts_from_local_assets(page, screenshot, ui_url, decisions):
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{ui_url}/?window=1h")
    page.wait_for_function(
        "() => window.Chart && ['chart-decisions', 'chart-risk', 'chart-alerts'].every(id => window.Chart.getChart(id))"
    )
    assert int(page.locator('[data-total="transactions"]').inner_text().replace(",", "")) >= len(decisions)
    assert all(url.startswith(ui_url) for url in requested), "everything comes from the UI itself"
    page.wait_for_timeout(500)  # let the charts finish their first animation
    screenshot("overview")
    assert page.problems == []


def test_the_models_page_shows_the_champion(page, screenshot, ui_url, decisions):
    page.goto(f"{ui_url}/models")
    assert page.locator("table#models .badge-champion").count() == 1
    screenshot("models")
    page.locator("table#models tbody tr.highlight a").first.click()
    page.wait_for_selector("table#metrics")
    screenshot("model-detail")
    assert page.problems == []


def test_the_pipeline_page_shows_every_component_and_refreshes(page, screenshot, ui_url, decisions):
    page.goto(f"{ui_url}/pipeline")
    page.wait_for_selector("table#components")
    for name in ("broker", "postgres", "redis", "ingest", "score", "persist", "alert", "score-source"):
        assert page.locator(f'tr[data-component="{name}"]').count() == 1
    stamp = page.locator("#pipeline-status time").get_attribute("datetime")
    page.wait_for_function(
        "stamp => document.querySelector('#pipeline-status time').getAttribute('datetime') !== stamp",
        arg=stamp,
        timeout=30_000,
    )
    screenshot("pipeline")
    assert page.problems == []


def test_an_unknown_transaction_is_a_404_page(page, screenshot, ui_url):
    response = page.goto(f"{ui_url}/transactions/no-such-transaction")
    assert response.status == 404
    assert page.get_by_role("heading", name="Not found").is_visible()
    screenshot("not-found")


@pytest.fixture
def drift_reports(stack) -> Iterator[None]:
    """Three drift checks in the stack's database, the latest alerting on V14; removed afterwards."""
    end = datetime.now(UTC)
    checks = [{"V3": 0.01, "risk_score": 0.02}, {"V3": 0.03, "risk_score": 0.05}, {"V14": 0.61, "risk_score": 0.27}]
    with psycopg.connect(stack.settings.database_url, autocommit=True) as conn:
        for psi in checks:
            report = drift.Report(
                champion_version="v0001",
                window_start=end - timedelta(hours=24),
                window_end=end,
                rows=5_000,
                threshold=0.2,
                status=drift.COMPARED,
                message=f"browser-{RUN}",
                psi=psi,
            )
            drift_store.add_report(conn, report)
        yield
        conn.execute("DELETE FROM drift_reports WHERE message = %s", (f"browser-{RUN}",))


def test_the_overview_draws_the_drift_chart_and_names_the_drifted_features(page, screenshot, ui_url, drift_reports):
    page.goto(f"{ui_url}/")
    notice = page.locator("#drift-alert")
    assert notice.is_visible()
    assert [item.inner_text() for item in notice.locator("[data-drifted]").all()] == ["V14", "risk_score"]
    page.wait_for_function(
        "() => window.Chart && window.Chart.getChart('chart-drift')"
        " && window.Chart.getChart('chart-drift').data.datasets[0].data.length >= 3"
    )
    largest = page.evaluate("window.Chart.getChart('chart-drift').data.datasets[0].data.slice(-3)")
    assert largest == [0.02, 0.05, 0.61]
    assert page.locator("table#drift-features tbody tr").first.inner_text().startswith("V14")
    page.locator("#drift").scroll_into_view_if_needed()
    page.wait_for_timeout(500)  # let the chart finish its first animation
    screenshot("overview-drift")
    assert page.problems == []
