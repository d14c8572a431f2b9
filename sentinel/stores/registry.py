"""The model registry: every trained model, and which one is the champion that scores traffic.

It lives in PostgreSQL's `models` table (migration 0001), so training writes and the
score function reads the same place. A unique partial index allows at most one
champion; `promote` retires the previous one in the same transaction, so there is
never a moment with two champions or, after the first promotion, none.

`promote` enforces the gate's verdict (sentinel.core.promotion; training.gate
measures it) unless forced, and every change of champion, forced or not, lands in
the `promotions` table (migration 0002) with who made it and why, and in the audit
log (migration 0005) in the same transaction; `rollback` walks
that history back.

At most one other model runs in shadow (migration 0011): score evaluates it beside
the champion and records what it would have decided. Promoting it ends its shadow.

Every function takes a psycopg connection (scripts, tests) or a pool (functions).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from sentinel.core.decision import Thresholds
from sentinel.core.model import ModelRecord, sha256_hex
from sentinel.core.promotion import GateResult, Promotion
from sentinel.core.transaction import FEATURE_NAMES
from sentinel.stores.audit import record_in
from sentinel.stores.database import Database, transaction

# Registry writes serialise on this transaction-level advisory lock, so two of them
# never pick the same version number or promote at the same time.
_WRITE_LOCK_ID = 7_318_202

_SUMMARY_COLUMNS = (
    "version, created_at, sha256, feature_names, thresholds, metrics, data_fingerprint,"
    " status, promoted_at, promoted_by, reason"
)


class UnknownModel(LookupError):
    """No model with that version is registered."""


class GateRejected(Exception):
    """The candidate scored worse than the champion by more than the margin; the message has the numbers."""


class NothingToRollBack(Exception):
    """The champion has no earlier champion to return to."""


def _record(row: Mapping[str, Any]) -> ModelRecord:
    return ModelRecord(
        version=row["version"],
        sha256=row["sha256"],
        onnx=bytes(row.get("onnx") or b""),
        feature_names=tuple(row["feature_names"]),
        thresholds={name: float(value) for name, value in row["thresholds"].items()},
        metrics=row["metrics"],
        data_fingerprint=row["data_fingerprint"],
        status=row["status"],
        created_at=row["created_at"],
        promoted_at=row["promoted_at"],
        promoted_by=row["promoted_by"],
        reason=row["reason"],
    )


def champion(db: Database) -> ModelRecord | None:
    """The model that scores traffic, with its ONNX bytes; None while the registry has none."""
    return _fetch_one(db, f"SELECT {_SUMMARY_COLUMNS}, onnx FROM models WHERE status = 'champion'")


def champion_version(db: Database) -> str | None:
    """Just the champion's version."""
    with transaction(db) as conn:
        row = conn.execute("SELECT version FROM models WHERE status = 'champion'").fetchone()
    return row[0] if row else None


class ScoringVersions(NamedTuple):
    """What score decides with, by name: see functions.score.setup."""

    champion: str | None
    challenger: str | None  # the model in shadow
    rules_revision: int  # sentinel.stores.rules.revision


def scoring_versions(db: Database) -> ScoringVersions:
    """Champion, challenger and rules revision in one round trip: cheap enough to poll every second."""
    with transaction(db) as conn:
        row = conn.execute(
            "SELECT (SELECT version FROM models WHERE status = 'champion'),"
            " (SELECT version FROM models WHERE shadow),"
            " (SELECT coalesce(max(id), 0) FROM rules)"
        ).fetchone()
    return ScoringVersions(*row)


def challenger_version(db: Database) -> str | None:
    """The model in shadow, if any."""
    with transaction(db) as conn:
        row = conn.execute("SELECT version FROM models WHERE shadow").fetchone()
    return row[0] if row else None


def put_in_shadow(db: Database, version: str, *, by: str) -> str | None:
    """Make `version` the challenger in shadow, in place of any other; the one it replaced.
    Raises UnknownModel, or ValueError for the champion (it decides already)."""
    with transaction(db) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_WRITE_LOCK_ID,))
        status = conn.execute("SELECT status FROM models WHERE version = %s", (version,)).fetchone()
        if status is None:
            raise UnknownModel(f"no model {version!r} in the registry")
        if status[0] == "champion":
            raise ValueError(f"{version} is the champion: it decides already, so it cannot also run in shadow")
        previous = conn.execute("SELECT version FROM models WHERE shadow").fetchone()
        if previous and previous[0] == version:
            return version
        conn.execute("UPDATE models SET shadow = false WHERE shadow")
        conn.execute("UPDATE models SET shadow = true WHERE version = %s", (version,))
        record_in(conn, by, "model.shadow", version, {"replaced": previous[0] if previous else None})
    return previous[0] if previous else None


def end_shadow(db: Database, *, by: str) -> str | None:
    """Take the challenger out of shadow; the one that was in it, or None."""
    with transaction(db) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_WRITE_LOCK_ID,))
        ended = conn.execute("UPDATE models SET shadow = false WHERE shadow RETURNING version").fetchone()
        if ended:
            record_in(conn, by, "model.unshadow", ended[0])
    return ended[0] if ended else None


def models(db: Database) -> list[ModelRecord]:
    """Every registered model without its bytes, newest first."""
    with transaction(db) as conn:
        rows = (
            conn.cursor(row_factory=dict_row)
            .execute(f"SELECT {_SUMMARY_COLUMNS} FROM models ORDER BY created_at DESC, version DESC")
            .fetchall()
        )
    return [_record(row) for row in rows]


def promotions(db: Database, *, limit: int = 20) -> list[Promotion]:
    """The latest changes of champion, newest first."""
    with transaction(db) as conn:
        rows = (
            conn.cursor(row_factory=dict_row)
            .execute(
                "SELECT version, previous_version, action, forced, promoted_by, reason, gate, promoted_at"
                " FROM promotions ORDER BY id DESC LIMIT %s",
                (limit,),
            )
            .fetchall()
        )
    return [Promotion(**row) for row in rows]


def get(db: Database, version: str, *, with_onnx: bool = True) -> ModelRecord | None:
    columns = f"{_SUMMARY_COLUMNS}, onnx" if with_onnx else _SUMMARY_COLUMNS
    return _fetch_one(db, f"SELECT {columns} FROM models WHERE version = %s", (version,))


def register(
    db: Database,
    onnx: bytes,
    *,
    thresholds: Mapping[str, float],
    metrics: Mapping[str, Any],
    data_fingerprint: str,
    feature_names: Sequence[str] = FEATURE_NAMES,
) -> ModelRecord:
    """Store a new candidate under the next version ("v0001", "v0002", ...) and return it."""
    checked = Thresholds(review=float(thresholds["review"]), block=float(thresholds["block"]))
    with transaction(db) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_WRITE_LOCK_ID,))
        number = conn.execute(
            "SELECT coalesce(max(substring(version FROM '^v([0-9]+)$')::int), 0) + 1 FROM models"
        ).fetchone()[0]
        row = (
            conn.cursor(row_factory=dict_row)
            .execute(
                "INSERT INTO models (version, sha256, onnx, feature_names, thresholds, metrics, data_fingerprint)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s)"
                f" RETURNING {_SUMMARY_COLUMNS}, onnx",
                (
                    f"v{number:04d}",
                    sha256_hex(onnx),
                    onnx,
                    Jsonb(list(feature_names)),
                    Jsonb(checked.to_json()),
                    Jsonb(dict(metrics)),
                    data_fingerprint,
                ),
            )
            .fetchone()
        )
    return _record(row)


def record_gate(db: Database, gate: GateResult) -> None:
    """Keep the gate's verdict in the candidate's metrics, so a listing can say why it was or was not promoted."""
    with transaction(db) as conn:
        conn.execute(
            "UPDATE models SET metrics = metrics || jsonb_build_object('gate', %s::jsonb) WHERE version = %s",
            (Jsonb(gate.to_json()), gate.candidate_version),
        )


def promote(
    db: Database, version: str, *, by: str, reason: str, gate: GateResult | None = None, force: bool = False
) -> ModelRecord:
    """Make `version` the champion and retire the previous one, atomically; a no-op for the champion itself.

    With a failed `gate` it raises GateRejected unless `force`. A gate measured against
    another champion than the current one is stale and refused as well: the champion
    changed while the candidate was being evaluated.
    """
    return _change_champion(db, version, by=by, reason=reason, gate=gate, force=force, action="promote")


def rollback(db: Database, *, by: str, reason: str) -> ModelRecord:
    """Make the champion before the current one champion again; raises NothingToRollBack at the first one.

    Rolling back again goes further back: each rollback undoes the promotion that
    made the current champion, not the previous rollback.
    """
    with transaction(db) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_WRITE_LOCK_ID,))
        current = conn.execute("SELECT version FROM models WHERE status = 'champion'").fetchone()
        if current is None:
            raise NothingToRollBack("there is no champion to roll back")
        made_champion_by = conn.execute(
            "SELECT previous_version FROM promotions WHERE version = %s AND action = 'promote'"
            " ORDER BY id DESC LIMIT 1",
            (current[0],),
        ).fetchone()
        if made_champion_by is None or made_champion_by[0] is None:
            raise NothingToRollBack(f"{current[0]} is the first champion on record: there is none before it")
        return _change_champion(
            conn, made_champion_by[0], by=by, reason=reason, gate=None, force=False, action="rollback"
        )


def _change_champion(
    db: Database, version: str, *, by: str, reason: str, gate: GateResult | None, force: bool, action: str
) -> ModelRecord:
    with transaction(db) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_WRITE_LOCK_ID,))
        cursor = conn.cursor(row_factory=dict_row)
        current = cursor.execute(
            f"SELECT {_SUMMARY_COLUMNS}, onnx FROM models WHERE version = %s", (version,)
        ).fetchone()
        if current is None:
            raise UnknownModel(f"no model {version!r} in the registry")
        if current["status"] == "champion":
            return _record(current)
        previous = conn.execute("SELECT version FROM models WHERE status = 'champion'").fetchone()
        previous_version = previous[0] if previous else None
        refusal = gate.refusal(version, previous_version) if gate else None
        if refusal and not force:
            raise GateRejected(refusal)
        forced = force and (gate is None or refusal is not None)
        conn.execute("UPDATE models SET status = 'retired' WHERE status = 'champion'")
        promoted = cursor.execute(
            "UPDATE models SET status = 'champion', shadow = false, promoted_at = now(), promoted_by = %s, reason = %s"
            f" WHERE version = %s RETURNING {_SUMMARY_COLUMNS}, onnx",
            (by, reason, version),
        ).fetchone()
        conn.execute(
            "INSERT INTO promotions (version, previous_version, action, forced, promoted_by, reason, gate)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (version, previous_version, action, forced, by, reason, Jsonb(gate.to_json()) if gate else None),
        )
        details = {"previous_version": previous_version, "forced": forced, "reason": reason}
        record_in(conn, by, f"model.{action}", version, details)
    return _record(promoted)


def _fetch_one(db: Database, query: str, params: tuple[Any, ...] = ()) -> ModelRecord | None:
    with transaction(db) as conn:
        row = conn.cursor(row_factory=dict_row).execute(query, params).fetchone()
    return _record(row) if row else None
