"""The UI refuses bad requests with a 400 that says why, before it asks the database anything.

These run without a database: the app points at a port where nothing listens, so a
request that got past validation would fail with a 503, not pass by accident.
"""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from ui_login import FakeAccounts, FakeAudit, fake_login
from werkzeug.exceptions import BadRequest

from sentinel.config import Settings
from ui import create_app, formatting
from ui.params import Cursor

NOWHERE = "postgresql://nobody@127.0.0.1:9/nothing"


@pytest.fixture
def client(tmp_path):
    accounts = FakeAccounts()
    app = create_app(
        replace(Settings.from_env(), database_url=NOWHERE, state_dir=tmp_path), accounts=accounts, audit=FakeAudit()
    )
    return fake_login(app, accounts)


def _cursor(sort: str, value: str = "2026-01-01T00:00:00+00:00", row_id: str = "t-1", client: str = "demo") -> str:
    return Cursor(sort, value, client, row_id).encode()


BAD_TRANSACTION_QUERIES = [
    ("decision=maybe", "decision must be one of approve, review, block"),
    ("min_risk=abc", "min_risk must be a number from 0 to 1"),
    ("min_risk=1.5", "min_risk must be a number from 0 to 1"),
    ("max_risk=-0.1", "max_risk must be a number from 0 to 1"),
    ("min_risk=nan", "min_risk must be a number"),
    ("max_risk=inf", "max_risk must be a number"),
    ("min_risk=0.8&max_risk=0.2", "min_risk must be at most max_risk"),
    ("user=%3Cscript%3E", "user must be 1-64 characters"),
    ("user=" + "u" * 65, "user must be 1-64 characters"),
    ("model=v%201", "model must be 1-64 characters"),
    ("since=yesterday", "since must be an ISO 8601 date or time"),
    ("until=2026-13-01", "until must be an ISO 8601 date or time"),
    ("since=2026-02-01&until=2026-01-01", "since must be before until"),
    ("since=2026-01-01&until=2026-01-01", "since must be before until"),
    ("sort=price", "sort must be one of -time, time, -risk, risk, -amount, amount"),
    ("limit=0", "limit must be a whole number from 1 to 200"),
    ("limit=201", "limit must be a whole number from 1 to 200"),
    ("limit=ten", "limit must be a whole number from 1 to 200"),
    ("limit=-5", "limit must be a whole number from 1 to 200"),
    ("after=not-a-cursor", "after is not a page position this list gave out"),
    ("before=%25%25%25", "before is not a page position this list gave out"),
    (f"after={_cursor('-risk', '0.5')}", "after belongs to another sort order"),
    (f"after={_cursor('-time', 'noon')}", "the page position must be an ISO 8601 date or time"),
    (f"sort=-risk&after={_cursor('-risk', 'nan')}", "the page position is not one this list gave out"),
    (f"sort=amount&after={_cursor('amount', 'lots')}", "the page position is not one this list gave out"),
    (f"after={_cursor('-time', row_id='<b>')}", "after is not a page position this list gave out"),
    (f"after={_cursor('-time', client='a b')}", "after is not a page position this list gave out"),
    ("transaction=%3Cscript%3E", "transaction must be 1-64 characters"),
    ("transaction=" + "t" * 65, "transaction must be 1-64 characters"),
    (f"after={_cursor('-time')}&before={_cursor('-time')}", "give after or before, not both"),
    ("decison=block", "unknown parameter 'decison'"),
    ("decision=block&decision=review", "decision is given 2 times; give it once"),
    ("user=a%00b", "user contains a NUL character"),
    ("user=" + "x" * 600, "user is longer than 512 characters"),
]


@pytest.mark.parametrize("path", ["/transactions", "/api/transactions"])
@pytest.mark.parametrize(("query", "reason"), BAD_TRANSACTION_QUERIES)
def test_a_bad_transaction_filter_is_a_400_that_says_why(client, path, query, reason):
    response = client.get(f"{path}?{query}")
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert reason in (response.json["error"] if path.startswith("/api/") else body.replace("&#39;", "'"))
    assert "Traceback" not in body


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("", "since is required"),
        ("since=soon", "since must be an ISO 8601 date or time"),
        ("since=2026-01-01&sort=-risk", "unknown parameter 'sort'"),
        ("since=2026-01-01&decision=all", "decision must be one of"),
    ],
)
def test_the_live_rows_refuse_bad_parameters(client, query, reason):
    response = client.get(f"/partials/transactions?{query}")
    assert response.status_code == 400
    assert reason in response.get_data(as_text=True).replace("&#39;", "'")


@pytest.mark.parametrize("path", ["/alerts", "/api/alerts"])
@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("status=pending", "status must be one of open, acknowledged, closed"),
        ("decision=approve", "decision must be one of review, block"),
        ("limit=1000", "limit must be a whole number from 1 to 200"),
        ("after=xyz", "after is not a page position this list gave out"),
        (f"after={_cursor('-time')}", "after belongs to another sort order"),
        (f"after={_cursor('created')}&before={_cursor('created')}", "give after or before, not both"),
        ("sort=newest", "unknown parameter 'sort'"),
    ],
)
def test_a_bad_alert_filter_is_a_400_that_says_why(client, path, query, reason):
    response = client.get(f"{path}?{query}")
    assert response.status_code == 400
    assert reason in response.get_data(as_text=True).replace("&#39;", "'")


@pytest.mark.parametrize("path", ["/", "/api/overview"])
@pytest.mark.parametrize(
    ("query", "reason"),
    [("window=2h", "window must be one of 1h, 6h, 24h, 7d, 30d"), ("days=7", "unknown parameter 'days'")],
)
def test_a_bad_overview_window_is_a_400(client, path, query, reason):
    response = client.get(f"{path}?{query}")
    assert response.status_code == 400
    assert reason in response.get_data(as_text=True).replace("&#39;", "'")


@pytest.mark.parametrize(
    "path",
    [
        "/transactions/has%20space",
        "/transactions/" + "x" * 65,
        "/transactions/demo/has%20space",
        "/transactions/a%20b/t-1",
        "/api/transactions/%3Cscript%3E",
        "/api/transactions/demo/%3Cscript%3E",
        "/models/v%3B1",
        "/api/models/v%3B1",
    ],
)
def test_an_id_that_cannot_exist_is_a_404(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert "There is no" in response.get_data(as_text=True)


def test_an_unknown_page_is_a_404_page_and_an_unknown_api_path_is_json(client):
    page = client.get("/nowhere")
    assert page.status_code == 404
    assert "<h1>Not found</h1>" in page.get_data(as_text=True)
    api = client.get("/api/nowhere")
    assert api.status_code == 404
    assert api.json["status"] == 404


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("post", "/transactions", "GET"),
        ("get", "/alerts/demo/t-1/close", "POST"),
        ("get", "/transactions/demo/t-1/labels", "POST"),
        ("delete", "/api/models", "GET"),
    ],
)
def test_a_wrong_method_is_a_405_that_names_the_right_one(client, method, path, allowed):
    response = getattr(client, method)(path)
    assert response.status_code == 405
    assert allowed in response.headers["Allow"]


@pytest.mark.parametrize(
    "path", ["/transactions/demo/t-1/labels", "/alerts/demo/t-1/acknowledge", "/alerts/demo/t-1/close"]
)
def test_a_post_without_a_csrf_token_is_refused(client, path):
    response = client.post(path, data={"label": "fraud", "analyst": "ana"})
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "The form could not be accepted" in body
    assert "Reload the page" in body


def test_a_post_with_a_forged_csrf_token_is_refused(client):
    response = client.post("/alerts/demo/t-1/close", data={"csrf_token": "forged"})
    assert response.status_code == 400
    assert "The form could not be accepted" in response.get_data(as_text=True)


def test_an_unknown_alert_action_is_a_404(client):
    assert client.post("/alerts/demo/t-1/reopen").status_code == 404


def test_pages_carry_a_content_security_policy(client):
    response = client.get("/nowhere")
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_an_unreachable_database_is_a_503_page_not_a_traceback(client):
    response = client.get("/transactions")
    assert response.status_code == 503
    body = response.get_data(as_text=True)
    assert "The database is not reachable right now" in body
    assert "Traceback" not in body
    assert client.get("/healthz").status_code == 503


def test_the_secret_key_is_made_once_and_kept(tmp_path):
    settings = replace(Settings.from_env(), database_url=NOWHERE, state_dir=tmp_path)
    first, second = create_app(settings), create_app(settings)
    assert first.secret_key == second.secret_key
    assert len(first.secret_key) >= 32
    assert (tmp_path / "ui" / "secret_key").stat().st_mode & 0o777 == 0o600


def test_the_secret_key_comes_from_the_environment_when_set(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTINEL_UI_SECRET_KEY", "from-a-kubernetes-secret")
    app = create_app(replace(Settings.from_env(), database_url=NOWHERE, state_dir=tmp_path))
    assert app.secret_key == "from-a-kubernetes-secret"
    assert not (tmp_path / "ui").exists()


def test_a_cursor_round_trips_and_a_tampered_one_is_refused():
    cursor = Cursor("-risk", "0.25", "demo", "t-1")
    assert Cursor.decode("after", cursor.encode(), "-risk") == cursor
    with pytest.raises(BadRequest):
        Cursor.decode("after", cursor.encode()[:-3], "-risk")


def test_a_cursor_names_the_row_by_client_and_transaction_id():
    decoded = Cursor.decode("after", Cursor("-time", "2026-01-01T00:00:00", "-", "t-1").encode(), "-time")
    assert (decoded.client, decoded.id) == ("-", "t-1")  # '-': a row stored before ids were per client


def test_a_cursor_from_before_ids_were_per_client_is_refused():
    token = base64.urlsafe_b64encode(json.dumps(["-time", "2026-01-01T00:00:00", "t-1"]).encode()).decode()
    with pytest.raises(BadRequest, match="not a page position this list gave out"):
        Cursor.decode("after", token, "-time")


def test_values_are_formatted_for_people():
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert formatting.money(Decimal("1234.5"), "EUR") == "1,234.50 EUR"
    assert formatting.money(None) == "—"
    assert formatting.risk(0.123456) == "0.1235"
    assert formatting.ago(now - timedelta(minutes=5), now) == "5 min ago"
    assert formatting.ago(now - timedelta(days=2), now) == "2 d ago"
    assert formatting.ago(now + timedelta(seconds=3), now) == "just now"
    assert formatting.number(1234567) == "1,234,567"
    assert formatting.number(0.98765) == "0.9877"
    assert formatting.number(True) == "yes"
    assert formatting.when(now) == "2026-01-01 12:00:00"
    assert formatting.iso(now) == "2026-01-01T12:00:00.000000+00:00"
    assert formatting.duration(timedelta(milliseconds=250)) == "250 ms"


def test_filters_survive_in_links_exactly_as_given():
    from ui.transactions import Filters

    filters = Filters(
        transaction="t-1", min_risk=0.1234567, max_risk=1.0, since=datetime(2026, 1, 31, 9, 30, tzinfo=UTC), user="u-1"
    )
    assert filters.args() == {
        "transaction": "t-1",
        "min_risk": "0.1234567",
        "max_risk": "1.0",
        "user": "u-1",
        "since": "2026-01-31T09:30:00",
    }
