"""A transaction is named by (client_id, transaction_id) in the UI: its pages, links and page cursors.

The database is faked at ui's query helpers; the same behaviours against a real
PostgreSQL are in tests/integration/test_ui_pages.py.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from ui_login import FakeAccounts, FakeAudit, fake_login

from sentinel.config import Settings
from ui import create_app, keyset, transactions
from ui.keyset import fetch_page
from ui.params import Cursor

NOWHERE = "postgresql://nobody@127.0.0.1:9/nothing"
NEWEST_FIRST = transactions.ORDERS["-time"]
AT = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class FakeQueries:
    """Stands in for ui.database.fetch_all: records each query and answers with the rows given."""

    def __init__(self, rows: list[dict]) -> None:
        self.rows = rows
        self.queries: list[tuple[str, dict]] = []

    def __call__(self, query: str, params=None) -> list[dict]:
        self.queries.append((query, params))
        return [dict(row) for row in self.rows]


def a_row(client_id: str, transaction_id: str) -> dict:
    return {"client_id": client_id, "transaction_id": transaction_id, "scored_at": AT}


@pytest.fixture
def client(tmp_path):
    accounts = FakeAccounts()
    settings = replace(Settings.from_env(), database_url=NOWHERE, state_dir=tmp_path)
    return fake_login(create_app(settings, accounts=accounts, audit=FakeAudit()), accounts)


def test_a_page_after_a_cursor_starts_after_its_sort_value_client_and_id_as_one_row(monkeypatch):
    queries = FakeQueries([])
    monkeypatch.setattr(keyset, "fetch_all", queries)
    after = Cursor("-time", AT.isoformat(), "bank-a", "t-1")
    fetch_page(columns="*", table="transactions", clauses=[], params={}, order=NEWEST_FIRST, limit=5, after=after)
    query, params = queries.queries[0]
    assert "(scored_at, client_id, transaction_id) < (%(cursor_value)s, %(cursor_client)s, %(cursor_id)s)" in query
    assert (params["cursor_value"], params["cursor_client"], params["cursor_id"]) == (AT, "bank-a", "t-1")


def test_rows_with_the_same_sort_value_are_ordered_by_client_then_id_like_the_indexes(monkeypatch):
    queries = FakeQueries([])
    monkeypatch.setattr(keyset, "fetch_all", queries)
    fetch_page(columns="*", table="transactions", clauses=[], params={}, order=NEWEST_FIRST, limit=5)
    assert "ORDER BY scored_at DESC, client_id DESC, transaction_id DESC" in queries.queries[0][0]


def test_the_next_page_starts_after_the_last_rows_client_and_id(monkeypatch):
    monkeypatch.setattr(keyset, "fetch_all", FakeQueries([a_row("bank-b", "t-1"), a_row("bank-a", "t-1")]))
    page = fetch_page(columns="*", table="transactions", clauses=[], params={}, order=NEWEST_FIRST, limit=1)
    assert page.next == Cursor("-time", AT.isoformat(), "bank-b", "t-1")


def test_an_id_one_client_sent_redirects_to_that_clients_transaction(client, monkeypatch):
    monkeypatch.setattr(transactions, "fetch_all", FakeQueries([{"client_id": "bank-a"}]))
    response = client.get("/transactions/t-1")
    assert response.status_code == 302
    assert response.headers["Location"] == "/transactions/bank-a/t-1"


def test_an_id_several_clients_sent_lists_their_transactions(client, monkeypatch):
    monkeypatch.setattr(transactions, "fetch_all", FakeQueries([{"client_id": "bank-a"}, {"client_id": "bank-b"}]))
    response = client.get("/transactions/t-1")
    assert response.status_code == 302
    assert response.headers["Location"] == "/transactions?transaction=t-1"


def test_an_id_no_client_sent_is_a_404(client, monkeypatch):
    monkeypatch.setattr(transactions, "fetch_all", FakeQueries([]))
    response = client.get("/transactions/t-1")
    assert response.status_code == 404
    assert "There is no transaction &#39;t-1&#39;" in response.get_data(as_text=True)


def test_the_api_resolves_an_id_alone_the_same_way(client, monkeypatch):
    monkeypatch.setattr(transactions, "fetch_all", FakeQueries([{"client_id": "bank-a"}]))
    assert client.get("/api/transactions/t-1").headers["Location"] == "/api/transactions/bank-a/t-1"
    monkeypatch.setattr(transactions, "fetch_all", FakeQueries([{"client_id": "bank-a"}, {"client_id": "bank-b"}]))
    assert client.get("/api/transactions/t-1").headers["Location"] == "/api/transactions?transaction=t-1"


def test_the_audit_log_names_a_transaction_by_client_and_id():
    assert transactions.audit_subject("demo", "tx-1") == "demo/tx-1"
