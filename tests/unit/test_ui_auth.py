"""Who may use the UI: login, sessions, roles and API keys, with in-memory accounts and keys.

The app points at a database where nothing listens, so a request that gets past
the login check answers 503, and one that does not answers 302, 401 or 403.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from ui_login import FakeAccounts, FakeAudit, csrf_token, fake_login, log_in

from sentinel.config import Settings
from sentinel.core.api_keys import Caller, key_hash
from sentinel.serving.callers import Callers
from sentinel.stores.users import ADMIN
from ui import create_app

NOWHERE = "postgresql://nobody@127.0.0.1:9/nothing"
READ_KEY, INGEST_KEY = "sentinel_reader", "sentinel_ingester"


class FakeKeys:
    def __init__(self) -> None:
        self.callers = {
            key_hash(READ_KEY): Caller("dashboard", frozenset({"read"})),
            key_hash(INGEST_KEY): Caller("shop", frozenset({"ingest"})),
        }

    def caller(self, hashed: str) -> Caller | None:
        return self.callers.get(hashed)

    def close(self) -> None:
        pass


@pytest.fixture
def accounts():
    return FakeAccounts()


@pytest.fixture
def audit():
    return FakeAudit()


def make_app(tmp_path, accounts, audit, **settings):
    base = replace(Settings.from_env(), database_url=NOWHERE, state_dir=tmp_path, **settings)
    return create_app(base, accounts=accounts, audit=audit, callers=Callers(FakeKeys()))


@pytest.fixture
def app(tmp_path, accounts, audit):
    return make_app(tmp_path, accounts, audit)


def test_a_page_without_a_login_redirects_to_the_login_page(app):
    response = app.test_client().get("/transactions?decision=block")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/transactions?decision%3Dblock"


def test_the_api_without_a_login_or_key_is_a_401_with_a_bearer_challenge(app):
    response = app.test_client().get("/api/transactions")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "read" in response.json["error"]


def test_the_api_with_a_key_lacking_the_read_scope_is_a_403(app):
    response = app.test_client().get("/api/transactions", headers={"Authorization": f"Bearer {INGEST_KEY}"})
    assert response.status_code == 403
    assert 'scope="read"' in response.headers["WWW-Authenticate"]


def test_the_api_with_an_unknown_key_is_a_401(app):
    response = app.test_client().get("/api/transactions", headers={"Authorization": "Bearer sentinel_nope"})
    assert response.status_code == 401


def test_the_api_with_a_read_key_gets_past_the_login_check(app):
    response = app.test_client().get("/api/transactions", headers={"Authorization": f"Bearer {READ_KEY}"})
    assert response.status_code == 503  # the database: the request was let through


def test_the_health_probe_and_the_login_page_need_no_login(app):
    client = app.test_client()
    assert client.get("/login").status_code == 200
    assert client.get("/healthz").status_code == 503


def test_a_wrong_password_is_a_401_and_is_audited(app, accounts, audit):
    accounts.add("ana", "correct horse battery")
    response = log_in(app.test_client(), "ana", "wrong horse battery")
    assert response.status_code == 401
    assert "do not match" in response.get_data(as_text=True)
    assert audit.entries[-1][1:3] == ("login.failed", "ana")


def test_logging_in_starts_a_new_session_with_a_new_csrf_token(app, accounts, audit):
    accounts.add("ana", "correct horse battery")
    client = app.test_client()
    before = csrf_token(client, "/login")
    with client.session_transaction() as session:
        session["sid"] = "planted-by-an-attacker"
    response = log_in(client, "ana", "correct horse battery")
    assert response.status_code == 303
    with client.session_transaction() as session:
        assert session["sid"] in accounts.sessions and session["sid"] != "planted-by-an-attacker"
    assert csrf_token(client, "/login") != before
    assert audit.entries[-1][1:3] == ("login", "ana")


def test_the_session_cookie_is_http_only_and_same_site_lax(app, accounts):
    accounts.add("ana", "correct horse battery")
    cookie = log_in(app.test_client(), "ana", "correct horse battery").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert "Expires=" in cookie


def test_the_session_cookie_is_secure_when_configured(tmp_path, accounts, audit):
    app = make_app(tmp_path, accounts, audit, ui_secure_cookies=True)
    accounts.add("ana", "correct horse battery")
    assert "Secure" in log_in(app.test_client(), "ana", "correct horse battery").headers["Set-Cookie"]


def test_logins_are_refused_after_too_many_failures(app, accounts):
    accounts.add("ana", "correct horse battery")
    accounts.failures = 10
    response = log_in(app.test_client(), "ana", "correct horse battery")
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0


def test_logging_out_ends_the_session(app, accounts):
    client = fake_login(app, accounts)
    with client.session_transaction() as session:
        sid = session["sid"]
    csrf = csrf_token(client, "/login")
    assert client.post("/logout", data={"csrf_token": csrf}).status_code == 303
    assert sid not in accounts.sessions
    assert client.get("/transactions").status_code == 302


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/admin/users"),
        ("get", "/audit"),
        ("post", "/admin/users"),
        ("post", "/admin/users/bob/disable"),
        ("post", "/models/v0001/promote"),
        ("post", "/models/rollback"),
    ],
)
def test_an_analyst_cannot_reach_admin_pages(app, accounts, method, path):
    client = fake_login(app, accounts)
    csrf = csrf_token(client, "/login")
    response = getattr(client, method)(path, data={"csrf_token": csrf} if method == "post" else None)
    assert response.status_code == 403


def test_an_admin_reaches_admin_pages(app, accounts):
    client = fake_login(app, accounts, "root", ADMIN)
    assert client.get("/admin/users").status_code == 503  # past the role check, at the database
