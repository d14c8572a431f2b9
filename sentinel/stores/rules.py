"""The `rules` table (migration 0010): every version of every rule, and the rules in force.

A change is a new row, never an update (a trigger refuses those), so a rule's
history stays readable and the highest id names the revision of the rules as a
whole: score asks for it once a second and reloads only when it moved. Every
change is audited in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from sentinel.core.behaviour import FEATURES
from sentinel.core.errors import ClientError
from sentinel.core.rules import Rule, Ruleset, checked, facts_of
from sentinel.stores.audit import record_in
from sentinel.stores.database import Database, transaction

_COLUMNS = "name, version, expression, action, priority, enabled, description, changed_by, changed_at"
_REVISION = "SELECT coalesce(max(id), 0) FROM rules"
_IN_FORCE = f"SELECT DISTINCT ON (name) {_COLUMNS} FROM rules ORDER BY name, version DESC"
# Rule changes serialise on this advisory lock, so two of them never take the same version.
_WRITE_LOCK_ID = 7_318_203


class UnknownRule(LookupError):
    """No rule has that name."""


@dataclass(frozen=True)
class StoredRule:
    """A rule as the table keeps it: the rule, and who changed it last and when."""

    rule: Rule
    changed_by: str
    changed_at: datetime


@dataclass(frozen=True)
class TestedTransaction:
    """A stored transaction a rule was tried on, and what the rule would have made of it."""

    client_id: str
    transaction_id: str
    risk_score: float
    decision: str  # what was decided at the time
    matched: bool
    would_decide: str  # with the rule tried first


def revision(db: Database) -> int:
    """Which revision of the rules is newest: 0 before any rule was written."""
    with transaction(db) as conn:
        return conn.execute(_REVISION).fetchone()[0]


def in_force(db: Database) -> tuple[list[StoredRule], int]:
    """Every rule's newest version, enabled or not, and the revision they are as of."""
    with transaction(db) as conn:
        rows = conn.cursor(row_factory=dict_row).execute(_IN_FORCE).fetchall()
        newest = conn.execute(_REVISION).fetchone()[0]
    return [_stored(row) for row in rows], newest


def ruleset(db: Database) -> Ruleset:
    """The rules score applies now."""
    rules, newest = in_force(db)
    return Ruleset.of([stored.rule for stored in rules], newest)


def history(db: Database, name: str) -> list[StoredRule]:
    """Every version of one rule, newest first."""
    with transaction(db) as conn:
        rows = (
            conn.cursor(row_factory=dict_row)
            .execute(f"SELECT {_COLUMNS} FROM rules WHERE name = %s ORDER BY version DESC", (name,))
            .fetchall()
        )
    return [_stored(row) for row in rows]


def save(db: Database, rule: Rule, *, by: str) -> Rule:
    """Add `rule` as a new rule, or as the next version of the rule of that name."""
    with transaction(db) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_WRITE_LOCK_ID,))
        latest = conn.execute("SELECT max(version) FROM rules WHERE name = %s", (rule.name,)).fetchone()[0]
        saved = _insert(conn, rule, (latest or 0) + 1, by)
        details = {"version": saved.version, "expression": rule.expression, "action": rule.action}
        details |= {"priority": rule.priority, "enabled": rule.enabled}
        record_in(conn, by, "rule.add" if latest is None else "rule.change", rule.name, details)
    return saved


def set_enabled(db: Database, name: str, enabled: bool, *, by: str) -> Rule:
    """A new version of rule `name`, the same but enabled or not; raises UnknownRule."""
    with transaction(db) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_WRITE_LOCK_ID,))
        row = (
            conn.cursor(row_factory=dict_row)
            .execute(f"SELECT {_COLUMNS} FROM rules WHERE name = %s ORDER BY version DESC LIMIT 1", (name,))
            .fetchone()
        )
        if row is None:
            raise UnknownRule(f"there is no rule named {name!r}")
        current = _stored(row).rule
        if current.enabled == enabled:
            return current
        saved = _insert(conn, replace(current, enabled=enabled), current.version + 1, by)
        record_in(conn, by, "rule.enable" if enabled else "rule.disable", name, {"version": saved.version})
    return saved


def tried_on_recent(db: Database, rule: Rule, *, limit: int) -> list[TestedTransaction]:
    """What `rule` would have done to the newest `limit` stored transactions, tried before every other rule."""
    with transaction(db) as conn:
        rows = conn.execute(
            "SELECT client_id, transaction_id, payload, behaviour, risk_score, decision"
            " FROM transactions ORDER BY scored_at DESC LIMIT %s",
            (limit,),
        ).fetchall()
    tried = []
    for client_id, transaction_id, payload, behavioural, risk_score, decision in rows:
        facts = facts_of({**payload, "client_id": client_id}, _complete(behavioural), risk_score)
        matched = rule.matches(facts)
        would_decide = rule.decision if matched else decision
        tried.append(TestedTransaction(client_id, transaction_id, risk_score, decision, matched, would_decide))
    return tried


def _complete(behavioural: dict[str, float] | None) -> dict[str, float]:
    """A stored transaction's behavioural features; one stored before they existed has none, read as zeros."""
    return {name: float((behavioural or {}).get(name, 0.0)) for name in FEATURES}


def _insert(conn: psycopg.Connection, rule: Rule, version: int, by: str) -> Rule:
    conn.execute(
        "INSERT INTO rules (name, version, expression, action, priority, enabled, description, changed_by)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (rule.name, version, rule.expression, rule.action, rule.priority, rule.enabled, rule.description, by),
    )
    return replace(rule, version=version)


def _stored(row: dict[str, Any]) -> StoredRule:
    try:
        rule = checked(
            name=row["name"],
            expression=row["expression"],
            action=row["action"],
            priority=row["priority"],
            description=row["description"],
            enabled=row["enabled"],
        )
    except ClientError as error:  # written by an older version whose grammar was wider
        raise ValueError(f"stored rule {row['name']} v{row['version']} no longer compiles: {error.problems}") from None
    return StoredRule(replace(rule, version=row["version"]), row["changed_by"], row["changed_at"])
