"""PostgreSQL access: connections, pools and versioned migrations."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

log = logging.getLogger(__name__)

# Any two processes migrating at once serialise on this advisory lock.
_MIGRATION_LOCK_ID = 7_318_201
CONNECT_TIMEOUT_S = 5

Database = psycopg.Connection | ConnectionPool
"""Where a store function reads and writes: a connection (scripts, tests) or a pool (functions, the UI)."""


def connect(database_url: str, *, timeout: float = CONNECT_TIMEOUT_S, **options: Any) -> psycopg.Connection:
    """One connection in autocommit mode, that gives up connecting after `timeout` seconds."""
    return psycopg.connect(database_url, autocommit=True, connect_timeout=timeout, **options)


def create_pool(database_url: str, *, max_size: int = 8, name: str = "sentinel") -> ConnectionPool:
    """A pool that opens lazily and checks connections, so it survives a database restart."""
    return ConnectionPool(
        database_url,
        min_size=1,
        max_size=max_size,
        name=name,
        open=True,
        check=ConnectionPool.check_connection,
        kwargs={"autocommit": True, "connect_timeout": 3},
        reconnect_timeout=5,
        timeout=5,
    )


def migration_files() -> list[tuple[str, str]]:
    """(version, sql) for every migration shipped with the package, in order."""
    folder = resources.files("sentinel.stores") / "migrations"
    found = sorted(entry.name for entry in folder.iterdir() if entry.name.endswith(".sql"))
    return [(name.removesuffix(".sql"), (folder / name).read_text()) for name in found]


def migrate(database_url: str) -> list[str]:
    """Apply every migration not yet recorded in schema_migrations; return those applied."""
    applied: list[str] = []
    with connect(database_url) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK_ID,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version text PRIMARY KEY,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            for version, sql in migration_files():
                if version in done:
                    continue
                with conn.transaction():
                    conn.execute(sql)
                    conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
                log.info("applied migration %s", version)
                applied.append(version)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK_ID,))
    return applied


@contextmanager
def transaction(db: Database) -> Iterator[psycopg.Connection]:
    """One transaction on the given connection, or on a connection borrowed from the pool."""
    if isinstance(db, ConnectionPool):
        with db.connection() as conn, conn.transaction():
            yield conn
    else:
        with db.transaction():
            yield db
