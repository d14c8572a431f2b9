"""The model registry: every trained model, and which one is the champion that scores traffic.

It lives in PostgreSQL's `models` table (migration 0001), so training writes and the
score function reads the same place. A unique partial index allows at most one
champion; `promote` retires the previous one in the same transaction, so there is
never a moment with two champions or, after the first promotion, none.

Every function takes a psycopg connection (scripts, tests) or a pool (functions).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from sentinel.scoring import Thresholds
from sentinel.transaction import FEATURE_NAMES

# Registry writes serialise on this transaction-level advisory lock, so two of them
# never pick the same version number or promote at the same time.
_WRITE_LOCK_ID = 7_318_202

_SUMMARY_COLUMNS = (
    "version, created_at, sha256, feature_names, thresholds, metrics, data_fingerprint,"
    " status, promoted_at, promoted_by, reason"
)


class UnknownModel(LookupError):
    """No model with that version is registered."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class ModelRecord:
    """One registered model. `onnx` is empty when the record was read without its bytes."""

    version: str
    sha256: str
    onnx: bytes = field(repr=False)
    feature_names: tuple[str, ...]
    thresholds: dict[str, float]
    metrics: dict[str, Any]
    data_fingerprint: str
    status: str  # candidate | champion | retired
    created_at: datetime
    promoted_at: datetime | None
    promoted_by: str | None
    reason: str | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ModelRecord:
        return cls(
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


Database = psycopg.Connection | ConnectionPool


def champion(db: Database) -> ModelRecord | None:
    """The model that scores traffic, with its ONNX bytes; None while the registry has none."""
    return _fetch_one(db, f"SELECT {_SUMMARY_COLUMNS}, onnx FROM models WHERE status = 'champion'")


def champion_version(db: Database) -> str | None:
    """Just the champion's version: cheap enough to poll for a hot reload."""
    with _transaction(db) as conn:
        row = conn.execute("SELECT version FROM models WHERE status = 'champion'").fetchone()
    return row[0] if row else None


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
    with _transaction(db) as conn:
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
    return ModelRecord.from_row(row)


def promote(db: Database, version: str, *, by: str, reason: str) -> ModelRecord:
    """Make `version` the champion and retire the previous one, atomically; a no-op for the champion itself."""
    with _transaction(db) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_WRITE_LOCK_ID,))
        cursor = conn.cursor(row_factory=dict_row)
        current = cursor.execute(
            f"SELECT {_SUMMARY_COLUMNS}, onnx FROM models WHERE version = %s", (version,)
        ).fetchone()
        if current is None:
            raise UnknownModel(f"no model {version!r} in the registry")
        if current["status"] == "champion":
            return ModelRecord.from_row(current)
        conn.execute("UPDATE models SET status = 'retired' WHERE status = 'champion'")
        promoted = cursor.execute(
            "UPDATE models SET status = 'champion', promoted_at = now(), promoted_by = %s, reason = %s"
            f" WHERE version = %s RETURNING {_SUMMARY_COLUMNS}, onnx",
            (by, reason, version),
        ).fetchone()
    return ModelRecord.from_row(promoted)


def _fetch_one(db: Database, query: str, params: tuple[Any, ...] = ()) -> ModelRecord | None:
    with _transaction(db) as conn:
        row = conn.cursor(row_factory=dict_row).execute(query, params).fetchone()
    return ModelRecord.from_row(row) if row else None


@contextmanager
def _transaction(db: Database) -> Iterator[psycopg.Connection]:
    """One transaction on the given connection, or on a connection borrowed from the pool."""
    if isinstance(db, ConnectionPool):
        with db.connection() as conn, conn.transaction():
            yield conn
    else:
        with db.transaction():
            yield db
