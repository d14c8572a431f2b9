"""The one way a `sentinel` command reaches PostgreSQL: a connection, or a clear failure naming the database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from sentinel.cli.output import fail
from sentinel.config import Settings
from sentinel.stores import database


@contextmanager
def connected() -> Iterator[psycopg.Connection]:
    """A connection to the database DATABASE_URL names (the local stack's by default)."""
    url = Settings.from_env().database_url
    try:
        conn = database.connect(url)
    except psycopg.OperationalError as error:
        reason = str(error).strip().splitlines()[0]
        fail(f"cannot reach the database at {url}: {reason} (is `sentinel up` running?)")
    with conn:
        yield conn
