"""Users, sessions and the audit log on the test stack's PostgreSQL, and the commands that manage them."""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from datetime import timedelta

import psycopg
import pytest
from support import SENTINEL

from sentinel.core.errors import ClientError
from sentinel.stack import first_admin
from sentinel.stores import registry
from sentinel.stores.audit import AuditLog, record_in
from sentinel.stores.users import ADMIN, ANALYST, UserStore

pytestmark = pytest.mark.stack

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def database_url(stack):
    return stack.fresh_database("users_audit")


@pytest.fixture
def db(database_url):
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("TRUNCATE ui_sessions, users, models, promotions CASCADE")
        yield conn


@pytest.fixture
def users(database_url, db):
    store = UserStore.connect(database_url)
    yield store
    store.close()


@pytest.fixture
def audit(database_url):
    log = AuditLog.connect(database_url)
    yield log
    log.close()


def run(stack, database_url, *arguments: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**stack.env, "DATABASE_URL": database_url}
    return subprocess.run([SENTINEL, *arguments], env=env, input=stdin, capture_output=True, text=True, timeout=60)


def test_entries_are_newest_first_filtered_and_paged(audit):
    for number in range(3):
        audit.record("ana", "label.add", f"t-{number}", {"label": "fraud"})
    audit.record("bob", "alert.close", "t-9")
    newest = audit.entries(limit=2, actor="ana")
    assert [entry.subject for entry in newest] == ["t-2", "t-1"]
    assert newest[0].details == {"label": "fraud"}
    assert [entry.subject for entry in audit.entries(before_id=newest[-1].id, actor="ana")] == ["t-0"]
    assert [entry.actor for entry in audit.entries(action="alert.close", limit=1)] == ["bob"]


def test_an_entry_recorded_in_a_transaction_that_rolls_back_is_gone_with_it(database_url, audit):
    with psycopg.connect(database_url) as conn:
        record_in(conn, "ana", "rolled.back", "t-1")
        conn.rollback()
    assert audit.entries(action="rolled.back") == []


def test_a_user_logs_in_with_the_right_password_only(users):
    users.add("ana", PASSWORD, ANALYST, by="tests")
    assert users.authenticate("ana", PASSWORD).role == ANALYST
    assert users.authenticate("ana", PASSWORD + "!") is None
    assert users.authenticate("nobody", PASSWORD) is None


def test_only_a_hash_of_the_password_is_stored(users, db):
    users.add("ana", PASSWORD, ANALYST, by="tests")
    stored = db.execute("SELECT password_hash FROM users WHERE name = 'ana'").fetchone()[0]
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


@pytest.mark.parametrize(
    ("name", "password", "role", "reason"),
    [
        ("Ana Smith", PASSWORD, ANALYST, "invalid user name"),
        ("ana", "short", ANALYST, "12 to 1024 characters"),
        ("ana", PASSWORD, "root", "unknown role"),
    ],
)
def test_a_bad_user_is_refused_with_the_reason(users, name, password, role, reason):
    with pytest.raises(ClientError, match=reason):
        users.add(name, password, role, by="tests")


def test_a_name_is_taken_once(users):
    users.add("ana", PASSWORD, ANALYST, by="tests")
    with pytest.raises(ClientError) as refused:
        users.add("ana", PASSWORD, ADMIN, by="tests")
    assert refused.value.status == 409


def test_a_session_lasts_until_it_ends_or_expires(users):
    ana = users.add("ana", PASSWORD, ANALYST, by="tests")
    token = users.start_session(ana, timedelta(hours=1))
    assert users.session_user(token).name == "ana"
    users.end_session(token)
    assert users.session_user(token) is None
    assert users.session_user(users.start_session(ana, timedelta(seconds=-1))) is None


def test_disabling_a_user_ends_their_sessions_and_logins_and_is_audited(users, audit):
    ana = users.add("ana", PASSWORD, ANALYST, by="tests")
    token = users.start_session(ana, timedelta(hours=1))
    assert users.disable("ana", by="root") is True
    assert users.session_user(token) is None
    assert users.authenticate("ana", PASSWORD) is None
    assert users.disable("ana", by="root") is False
    assert [(entry.actor, entry.action) for entry in audit.entries(limit=2)] == [
        ("root", "user.disable"),
        ("tests", "user.add"),
    ]


def test_failed_logins_are_counted_per_name_and_address(users, audit):
    for address in ("10.0.0.1", "10.0.0.2"):
        audit.record("ana", "login.failed", "ana", {"address": address})
    assert users.recent_failures("ana", "10.0.0.1", timedelta(minutes=15)) == (2, 1)


def test_promotions_and_rollbacks_are_audited_with_the_change(database_url, db, audit):
    for version in ("v0001", "v0002"):
        db.execute(
            "INSERT INTO models (version, sha256, onnx, feature_names, thresholds, data_fingerprint)"
            " VALUES (%s, 'ab', 'x', '[]', '{}', 'tests')",
            (version,),
        )
    registry.promote(db, "v0001", by="root", reason="first")
    registry.promote(db, "v0002", by="root", reason="better")
    registry.rollback(db, by="ana", reason="worse in production")
    changes = [(entry.actor, entry.action, entry.subject) for entry in audit.entries(limit=3)]
    assert changes == [
        ("ana", "model.rollback", "v0001"),
        ("root", "model.promote", "v0002"),
        ("root", "model.promote", "v0001"),
    ]


def test_the_first_admin_is_made_once_with_a_password_in_a_private_file(stack, database_url, users, tmp_path):
    settings = replace(stack.settings, database_url=database_url, state_dir=tmp_path)
    assert first_admin.ensure(settings)
    password_file = first_admin.password_file(tmp_path)
    assert password_file.stat().st_mode & 0o777 == 0o600
    assert users.authenticate("admin", password_file.read_text().strip()).role == ADMIN
    assert not first_admin.ensure(settings)


def test_users_add_reads_the_password_from_stdin_and_list_and_audit_show_it(stack, database_url, db):
    added = run(
        stack, database_url, "users", "add", "ana", "--role", "analyst", "--password-stdin", stdin=PASSWORD + "\n"
    )
    assert added.returncode == 0, added.stdout + added.stderr
    assert PASSWORD not in added.stdout + added.stderr
    listed = run(stack, database_url, "users", "list")
    assert "ana" in listed.stdout and "analyst" in listed.stdout
    disabled = run(stack, database_url, "users", "disable", "ana")
    assert disabled.returncode == 0
    assert run(stack, database_url, "users", "disable", "ana").returncode == 2
    audited = run(stack, database_url, "audit", "--limit", "2", "--json")
    assert [json.loads(line)["action"] for line in audited.stdout.splitlines()] == ["user.disable", "user.add"]


def test_users_add_refuses_a_short_password(stack, database_url, db):
    refused = run(stack, database_url, "users", "add", "ana", "--role", "admin", "--password-stdin", stdin="short\n")
    assert refused.returncode == 2
    assert "12 to 1024 characters" in refused.stdout
