"""Rules and the challenger in shadow, as PostgreSQL keeps them (sentinel.stores.rules, sentinel.stores.registry)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from support import a_score, a_transaction

from sentinel.core.rules import Rule
from sentinel.stores import registry, rules
from sentinel.stores.audit import AuditLog
from sentinel.stores.decisions import DecisionStore
from sentinel.stores.registry import UnknownModel

pytestmark = pytest.mark.stack

THRESHOLDS = {"review": 0.3, "block": 0.8}


@pytest.fixture(scope="module")
def database_url(stack) -> str:
    return stack.fresh_database("rules_tests")


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    """A connection to a database without rules, models or transactions (the audit log is append-only)."""
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute("TRUNCATE rules, models, promotions, transactions")
        yield connection


def big_amounts(action: str = "review", priority: int = 10) -> Rule:
    return Rule("big-amounts", "Amount > 5000", action, priority)


def audited(database_url: str, subject: str) -> list[tuple[str, dict]]:
    log = AuditLog.connect(database_url, name="rules-tests")
    try:
        return [(entry.action, entry.details) for entry in log.entries(limit=20) if entry.subject == subject]
    finally:
        log.close()


def test_a_new_rule_is_version_one_and_in_force(conn):
    saved = rules.save(conn, big_amounts(), by="alice")
    assert saved.version == 1
    [stored], revision = rules.in_force(conn)
    assert (stored.rule, stored.changed_by) == (saved, "alice") and revision == rules.revision(conn) > 0


def test_saving_a_rule_of_the_same_name_adds_a_version_and_keeps_the_old_one(conn):
    rules.save(conn, big_amounts("review"), by="alice")
    rules.save(conn, big_amounts("block"), by="bob")
    assert [(stored.rule.version, stored.rule.action) for stored in rules.history(conn, "big-amounts")] == [
        (2, "block"),
        (1, "review"),
    ]
    assert rules.ruleset(conn).rules[0].action == "block"


def test_a_disabled_rule_stays_listed_but_is_not_applied(conn):
    rules.save(conn, big_amounts(), by="alice")
    disabled = rules.set_enabled(conn, "big-amounts", False, by="bob")
    assert (disabled.version, disabled.enabled) == (2, False)
    [stored], _ = rules.in_force(conn)
    assert not stored.rule.enabled and rules.ruleset(conn).rules == ()


def test_every_change_moves_the_revision_score_polls(conn):
    before = rules.revision(conn)
    rules.save(conn, big_amounts(), by="alice")
    middle = rules.revision(conn)
    rules.set_enabled(conn, "big-amounts", False, by="alice")
    assert before < middle < rules.revision(conn) == rules.ruleset(conn).revision


def test_disabling_an_unknown_rule_says_so(conn):
    with pytest.raises(rules.UnknownRule, match="no-such-rule"):
        rules.set_enabled(conn, "no-such-rule", False, by="alice")


def test_rule_changes_are_audited_with_who_and_what(conn, database_url):
    rules.save(conn, Rule("audited-rule", "Amount > 1", "block", 3), by="alice")
    rules.set_enabled(conn, "audited-rule", False, by="bob")
    entries = audited(database_url, "audited-rule")
    assert [action for action, _ in entries][:2] == ["rule.disable", "rule.add"]
    assert entries[1][1]["expression"] == "Amount > 1"


def test_a_stored_version_can_be_neither_changed_nor_removed(conn):
    rules.save(conn, big_amounts(), by="alice")
    with pytest.raises(psycopg.errors.RaiseException, match="versioned"):
        conn.execute("UPDATE rules SET action = 'allow'")
    with pytest.raises(psycopg.errors.RaiseException, match="versioned"):
        conn.execute("DELETE FROM rules")


def test_a_rule_tried_on_recent_transactions_shows_what_it_would_have_decided(conn, database_url):
    store = DecisionStore.connect(database_url)
    try:
        store.store([a_score(a_transaction(Amount=9000.0)), a_score(a_transaction(Amount=10.0))])
    finally:
        store.close()
    tried = rules.tried_on_recent(conn, Rule("block-big", "Amount > 5000", "block", 1), limit=10)
    assert sorted((item.decision, item.would_decide) for item in tried) == [
        ("approve", "approve"),
        ("approve", "block"),
    ]


def register(conn: psycopg.Connection, name: bytes) -> str:
    return registry.register(conn, name, thresholds=THRESHOLDS, metrics={}, data_fingerprint="f").version


def test_a_model_put_in_shadow_is_the_challenger_score_polls(conn):
    champion, challenger = register(conn, b"one"), register(conn, b"two")
    registry.promote(conn, champion, by="tests", reason="first", force=True)
    assert registry.put_in_shadow(conn, challenger, by="alice") is None
    versions = registry.scoring_versions(conn)
    assert (versions.champion, versions.challenger) == (champion, challenger)


def test_a_new_challenger_replaces_the_one_in_shadow(conn):
    first, second = register(conn, b"one"), register(conn, b"two")
    registry.put_in_shadow(conn, first, by="alice")
    assert registry.put_in_shadow(conn, second, by="alice") == first
    assert registry.challenger_version(conn) == second


def test_the_champion_cannot_also_run_in_shadow(conn):
    champion = register(conn, b"one")
    registry.promote(conn, champion, by="tests", reason="first", force=True)
    with pytest.raises(ValueError, match="is the champion"):
        registry.put_in_shadow(conn, champion, by="alice")


def test_an_unknown_model_cannot_be_put_in_shadow(conn):
    with pytest.raises(UnknownModel):
        registry.put_in_shadow(conn, "v9999", by="alice")


def test_promoting_the_challenger_ends_its_shadow(conn):
    challenger = register(conn, b"one")
    registry.put_in_shadow(conn, challenger, by="alice")
    registry.promote(conn, challenger, by="tests", reason="it did well", force=True)
    assert registry.challenger_version(conn) is None


def test_ending_the_shadow_is_audited(conn, database_url):
    challenger = register(conn, b"one")
    registry.put_in_shadow(conn, challenger, by="alice")
    assert registry.end_shadow(conn, by="bob") == challenger
    assert registry.end_shadow(conn, by="bob") is None
    assert [action for action, _ in audited(database_url, challenger)][:2] == ["model.unshadow", "model.shadow"]
