"""Which failures of PostgreSQL and Redis mean "down for now": the same event will succeed later."""

from __future__ import annotations

import psycopg
import psycopg_pool
import redis

# Failures that mean "a dependency is down, try again", by the dependency's name.
_OUTAGES: tuple[tuple[type[BaseException], str], ...] = (
    (psycopg.OperationalError, "PostgreSQL"),
    (psycopg_pool.PoolTimeout, "PostgreSQL"),
    (redis.ConnectionError, "Redis"),
    (redis.TimeoutError, "Redis"),
    (redis.exceptions.BusyLoadingError, "Redis"),
)


def unavailable_dependency(error: BaseException) -> str | None:
    """The name of the dependency `error` says is down, or None when it says something else."""
    for kind, name in _OUTAGES:
        if isinstance(error, kind):
            return name
    return None
