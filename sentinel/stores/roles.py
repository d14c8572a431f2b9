"""Database roles that log in with a password: made or updated by whoever administers them.

The password goes to the server only as a SCRAM verifier computed here (libpq's own
encryption), so the plain text never appears in a statement, a server log or
pg_stat_activity. The local stack runs this as PostgreSQL's superuser; the cluster's
prepare Job as the database's owner.
"""

from __future__ import annotations

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from sentinel.stores.database import connect


def scram_verifier(conn: psycopg.Connection, role: str, password: str) -> str:
    return conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256").decode()


def ensure_login(conn: psycopg.Connection, role: str, password: str) -> None:
    """`role` exists, may log in with `password`, and holds no administrative attribute."""
    verifier = sql.Literal(scram_verifier(conn, role, password))
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
    statement = "ALTER ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}"
    if not exists:
        statement = "CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}"
    conn.execute(sql.SQL(statement).format(sql.Identifier(role), verifier))


def set_password(conn: psycopg.Connection, role: str, password: str) -> None:
    """Only the password of an existing role (the superuser's keeps its attributes)."""
    verifier = sql.Literal(scram_verifier(conn, role, password))
    conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), verifier))


def ensure_login_from_url(database_url: str, role_url: str) -> str | None:
    """Connected as `database_url`, let the role `role_url` names log in with the password it
    carries (the cluster's Secret holds both URLs); the role's name, None when it is the same role."""
    owner, target = conninfo_to_dict(database_url), conninfo_to_dict(role_url)
    role = target.get("user")
    if not role or role == owner.get("user") or "password" not in target:
        return None
    with connect(database_url) as conn:
        ensure_login(conn, role, str(target["password"]))
    return role
