"""A local PostgreSQL server for the stack: initialised once, run as an unprivileged user.

PostgreSQL refuses to run as root, and build machines often run as root, so
then the server runs as the `postgres` user when the system has one, or as a
`sentinel` system user created for it.

Every role logs in with a generated password (scram-sha-256), kept under
`<state dir>/secrets/` (sentinel.stack.secrets) and handed to libpq as one password
file a role, which the connection URLs name: the URLs carry no password. The
superuser's password is in its own file, used only to provision the roles.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

from sentinel.config import LOCAL_DATABASE_ROLE, LOCAL_SCORE_ROLE, local_database_url, pgpass_file
from sentinel.stack.keeper import identity
from sentinel.stack.secrets import secret, write_secret
from sentinel.stores import database, roles

SUPERUSER = "postgres"
FALLBACK_USER = "sentinel"
ROLES = (SUPERUSER, LOCAL_DATABASE_ROLE, LOCAL_SCORE_ROLE)
AUTH_METHOD = "scram-sha-256"
# The method column of a pg_hba.conf rule that trusts: the last word before any comment.
_TRUST_RULE = re.compile(r"^(\s*(?:local|host\w*)\s.*\s)trust(\s*(?:#.*)?)$", re.MULTILINE)


class CredentialsError(RuntimeError):
    """The server refuses the stack's own superuser password."""


def password(state_dir: Path, role: str) -> str:
    return secret(state_dir, f"postgres-{role}")


def write_passfiles(state_dir: Path) -> None:
    """One libpq password file a role (any host, port and database), readable by the owner alone."""
    for role in ROLES:
        write_secret(pgpass_file(state_dir, role), f"*:*:*:{role}:{password(state_dir, role)}")


def server_user() -> str | None:
    """The account to run PostgreSQL as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", FALLBACK_USER):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    subprocess.run(
        [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", FALLBACK_USER],
        check=True,
        capture_output=True,
    )
    return FALLBACK_USER


def initialise(bin_dir: Path, data_dir: Path, user: str | None, state_dir: Path) -> bool:
    """Create the data directory with initdb unless it exists; True when it was created.
    Either way, the roles' password files are written."""
    write_passfiles(state_dir)
    if (data_dir / "PG_VERSION").exists():
        return False
    data_dir.mkdir(parents=True, exist_ok=True)
    if user is not None:
        account = pwd.getpwnam(user)
        os.chown(data_dir, account.pw_uid, account.pw_gid)
        _let_reach(data_dir.parent)
        _let_reach(bin_dir)
    with _superuser_password_file(state_dir, user) as pwfile:
        result = subprocess.run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data_dir),
                "-U",
                SUPERUSER,
                f"--pwfile={pwfile}",
                f"--auth={AUTH_METHOD}",
                "--encoding=UTF8",
                "--locale=C",
                "--no-instructions",
            ],
            **identity(user),
            capture_output=True,
            text=True,
            cwd="/",
        )
    if result.returncode != 0:
        raise RuntimeError(f"initdb failed for {data_dir}: {result.stderr.strip() or result.stdout.strip()}")
    return True


def server_command(bin_dir: Path, data_dir: Path, port: int) -> list[str]:
    return [
        str(bin_dir / "postgres"),
        "-D",
        str(data_dir),
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-c",
        "unix_socket_directories=",
        "-c",
        "max_connections=200",
        "-c",
        "fsync=on",
    ]


def admin_url(state_dir: Path, port: int) -> str:
    """The superuser's URL: for provisioning roles and databases, and for tests that make databases."""
    return local_database_url(state_dir, port, role=SUPERUSER, dbname="postgres")


def ensure_database(state_dir: Path, port: int, name: str) -> None:
    """The application's and score's roles with their current passwords, and the
    application's database, owned by its role. A data directory made by an earlier
    version, which trusted every local connection, is switched to passwords first."""
    write_passfiles(state_dir)
    try:
        conn = database.connect(admin_url(state_dir, port))
    except psycopg.OperationalError as error:
        raise CredentialsError(
            f"the local PostgreSQL refuses the superuser password in {pgpass_file(state_dir, SUPERUSER)} "
            f"({str(error).strip().splitlines()[0]}). If the secrets under {state_dir / 'secrets'} were "
            f"removed, restore them, or remove {state_dir / 'postgres'} to start with an empty database."
        ) from None
    with conn:
        _require_passwords(conn, state_dir)
        for role in (LOCAL_DATABASE_ROLE, LOCAL_SCORE_ROLE):
            roles.ensure_login(conn, role, password(state_dir, role))
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(LOCAL_DATABASE_ROLE))
            )


def without_trust(hba: str) -> str:
    """pg_hba.conf rules with every `trust` method replaced by password authentication."""
    return _TRUST_RULE.sub(rf"\g<1>{AUTH_METHOD}\g<2>", hba)


def _require_passwords(conn: psycopg.Connection, state_dir: Path) -> None:
    """Give the superuser its password and stop trusting, if the server still trusts."""
    trusting = conn.execute("SELECT count(*) FROM pg_hba_file_rules WHERE auth_method = 'trust'").fetchone()
    if not trusting or not trusting[0]:
        return
    roles.set_password(conn, SUPERUSER, password(state_dir, SUPERUSER))
    hba = Path(conn.execute("SHOW hba_file").fetchone()[0])
    hba.write_text(without_trust(hba.read_text()))
    conn.execute("SELECT pg_reload_conf()")


@contextmanager
def _superuser_password_file(state_dir: Path, user: str | None) -> Iterator[Path]:
    """The superuser's password in a temporary file that initdb, running as `user`, can read; removed after."""
    descriptor, name = tempfile.mkstemp(prefix="sentinel-initdb-")
    path = Path(name)
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(password(state_dir, SUPERUSER) + "\n")
        if user is not None:
            account = pwd.getpwnam(user)
            os.chown(path, account.pw_uid, account.pw_gid)
        yield path
    finally:
        path.unlink(missing_ok=True)


def _let_reach(path: Path) -> None:
    """Give everyone search (not read) permission on `path`'s ancestors, so the
    server's own account can reach its binaries and data under a private home."""
    for directory in [path, *path.parents]:
        mode = directory.stat().st_mode
        if not mode & stat.S_IXOTH:
            directory.chmod(mode | stat.S_IXOTH)
