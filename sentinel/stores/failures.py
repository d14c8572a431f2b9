"""What a failure of PostgreSQL or Redis says about the event being handled.

Either the event's own content can never be stored, so retrying it only holds up
the events behind it in its partition (dead-letter it at once: 4xx), or a
dependency cannot serve right now and the same event will succeed later (retry
it: 503). Anything else is a bug in Sentinel and classified as neither.

PostgreSQL is judged by the class of its SQLSTATE (the first two characters,
PostgreSQL manual, Appendix A) rather than by psycopg's exception classes, which
put "program limit exceeded" (an index row too large: the data's fault) beside
connection failures under OperationalError.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
import psycopg_pool
import redis

# SQLSTATE classes caused by the data sent: data exception, integrity constraint
# violation (the idempotent conflict never raises: ON CONFLICT DO NOTHING), program limit exceeded.
_CONTENT_CLASSES = frozenset({"22", "23", "54"})
# SQLSTATE classes that pass: connection exception, transaction rollback (serialization
# failure, deadlock), insufficient resources, object not in prerequisite state (lock not
# available), operator intervention (shutdown, query cancelled by a timeout), system error.
_TRANSIENT_CLASSES = frozenset({"08", "40", "53", "55", "57", "58"})
_REDIS_TRANSIENT = (
    redis.ConnectionError,  # BusyLoadingError (still loading its data) is one
    redis.TimeoutError,
    redis.exceptions.OutOfMemoryError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.MasterDownError,
    redis.exceptions.TryAgainError,
)


@dataclass(frozen=True)
class Transient:
    """A dependency cannot serve now; the same event will succeed later."""

    dependency: str


@dataclass(frozen=True)
class Rejected:
    """The event's content can never be stored as it is."""

    dependency: str
    reason: str
    code: str | None = None


def classify(error: BaseException) -> Transient | Rejected | None:
    """Transient, Rejected, or None when `error` says neither (a bug)."""
    if isinstance(error, psycopg.Error):
        return _classify_postgres(error)
    if isinstance(error, psycopg_pool.PoolTimeout):
        return Transient("PostgreSQL")
    if isinstance(error, _REDIS_TRANSIENT):
        return Transient("Redis")
    if isinstance(error, redis.DataError):
        return Rejected("Redis", _first_line(error))
    if isinstance(error, UnicodeError):
        return Rejected("the encoder", _first_line(error))
    return None


def _classify_postgres(error: psycopg.Error) -> Transient | Rejected | None:
    sqlstate = error.sqlstate
    if sqlstate is None:  # raised by psycopg itself, before or without the server
        if isinstance(error, psycopg.DataError):  # e.g. a NUL character, which text cannot hold
            return Rejected("PostgreSQL", _first_line(error))
        if isinstance(error, psycopg.OperationalError):
            return Transient("PostgreSQL")
        return None
    if sqlstate[:2] in _CONTENT_CLASSES:
        return Rejected("PostgreSQL", _first_line(error), sqlstate)
    if sqlstate[:2] in _TRANSIENT_CLASSES:
        return Transient("PostgreSQL")
    return None


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
