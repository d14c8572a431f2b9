"""Logging in to the UI in tests: in-memory accounts for unit tests, real users for the stack's tests."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from sentinel.stores.users import ANALYST, User, UserStore

CSRF_PATTERN = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class FakeAccounts:
    """The users and sessions of sentinel.stores.users.UserStore, in memory (see ui.auth.Accounts)."""

    passwords: dict[str, str] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    sessions: dict[str, str] = field(default_factory=dict)
    failures: int = 0

    def add(self, name: str, password: str, role: str = ANALYST) -> User:
        self.users[name] = User(name, role, datetime.now(UTC), None)
        self.passwords[name] = password
        return self.users[name]

    def authenticate(self, name: str, password: str) -> User | None:
        if name in self.users and secrets.compare_digest(self.passwords[name], password):
            return self.users[name]
        self.failures += 1
        return None

    def start_session(self, user: User, lifetime: timedelta) -> str:
        token = secrets.token_urlsafe(16)
        self.sessions[token] = user.name
        return token

    def session_user(self, token: str) -> User | None:
        return self.users.get(self.sessions.get(token, ""))

    def end_session(self, token: str) -> None:
        self.sessions.pop(token, None)

    def recent_failures(self, name: str, address: str, window: timedelta) -> tuple[int, int]:
        return self.failures, self.failures


@dataclass
class FakeAudit:
    entries: list[tuple[str, str, str, dict]] = field(default_factory=list)

    def record(self, actor: str, action: str, subject: str, details: dict | None = None) -> None:
        self.entries.append((actor, action, subject, details or {}))


def fake_login(app: Flask, accounts: FakeAccounts, name: str = "ana", role: str = ANALYST) -> FlaskClient:
    """A test client of `app` (made with these `accounts`) whose session belongs to a new user `name`."""
    client = app.test_client()
    token = accounts.start_session(accounts.add(name, secrets.token_urlsafe(16), role), timedelta(hours=1))
    with client.session_transaction() as session:
        session["sid"] = token
    return client


def csrf_token(client: FlaskClient, path: str) -> str:
    """The CSRF token of the form on the page at `path`."""
    return CSRF_PATTERN.search(client.get(path).get_data(as_text=True)).group(1)


def log_in(client: FlaskClient, name: str, password: str) -> Any:
    """Log `client` in through the login form, as a browser would; the response."""
    return client.post("/login", data={"csrf_token": csrf_token(client, "/login"), "name": name, "password": password})


def new_user(database_url: str, role: str = ANALYST, *, name: str | None = None) -> tuple[str, str]:
    """A user with a fresh name and password in the database; (name, password)."""
    name = name or f"{role}-{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(18)
    store = UserStore.connect(database_url, name="tests")
    try:
        store.add(name, password, role, by="tests")
    finally:
        store.close()
    return name, password


def logged_in_client(app: Flask, database_url: str, role: str = ANALYST) -> FlaskClient:
    """A test client of `app` logged in as a new user with `role` in the app's database."""
    client = app.test_client()
    response = log_in(client, *new_user(database_url, role))
    assert response.status_code == 303, response.get_data(as_text=True)
    return client
