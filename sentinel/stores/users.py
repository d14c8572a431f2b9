"""The people who log in to the UI: the `users` table, their passwords and their sessions.

Passwords are kept as Argon2id hashes (argon2-cffi's defaults, RFC 9106's second
recommended profile); a hash made with weaker parameters than today's is replaced
at the next successful login. Checking a name that does not exist, or a disabled
user, costs one hash all the same, so the time a login takes does not tell which
names exist.

A session is a random token the browser holds (inside the UI's signed cookie);
the `ui_sessions` table keeps only its SHA-256, who it belongs to and until when.
Logging out or disabling a user ends their sessions at once, everywhere.

Every change here lands in the audit log in the same transaction.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from psycopg_pool import ConnectionPool

from sentinel.core.errors import ClientError
from sentinel.stores.audit import record_in
from sentinel.stores.database import create_pool

ANALYST = "analyst"  # views, labels, acknowledges and closes alerts
ADMIN = "admin"  # also promotes and rolls back models, manages users and reads the audit log
ROLES = (ANALYST, ADMIN)
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
_NAME = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")
_hasher = PasswordHasher()
# Compared against when the name is unknown, so that answer takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class User:
    name: str
    role: str
    created_at: datetime
    disabled_at: datetime | None

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN


def checked_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise ClientError(
            f"invalid user name {name!r}: 1 to 64 lower-case letters, digits, '.', '_', '@' or '-',"
            " starting with a letter or digit"
        )
    return name


def checked_role(role: str) -> str:
    if role not in ROLES:
        raise ClientError(f"unknown role {role!r}; the roles are {', '.join(ROLES)}")
    return role


def checked_password(password: str) -> str:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise ClientError(f"a password needs {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters")
    return password


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class UserStore:
    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool

    @classmethod
    def connect(cls, database_url: str, *, name: str = "users") -> UserStore:
        return cls(create_pool(database_url, max_size=2, name=name))

    def close(self) -> None:
        self._pool.close()

    # -- accounts ----------------------------------------------------------

    def add(self, name: str, password: str, role: str, *, by: str) -> User:
        """A new user; 409 when the name is taken (disabled users keep theirs)."""
        hashed = _hasher.hash(checked_password(password))
        try:
            with self._pool.connection() as conn, conn.transaction():
                row = conn.execute(
                    "INSERT INTO users (name, password_hash, role) VALUES (%s, %s, %s)"
                    " RETURNING name, role, created_at, disabled_at",
                    (checked_name(name), hashed, checked_role(role)),
                ).fetchone()
                record_in(conn, by, "user.add", name, {"role": role})
        except psycopg.errors.UniqueViolation:
            raise ClientError(f"there is a user named {name!r} already", status=409) from None
        return User(*row)

    def disable(self, name: str, *, by: str) -> bool:
        """Disable the user and end their sessions; False when there is no such enabled user."""
        with self._pool.connection() as conn, conn.transaction():
            changed = conn.execute(
                "UPDATE users SET disabled_at = now() WHERE name = %s AND disabled_at IS NULL", (name,)
            ).rowcount
            if changed:
                conn.execute(
                    "UPDATE ui_sessions SET ended_at = now() WHERE user_name = %s AND ended_at IS NULL", (name,)
                )
                record_in(conn, by, "user.disable", name)
        return changed == 1

    def users(self) -> list[User]:
        with self._pool.connection() as conn:
            rows = conn.execute("SELECT name, role, created_at, disabled_at FROM users ORDER BY name").fetchall()
        return [User(*row) for row in rows]

    def any(self) -> bool:
        """Whether anyone, enabled or not, was ever added."""
        with self._pool.connection() as conn:
            return conn.execute("SELECT EXISTS (SELECT 1 FROM users)").fetchone()[0]

    def authenticate(self, name: str, password: str) -> User | None:
        """The enabled user with this name and password, or None; as slow for unknown names as for known."""
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT name, role, created_at, disabled_at, password_hash FROM users WHERE name = %s", (name,)
            ).fetchone()
        stored = row[4] if row else _DUMMY_HASH
        try:
            _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):  # a wrong password, or a hash it cannot read
            return None
        if row is None or row[3] is not None:
            return None
        if _hasher.check_needs_rehash(stored):
            with self._pool.connection() as conn:
                conn.execute("UPDATE users SET password_hash = %s WHERE name = %s", (_hasher.hash(password), name))
        return User(*row[:4])

    # -- sessions ----------------------------------------------------------

    def start_session(self, user: User, lifetime: timedelta) -> str:
        """A new session token for `user`, valid for `lifetime`; shown to the browser only."""
        token = secrets.token_urlsafe(32)
        with self._pool.connection() as conn:
            conn.execute(
                "INSERT INTO ui_sessions (token_hash, user_name, expires_at) VALUES (%s, %s, now() + %s)",
                (_token_hash(token), user.name, lifetime),
            )
        return token

    def session_user(self, token: str) -> User | None:
        """Whose session this is, when it is live and its user enabled; None otherwise."""
        with self._pool.connection() as conn:
            row = conn.execute(
                "SELECT u.name, u.role, u.created_at, u.disabled_at FROM ui_sessions s"
                " JOIN users u ON u.name = s.user_name"
                " WHERE s.token_hash = %s AND s.ended_at IS NULL AND s.expires_at > now()"
                " AND u.disabled_at IS NULL",
                (_token_hash(token),),
            ).fetchone()
        return User(*row) if row else None

    def end_session(self, token: str) -> None:
        with self._pool.connection() as conn:
            conn.execute(
                "UPDATE ui_sessions SET ended_at = now() WHERE token_hash = %s AND ended_at IS NULL",
                (_token_hash(token),),
            )

    def recent_failures(self, name: str, address: str, window: timedelta) -> tuple[int, int]:
        """Failed logins within `window`: for this name, and from this address (read from the audit log)."""
        with self._pool.connection() as conn:
            return conn.execute(
                "SELECT"
                " (SELECT count(*) FROM audit_log WHERE action = 'login.failed' AND subject = %s"
                "  AND at > now() - %s),"
                " (SELECT count(*) FROM audit_log WHERE action = 'login.failed' AND details->>'address' = %s"
                "  AND at > now() - %s)",
                (name, window, address, window),
            ).fetchone()
