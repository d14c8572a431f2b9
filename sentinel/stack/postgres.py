"""A local PostgreSQL server for the stack: initialised once, run as an unprivileged user.

PostgreSQL refuses to run as root, and build machines often run as root, so
then the server runs as the `postgres` user when the system has one, or as a
`sentinel` system user created for it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
from pathlib import Path

from psycopg import sql

from sentinel.stack.keeper import identity
from sentinel.stores import database

SUPERUSER = "postgres"
FALLBACK_USER = "sentinel"


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


def initialise(bin_dir: Path, data_dir: Path, user: str | None) -> bool:
    """Create the data directory with initdb unless it exists; True when it was created."""
    if (data_dir / "PG_VERSION").exists():
        return False
    data_dir.mkdir(parents=True, exist_ok=True)
    if user is not None:
        account = pwd.getpwnam(user)
        os.chown(data_dir, account.pw_uid, account.pw_gid)
        _let_reach(data_dir.parent)
        _let_reach(bin_dir)
    result = subprocess.run(
        [
            str(bin_dir / "initdb"),
            "-D",
            str(data_dir),
            "-U",
            SUPERUSER,
            "--auth=trust",
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


def admin_url(port: int) -> str:
    return f"postgresql://{SUPERUSER}@127.0.0.1:{port}/postgres"


def ensure_database(port: int, role: str, name: str) -> None:
    """Create the application's role and database if they do not exist yet."""
    with database.connect(admin_url(port)) as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(role)))


def _let_reach(path: Path) -> None:
    """Give everyone search (not read) permission on `path`'s ancestors, so the
    server's own account can reach its binaries and data under a private home."""
    for directory in [path, *path.parents]:
        mode = directory.stat().st_mode
        if not mode & stat.S_IXOTH:
            directory.chmod(mode | stat.S_IXOTH)
