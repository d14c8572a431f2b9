"""The `audit_log` table: who did what, when, to what.

The table is append-only: migration 0005 adds a trigger that refuses UPDATE,
DELETE and TRUNCATE. Record a change with `record_in` on the connection that
makes it, so the change and its audit row commit or roll back together; use
`AuditLog.record` for events that change nothing else (a login, a failed one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from sentinel.stores.database import create_pool

_INSERT = "INSERT INTO audit_log (actor, action, subject, details) VALUES (%s, %s, %s, %s)"


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    subject: str
    details: dict[str, Any]


def record_in(conn: psycopg.Connection, actor: str, action: str, subject: str, details: dict | None = None) -> None:
    """Add an audit row on `conn`, inside whatever transaction it has open."""
    conn.execute(_INSERT, (actor, action, subject, Jsonb(details or {})))


class AuditLog:
    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    @classmethod
    def connect(cls, database_url: str, *, name: str = "audit") -> AuditLog:
        return cls(create_pool(database_url, max_size=2, name=name))

    def close(self) -> None:
        self._pool.close()

    def record(self, actor: str, action: str, subject: str, details: dict | None = None) -> None:
        with self._pool.connection() as conn:
            record_in(conn, actor, action, subject, details)

    def entries(
        self,
        *,
        limit: int = 100,
        before_id: int | None = None,
        actor: str | None = None,
        action: str | None = None,
    ) -> list[AuditEntry]:
        """The newest entries first, at most `limit`, older than `before_id` when given."""
        conditions: list[str] = []
        params: list[Any] = []
        for column, value in (("id <", before_id), ("actor =", actor), ("action =", action)):
            if value is not None:
                conditions.append(f"{column} %s")
                params.append(value)
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        with self._pool.connection() as conn:
            rows = conn.execute(
                f"SELECT id, at, actor, action, subject, details FROM audit_log {where} ORDER BY id DESC LIMIT %s",
                (*params, max(0, limit)),
            ).fetchall()
        return [AuditEntry(*row) for row in rows]
