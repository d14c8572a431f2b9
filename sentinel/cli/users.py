"""sentinel users add / list / disable: the people who log in to the UI."""

from __future__ import annotations

import sys

import click
from rich.table import Table

from sentinel.cli.output import acting_user, console
from sentinel.config import Settings
from sentinel.core.errors import ClientError
from sentinel.stores.users import MIN_PASSWORD_LENGTH, ROLES, UserStore


def _store() -> UserStore:
    return UserStore.connect(Settings.from_env().database_url, name="cli-users")


@click.group()
def users() -> None:
    """Add, list and disable UI users (only an Argon2id hash of each password is stored)."""


@users.command()
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="analyst, or admin (also models and users).")
@click.option(
    "--password-stdin",
    is_flag=True,
    required=True,
    help=f"Read the password (at least {MIN_PASSWORD_LENGTH} characters) from standard input's first line.",
)
def add(name: str, role: str, password_stdin: bool) -> None:
    """Add NAME, who logs in with the password read from standard input (never from the command line)."""
    password = sys.stdin.readline().rstrip("\r\n")
    store = _store()
    try:
        store.add(name, password, role, by=acting_user("users add"))
    except ClientError as error:
        console.print(f"[red]✗ {error.message}[/red]")
        sys.exit(2)
    finally:
        store.close()
    console.print(f"user {name!r} added as {role}")


@users.command(name="list")
def list_() -> None:
    """Every user: name, role, when added, and whether disabled (never passwords)."""
    store = _store()
    try:
        found = store.users()
    finally:
        store.close()
    table = Table(box=None)
    for column in ("name", "role", "added", "disabled"):
        table.add_column(column)
    for user in found:
        disabled = user.disabled_at.isoformat(timespec="seconds") if user.disabled_at else ""
        table.add_row(user.name, user.role, user.created_at.isoformat(timespec="seconds"), disabled)
    console.print(table if found else "no users: add one with `sentinel users add NAME --role admin --password-stdin`")


@users.command()
@click.argument("name")
def disable(name: str) -> None:
    """Disable NAME: they cannot log in, and their open sessions end at once."""
    store = _store()
    try:
        disabled = store.disable(name, by=acting_user("users disable"))
    finally:
        store.close()
    if not disabled:
        console.print(f"[red]✗ no enabled user named {name!r}; see `sentinel users list`[/red]")
        sys.exit(2)
    console.print(f"user {name!r} disabled")
