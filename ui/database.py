"""PostgreSQL for the UI: one pool per app, opened on first use, and small query helpers.

The pool opens lazily because gunicorn builds the app before it forks workers,
and a connection must never be shared across a fork. Every statement runs under
a time limit: a page that is slow has lost its index, and should fail on its own
rather than hold a connection while the database works through a table. JIT
compilation is off: it costs more than it saves on queries this short.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from flask import Flask, current_app
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from sentinel.stores.database import create_pool

STATEMENT_TIMEOUT_MS = 5000
POOL_SIZE = 8

Row = dict[str, Any]
Params = Mapping[str, Any] | Sequence[Any] | None


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self._pool: ConnectionPool | None = None
        self._lock = threading.Lock()

    @property
    def pool(self) -> ConnectionPool:
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = create_pool(
                        make_conninfo(self.url, options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS} -c jit=off"),
                        max_size=POOL_SIZE,
                        name="sentinel-ui",
                    )
        return self._pool

    @contextmanager
    def connection(self, timeout: float | None = None) -> Iterator[psycopg.Connection]:
        """A connection in autocommit mode; wrap several statements in `conn.transaction()`."""
        with self.pool.connection(timeout=timeout) as conn:
            yield conn

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None


def init_app(app: Flask, url: str) -> None:
    app.extensions["sentinel.database"] = Database(url)


def database() -> Database:
    return current_app.extensions["sentinel.database"]


def fetch_all(query: str, params: Params = None) -> list[Row]:
    with database().connection() as conn:
        return conn.cursor(row_factory=dict_row).execute(query, params).fetchall()


def fetch_one(query: str, params: Params = None) -> Row | None:
    with database().connection() as conn:
        return conn.cursor(row_factory=dict_row).execute(query, params).fetchone()
