"""Attacks on the analysts' UI, against the stack's running UI over HTTP: each now fails; a
logged-in analyst still labels and closes alerts.

Before logins, a CSRF token from any page let anyone close alerts or label transactions
under any name they typed, and the JSON API answered anyone.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime

import psycopg
import pytest
import requests
from psycopg.types.json import Jsonb
from ui_login import new_user

from sentinel.stores.api_keys import ApiKeyStore
from sentinel.stores.users import ADMIN

pytestmark = pytest.mark.stack

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
TIMEOUT = 15
CLIENT = "sec-tests"  # the client whose transactions these tests add


@pytest.fixture(scope="module")
def ui(stack) -> str:
    return stack.url("ui")


@pytest.fixture(scope="module")
def db(stack):
    with psycopg.connect(stack.settings.database_url, autocommit=True) as conn:
        yield conn


def csrf(session: requests.Session, ui: str) -> str:
    return CSRF.search(session.get(f"{ui}/login", timeout=TIMEOUT).text).group(1)


def logged_in(ui: str, name: str, password: str) -> requests.Session:
    session = requests.Session()
    response = session.post(
        f"{ui}/login",
        data={"csrf_token": csrf(session, ui), "name": name, "password": password},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert response.status_code == 303, response.text
    return session


@pytest.fixture
def analyst(stack, ui) -> tuple[str, requests.Session]:
    name, password = new_user(stack.settings.database_url)
    return name, logged_in(ui, name, password)


def an_alert(db) -> str:
    """A block decision of CLIENT with an open alert, as persist and alert store them; its transaction id."""
    transaction_id = f"t-sec-{uuid.uuid4().hex[:12]}"
    now = datetime.now(UTC)
    db.execute(
        "INSERT INTO transactions (client_id, transaction_id, user_id, amount, event_time, payload, risk_score,"
        " decision, model_version, thresholds, received_at, scored_at)"
        " VALUES (%s, %s, 'u-sec', 99.0, %s, %s, 0.97, 'block', 'v-sec', %s, %s, %s)",
        (
            CLIENT,
            transaction_id,
            now,
            Jsonb({"transaction_id": transaction_id}),
            Jsonb({"review": 0.5, "block": 0.9}),
            now,
            now,
        ),
    )
    db.execute(
        "INSERT INTO alerts (client_id, transaction_id, user_id, decision, risk_score, model_version)"
        " VALUES (%s, %s, 'u-sec', 'block', 0.97, 'v-sec')",
        (CLIENT, transaction_id),
    )
    return transaction_id


def alert_status(db, transaction_id: str) -> str:
    return db.execute(
        "SELECT status FROM alerts WHERE client_id = %s AND transaction_id = %s", (CLIENT, transaction_id)
    ).fetchone()[0]


def labels(db, transaction_id: str) -> list[tuple]:
    return db.execute(
        "SELECT label, labelled_by FROM labels WHERE client_id = %s AND transaction_id = %s", (CLIENT, transaction_id)
    ).fetchall()


def test_pages_without_a_login_redirect_to_the_login_page(ui):
    """Attack: anyone who reaches the UI reads the transactions and alerts."""
    for path in ("/", "/transactions", "/alerts", "/models", "/dead-letters"):
        response = requests.get(f"{ui}{path}", allow_redirects=False, timeout=TIMEOUT)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login"), path


def test_closing_an_alert_without_a_login_is_refused(ui, db):
    """Attack: a stranger takes a CSRF token from the login page and closes an alert."""
    transaction_id = an_alert(db)
    stranger = requests.Session()
    response = stranger.post(
        f"{ui}/alerts/{CLIENT}/{transaction_id}/close", data={"csrf_token": csrf(stranger, ui)}, timeout=TIMEOUT
    )
    assert response.status_code == 401
    assert alert_status(db, transaction_id) == "open"


def test_the_json_api_without_a_key_or_login_is_401(ui):
    """Attack: anyone reads every decision through /api/."""
    for path in ("/api/transactions", "/api/alerts", "/api/models", "/api/overview"):
        response = requests.get(f"{ui}{path}", timeout=TIMEOUT)
        assert response.status_code == 401, path
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_the_json_api_with_a_key_without_the_read_scope_is_403(stack, ui):
    """Attack: a shop's ingest key, leaked or misused, reads the decisions."""
    store = ApiKeyStore.connect(stack.settings.database_url, name="tests")
    try:
        key = store.create(f"shop-{uuid.uuid4().hex[:8]}", ["ingest"], by="tests")
    finally:
        store.close()
    response = requests.get(f"{ui}/api/transactions", headers={"Authorization": f"Bearer {key}"}, timeout=TIMEOUT)
    assert response.status_code == 403


def test_the_json_api_with_a_read_key_answers(stack, ui):
    """Positive path: a dashboard with a read key."""
    store = ApiKeyStore.connect(stack.settings.database_url, name="tests")
    try:
        key = store.create(f"dashboard-{uuid.uuid4().hex[:8]}", ["read"], by="tests")
    finally:
        store.close()
    response = requests.get(f"{ui}/api/alerts", headers={"Authorization": f"Bearer {key}"}, timeout=TIMEOUT)
    assert response.status_code == 200 and "items" in response.json()


def test_a_label_is_by_the_logged_in_analyst_whatever_the_form_says(ui, db, analyst):
    """Attack: an analyst labels a transaction under a colleague's name."""
    name, session = analyst
    transaction_id = an_alert(db)
    path = f"{ui}/transactions/{CLIENT}/{transaction_id}/labels"
    forged = session.post(
        path, data={"csrf_token": csrf(session, ui), "label": "legitimate", "analyst": "the-boss"}, timeout=TIMEOUT
    )
    assert forged.status_code == 400
    assert labels(db, transaction_id) == []
    honest = session.post(path, data={"csrf_token": csrf(session, ui), "label": "legitimate"}, timeout=TIMEOUT)
    assert honest.status_code == 200  # the detail page, after the redirect
    assert labels(db, transaction_id) == [("legitimate", name)]


def test_a_csrf_token_from_another_session_is_refused(stack, ui, db, analyst):
    """Attack: a token taken from one session (an attacker's own, or a stranger's) drives another."""
    _, victim = analyst
    attacker_name, attacker_password = new_user(stack.settings.database_url)
    attacker = logged_in(ui, attacker_name, attacker_password)
    transaction_id = an_alert(db)
    for token in (csrf(attacker, ui), csrf(requests.Session(), ui)):
        response = victim.post(
            f"{ui}/alerts/{CLIENT}/{transaction_id}/close", data={"csrf_token": token}, timeout=TIMEOUT
        )
        assert response.status_code == 400
        assert "csrf" in response.text.lower()
    assert alert_status(db, transaction_id) == "open"


def test_a_session_planted_before_login_is_not_logged_in_after_it(stack, ui):
    """Attack: session fixation; the attacker plants their cookie in the victim's browser before the login."""
    name, password = new_user(stack.settings.database_url)
    planted = requests.Session()
    planted.get(f"{ui}/login", timeout=TIMEOUT)
    victim = requests.Session()
    victim.cookies.update(planted.cookies)
    victim.post(
        f"{ui}/login", data={"csrf_token": csrf(victim, ui), "name": name, "password": password}, timeout=TIMEOUT
    )
    assert victim.get(f"{ui}/transactions", allow_redirects=False, timeout=TIMEOUT).status_code == 200
    assert planted.get(f"{ui}/transactions", allow_redirects=False, timeout=TIMEOUT).status_code == 302


def test_a_cookie_replayed_after_logout_is_refused(ui, analyst):
    """Attack: a copied session cookie is used after its owner logged out."""
    _, session = analyst
    stolen = dict(session.cookies)
    session.post(f"{ui}/logout", data={"csrf_token": csrf(session, ui)}, timeout=TIMEOUT)
    replay = requests.get(f"{ui}/transactions", cookies=stolen, allow_redirects=False, timeout=TIMEOUT)
    assert replay.status_code == 302


def test_a_disabled_users_sessions_end_at_once(stack, ui, analyst):
    """Attack: someone who left the team keeps using a browser that is still logged in."""
    name, session = analyst
    disabled = stack.sentinel("users", "disable", name)
    assert disabled.returncode == 0, disabled.stdout + disabled.stderr
    assert session.get(f"{ui}/transactions", allow_redirects=False, timeout=TIMEOUT).status_code == 302


def test_an_analyst_cannot_promote_roll_back_or_manage_users(ui, db, analyst):
    """Attack: an analyst changes the champion model, or makes themselves admin."""
    _, session = analyst
    champion = db.execute("SELECT version FROM models WHERE status = 'champion'").fetchone()
    for path, form in (
        ("/models/rollback", {}),
        ("/models/v0001/promote", {}),
        ("/admin/users", {"name": f"mallory-{uuid.uuid4().hex[:6]}", "role": ADMIN, "password": "x" * 16}),
        ("/admin/users/admin/disable", {}),
    ):
        response = session.post(f"{ui}{path}", data={"csrf_token": csrf(session, ui), **form}, timeout=TIMEOUT)
        assert response.status_code == 403, path
    for path in ("/admin/users", "/audit"):
        assert session.get(f"{ui}{path}", timeout=TIMEOUT).status_code == 403
    assert db.execute("SELECT version FROM models WHERE status = 'champion'").fetchone() == champion
    assert db.execute("SELECT count(*) FROM users WHERE name LIKE 'mallory-%'").fetchone()[0] == 0


def test_guessing_passwords_is_stopped_after_ten_failures(stack, ui):
    """Attack: trying passwords for a known name, as fast as the UI answers."""
    name, password = new_user(stack.settings.database_url)
    guesser = requests.Session()
    for attempt in range(10):
        wrong = guesser.post(
            f"{ui}/login", data={"csrf_token": csrf(guesser, ui), "name": name, "password": f"guess-{attempt}"}
        )
        assert wrong.status_code == 401
    right = guesser.post(f"{ui}/login", data={"csrf_token": csrf(guesser, ui), "name": name, "password": password})
    assert right.status_code == 429 and "Retry-After" in right.headers


def test_audit_rows_cannot_be_updated_or_deleted(db):
    """Attack: covering one's tracks by editing or deleting the audit log."""
    db.execute("INSERT INTO audit_log (actor, action, subject) VALUES ('tests', 'tamper.target', 'x')")
    for statement in (
        "UPDATE audit_log SET actor = 'someone-else' WHERE action = 'tamper.target'",
        "DELETE FROM audit_log WHERE action = 'tamper.target'",
        "TRUNCATE audit_log",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            db.execute(statement)
    assert db.execute("SELECT actor FROM audit_log WHERE action = 'tamper.target'").fetchall() == [("tests",)]


def test_an_analyst_logs_in_labels_and_closes_an_alert_and_the_audit_log_says_so(stack, ui, db, analyst):
    """Positive path: the work of an analyst's shift still works, and is recorded under their name."""
    name, session = analyst
    transaction_id = an_alert(db)
    labelled = session.post(
        f"{ui}/transactions/{CLIENT}/{transaction_id}/labels", data={"csrf_token": csrf(session, ui), "label": "fraud"}
    )
    assert labelled.status_code == 200 and f"Labelled fraud by {name}." in labelled.text
    closed = session.post(f"{ui}/alerts/{CLIENT}/{transaction_id}/close", data={"csrf_token": csrf(session, ui)})
    assert closed.status_code == 200
    assert alert_status(db, transaction_id) == "closed"
    assert session.get(f"{ui}/api/alerts?status=closed", timeout=TIMEOUT).status_code == 200
    audited = stack.sentinel("audit", "--actor", name, "--json")
    entries = [json.loads(line) for line in audited.stdout.splitlines()]
    assert [(entry["action"], entry["subject"]) for entry in entries] == [
        ("alert.close", f"{CLIENT}/{transaction_id}"),
        ("label.add", f"{CLIENT}/{transaction_id}"),
        ("login", name),
    ]
