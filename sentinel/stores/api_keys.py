"""The `api_keys` table: create, list and revoke keys, and find the caller a key belongs to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg_pool import ConnectionPool

from sentinel.core.api_keys import Caller, checked_name, checked_scopes, key_hash, new_key
from sentinel.core.errors import ClientError
from sentinel.stores.audit import record_in
from sentinel.stores.database import create_pool


@dataclass(frozen=True)
class KeyRecord:
    """What is known of a key without the key itself."""

    name: str
    client: str
    scopes: tuple[str, ...]
    rate_per_s: int | None
    created_at: datetime
    revoked_at: datetime | None


REVOKE_LIVE_KEY = "UPDATE api_keys SET revoked_at = now() WHERE name = %s AND revoked_at IS NULL"


class ApiKeyStore:
    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    @classmethod
    def connect(cls, database_url: str, *, name: str = "api-keys") -> ApiKeyStore:
        return cls(create_pool(database_url, max_size=2, name=name))

    def close(self) -> None:
        self._pool.close()

    def create(
        self,
        name: str,
        scopes: list[str] | tuple[str, ...],
        *,
        by: str,
        rate_per_s: int | None = None,
        client: str | None = None,
    ) -> str:
        """A new key for `name`, returned once: only its hash is stored. Audited as done `by`.

        `client` (default: `name`) owns the transaction ids the key submits; a new key for the
        same client, to rotate one, keeps them."""
        checked = sorted(checked_scopes(scopes))
        client = checked_name(client or name, "client name")
        if rate_per_s is not None and rate_per_s < 1:
            raise ClientError(f"a key's rate must be at least 1 request a second, not {rate_per_s}")
        key = new_key()
        try:
            with self._pool.connection() as conn, conn.transaction():
                conn.execute(
                    "INSERT INTO api_keys (name, client, key_hash, scopes, rate_per_s) VALUES (%s, %s, %s, %s, %s)",
                    (checked_name(name), client, key_hash(key), checked, rate_per_s),
                )
                details = {"client": client, "scopes": checked, "rate_per_s": rate_per_s}
                record_in(conn, by, "key.create", name, details)
        except psycopg.errors.UniqueViolation:
            raise ClientError(
                f"a live key named {name!r} exists; revoke it first or choose another name", status=409
            ) from None
        return key

    def ensure(self, name: str, key: str, scopes: list[str] | tuple[str, ...], *, by: str) -> bool:
        """Make `key` the live key called `name` unless it is already; True when it was registered now.

        For a key made elsewhere and handed over as a secret (the local client's, the
        cluster's): a live key of the same name is revoked in the same transaction. A key
        once revoked stays revoked (409)."""
        checked = sorted(checked_scopes(scopes))
        hashed = key_hash(key)
        with self._pool.connection() as conn, conn.transaction():
            known = conn.execute("SELECT revoked_at FROM api_keys WHERE key_hash = %s", (hashed,)).fetchone()
            if known and known[0] is None:
                return False
            if known:
                raise ClientError(f"this {name!r} key was revoked: make a new one", status=409)
            replaced = conn.execute(REVOKE_LIVE_KEY, (name,)).rowcount
            conn.execute(
                "INSERT INTO api_keys (name, client, key_hash, scopes) VALUES (%s, %s, %s, %s)",
                (checked_name(name), name, hashed, checked),
            )
            record_in(conn, by, "key.register", name, {"scopes": checked, "replaced_a_live_key": replaced == 1})
        return True

    def revoke(self, name: str, *, by: str) -> bool:
        """Revoke the live key named `name`; False when there is none. Audited as done `by`."""
        with self._pool.connection() as conn, conn.transaction():
            cursor = conn.execute(REVOKE_LIVE_KEY, (name,))
            if cursor.rowcount == 1:
                record_in(conn, by, "key.revoke", name)
            return cursor.rowcount == 1

    def records(self, *, include_revoked: bool = False) -> list[KeyRecord]:
        where = "" if include_revoked else "WHERE revoked_at IS NULL"
        with self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT name, client, scopes, rate_per_s, created_at, revoked_at"
                f" FROM api_keys {where} ORDER BY created_at, id"
            ).fetchall()
        return [KeyRecord(name, client, tuple(scopes), *rest) for name, client, scopes, *rest in rows]

    def caller(self, hashed: str) -> Caller | None:
        """The caller whose live key has this hash, or None."""
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT name, scopes, rate_per_s, client FROM api_keys WHERE key_hash = %s AND revoked_at IS NULL",
                (hashed,),
            ).fetchone()
        return Caller(row[0], frozenset(row[1]), row[2], row[3]) if row else None
