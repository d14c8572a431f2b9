"""The Rules page and the challenger on the Models page, through Flask's test client on a real PostgreSQL."""

from __future__ import annotations

import html
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg.types.json import Jsonb
from support import a_gate
from ui_login import csrf_token, logged_in_client

from sentinel.core.rules import Rule
from sentinel.stores import registry, rules
from ui import create_app

pytestmark = pytest.mark.stack

NOW = datetime.now(UTC).replace(microsecond=0)
THRESHOLDS = {"review": 0.5, "block": 0.8}


@pytest.fixture(scope="module")
def database_url(stack):
    return stack.fresh_database("ui_rules")


@pytest.fixture(scope="module")
def app(stack, database_url):
    return create_app(replace(stack.settings, database_url=database_url))


@pytest.fixture
def db(database_url):
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("TRUNCATE rules, transactions, alerts, labels, promotions, models")
        yield conn


@pytest.fixture(scope="module")
def analyst_client(app, database_url):
    return logged_in_client(app, database_url)


@pytest.fixture(scope="module")
def admin_client(app, database_url):
    return logged_in_client(app, database_url, "admin")


@pytest.fixture
def analyst(analyst_client, db):
    return analyst_client


@pytest.fixture
def admin(admin_client, db):
    return admin_client


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def words(response) -> str:
    """The page as a reader sees it: without tags, every run of spaces one space."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


def add_decision(db, transaction_id: str, *, amount: float = 10.0, decision: str = "approve", **columns) -> None:
    payload = {"transaction_id": transaction_id, "user_id": "u-1", "Time": 60.0, "Amount": amount}
    payload.update({f"V{i}": 0.0 for i in range(1, 29)})
    db.execute(
        "INSERT INTO transactions (client_id, transaction_id, user_id, amount, payload, risk_score, decision,"
        " model_version, thresholds, received_at, scored_at, rule, shadow)"
        " VALUES ('demo', %s, 'u-1', %s, %s, %s, %s, 'v0001', %s, %s, %s, %s, %s)",
        (
            transaction_id,
            amount,
            Jsonb(payload),
            columns.get("risk_score", 0.1),
            decision,
            Jsonb(THRESHOLDS),
            columns.get("scored_at", NOW),
            columns.get("scored_at", NOW),
            Jsonb(columns["rule"]) if "rule" in columns else None,
            Jsonb(columns["shadow"]) if "shadow" in columns else None,
        ),
    )


def add_model(db, version: str, status: str = "candidate", metrics: dict | None = None) -> None:
    db.execute(
        "INSERT INTO models (version, sha256, onnx, feature_names, thresholds, metrics, data_fingerprint, status)"
        " VALUES (%s, %s, 'onnx', '[]', %s, %s, 'synthetic', %s)",
        (version, "ab" * 32, Jsonb(THRESHOLDS), Jsonb(metrics or {}), status),
    )


def test_the_rules_page_explains_itself_when_there_are_none(analyst):
    page = text(analyst.get("/rules"))
    assert "No rules yet" in page and "merchant_new_for_user" in page


def test_an_admin_adds_a_rule_in_the_ui_and_it_is_listed_versioned_and_audited(admin, database_url):
    token = csrf_token(admin, "/rules")
    form = {"csrf_token": token, "name": "big-new", "expression": "Amount > 5000 and merchant_new_for_user"}
    response = admin.post("/rules", data={**form, "action": "review", "priority": "10", "description": "ticket 7"})
    assert response.status_code == 303
    page = text(admin.get("/rules"))
    assert "Amount > 5000 and merchant_new_for_user" in page and "v1" in page and "ticket 7" in page
    with psycopg.connect(database_url) as conn:
        assert rules.history(conn, "big-new")[0].changed_by.startswith("admin")


def test_an_invalid_rule_is_a_400_naming_the_problem_and_nothing_is_stored(admin, db):
    token = csrf_token(admin, "/rules")
    response = admin.post(
        "/rules", data={"csrf_token": token, "name": "bad", "expression": "amount > 5", "action": "block"}
    )
    assert response.status_code == 400
    assert "expression" in text(response) and "'amount'" in text(response) and "Amount" in text(response)
    assert rules.revision(db) == 0


def test_an_admin_disables_and_enables_a_rule(admin, db):
    rules.save(db, Rule("block-m", 'merchant_id == "m-1"', "block", 1), by="tests")
    token = csrf_token(admin, "/rules")
    assert admin.post("/rules/block-m/disable", data={"csrf_token": token}).status_code == 303
    assert rules.ruleset(db).rules == ()
    assert admin.post("/rules/block-m/enable", data={"csrf_token": token}).status_code == 303
    assert [rule.name for rule in rules.ruleset(db).rules] == ["block-m"]


def test_an_analyst_sees_the_rules_but_cannot_change_them(analyst, db):
    rules.save(db, Rule("block-m", 'merchant_id == "m-1"', "block", 1), by="tests")
    assert "block-m" in text(analyst.get("/rules"))
    token = csrf_token(analyst, "/rules")
    assert analyst.post("/rules/block-m/disable", data={"csrf_token": token}).status_code == 403
    assert len(rules.ruleset(db).rules) == 1


def test_trying_a_rule_shows_what_it_would_change_on_recent_transactions(analyst, db):
    add_decision(db, "t-big", amount=9000.0)
    add_decision(db, "t-small", amount=5.0)
    page = words(analyst.get("/rules/test", query_string={"expression": "Amount > 5000", "action": "block"}))
    assert "Of the newest 2 transactions, 1 match; 1 would be decided otherwise" in page
    assert "t-big" in page and "t-small" not in page


def test_trying_an_invalid_rule_is_a_400(analyst):
    response = analyst.get("/rules/test", query_string={"expression": "Amount >", "action": "block"})
    assert response.status_code == 400 and "is not a valid condition" in text(response)


def test_the_rules_api_lists_every_rule_with_its_version(analyst, db):
    rules.save(db, Rule("block-m", 'merchant_id == "m-1"', "block", 1), by="tests")
    body = analyst.get("/api/rules").get_json()
    assert body["revision"] > 0 and [(item["name"], item["version"]) for item in body["items"]] == [("block-m", 1)]


def test_a_decision_made_by_a_rule_says_so_on_its_page(analyst, db):
    add_decision(db, "t-ruled", decision="block", rule={"name": "block-m", "version": 3, "action": "block"})
    page = words(analyst.get("/transactions/demo/t-ruled"))
    assert "rule block-m v3 (block), before the thresholds" in page


def test_an_alert_raised_by_a_rule_names_the_rule_in_the_alert_queue(analyst, db):
    rule = {"name": "block-m", "version": 2, "action": "block"}
    add_decision(db, "t-ruled", decision="block", rule=rule)
    db.execute(
        "INSERT INTO alerts (client_id, transaction_id, user_id, decision, risk_score, model_version, rule)"
        " VALUES ('demo', 't-ruled', 'u-1', 'block', 0.1, 'v0001', %s)",
        (Jsonb(rule),),
    )
    assert "block rule block-m" in words(analyst.get("/alerts"))


def test_a_decision_made_with_a_challenger_in_shadow_shows_its_would_be_decision(analyst, db):
    shadow = {"model_version": "v0002", "risk_score": 0.9, "decision": "block"}
    add_decision(db, "t-shadowed", shadow=shadow)
    page = words(analyst.get("/transactions/demo/t-shadowed"))
    assert "v0002 would have decided block at risk 0.9000 (not acted on)" in page


def test_an_admin_puts_a_model_in_shadow_and_ends_it(admin, db):
    add_model(db, "v0001", "champion")
    add_model(db, "v0002")
    token = csrf_token(admin, "/models/v0002")
    assert admin.post("/models/v0002/shadow", data={"csrf_token": token}).status_code == 303
    assert registry.challenger_version(db) == "v0002"
    assert "in shadow" in text(admin.get("/models"))
    assert admin.post("/models/shadow/stop", data={"csrf_token": token}).status_code == 303
    assert registry.challenger_version(db) is None


def test_the_champion_cannot_be_put_in_shadow_from_the_ui(admin, db):
    add_model(db, "v0001", "champion")
    response = admin.post("/models/v0001/shadow", data={"csrf_token": csrf_token(admin, "/models/v0001")})
    assert response.status_code == 409 and "is the champion" in text(response)


def test_the_models_page_compares_champion_and_challenger_on_live_traffic(analyst, db):
    add_model(db, "v0001", "champion")
    add_model(db, "v0002")
    db.execute("UPDATE models SET shadow = true WHERE version = 'v0002'")
    hour_ago = NOW - timedelta(hours=1)
    outcomes = [
        ("approve", "approve", None),
        ("approve", "block", "fraud"),
        ("block", "block", "fraud"),
        ("review", "approve", "legitimate"),
    ]
    for number, (champion, challenger, label) in enumerate(outcomes):
        transaction_id = f"t-{number}"
        add_decision(
            db,
            transaction_id,
            decision=champion,
            scored_at=hour_ago + timedelta(minutes=20 * number),
            shadow={"model_version": "v0002", "risk_score": 0.5, "decision": challenger},
        )
        if label:
            db.execute(
                "INSERT INTO labels (client_id, transaction_id, label, labelled_by) VALUES ('demo', %s, %s, 'tests')",
                (transaction_id, label),
            )
    page = words(analyst.get("/models"))
    assert "4 live decisions recorded it in shadow" in page and "agree on 50.0 %" in page
    assert "Labelled since: 3, of which 2 fraud" in page
    # champion alerts on t-2 (fraud) and t-3 (legitimate): precision 0.5, recall 0.5, 2 alerts in an hour
    assert "Champion (decides) 2 2 0.5 0.5" in page
    # challenger alerts on t-1 and t-2, both fraud: precision 1, recall 1
    assert "Challenger (in shadow) 2 2 1 1" in page


def test_an_admin_promotes_the_challenger_from_the_comparison_through_its_gate_and_its_shadow_ends(admin, db):
    add_model(db, "v0001", "champion")
    add_model(db, "v0002", metrics={"gate": a_gate("v0002", "v0001", 0.9)})
    db.execute("UPDATE models SET shadow = true WHERE version = 'v0002'")
    page = text(admin.get("/models"))
    assert 'action="/models/v0002/promote"' in page and "Promote v0002 (through the gate)" in page
    token = csrf_token(admin, "/models")
    assert admin.post("/models/v0002/promote", data={"csrf_token": token}).status_code == 303
    assert db.execute("SELECT version FROM models WHERE status = 'champion'").fetchone() == ("v0002",)
    assert registry.challenger_version(db) is None


def test_a_challenger_that_failed_its_gate_is_not_promoted_from_the_comparison(admin, db):
    add_model(db, "v0001", "champion")
    add_model(db, "v0002", metrics={"gate": a_gate("v0002", "v0001", 0.5)})
    db.execute("UPDATE models SET shadow = true WHERE version = 'v0002'")
    response = admin.post("/models/v0002/promote", data={"csrf_token": csrf_token(admin, "/models")})
    assert response.status_code == 409 and "fails the gate" in text(response)
    assert registry.challenger_version(db) == "v0002"
