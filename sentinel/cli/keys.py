"""sentinel keys create / list / revoke: API keys for the clients of ingest, score and the UI's JSON API."""

from __future__ import annotations

import sys

import click
from rich.table import Table

from sentinel.cli.output import acting_user, console
from sentinel.config import Settings
from sentinel.core.api_keys import SCOPES
from sentinel.core.errors import ClientError
from sentinel.stores.api_keys import ApiKeyStore


def _store() -> ApiKeyStore:
    return ApiKeyStore.connect(Settings.from_env().database_url, name="cli-keys")


@click.group()
def keys() -> None:
    """Create, list and revoke API keys (only a hash of each key is stored)."""


@keys.command()
@click.argument("name")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice(SCOPES),
    help="What the key may do; repeat for several. Default: ingest.",
)
@click.option(
    "--rate",
    type=click.IntRange(min=1),
    help="Requests a second the key may make to ingest and to score. Default: SENTINEL_KEY_RATE_PER_S.",
)
@click.option(
    "--client",
    help="Whose transaction ids the key submits (ids are unique per client). Default: NAME."
    " Give a new key the old one's client to rotate it.",
)
def create(name: str, scopes: tuple[str, ...], rate: int | None, client: str | None) -> None:
    """Create a key called NAME. The key is printed once, alone on the last line: keep it safe."""
    store = _store()
    try:
        key = store.create(name, scopes or ("ingest",), by=acting_user("keys create"), rate_per_s=rate, client=client)
    except ClientError as error:
        console.print(f"[red]✗ {error.message}[/red]")
        sys.exit(2)
    finally:
        store.close()
    console.print(f"key {name!r} created with scope {', '.join(sorted(scopes or ('ingest',)))}; it is shown once:")
    click.echo(key)


@keys.command(name="list")
@click.option("--all", "include_revoked", is_flag=True, help="Include revoked keys.")
def list_(include_revoked: bool) -> None:
    """The keys by name, scopes and age (never the keys themselves)."""
    store = _store()
    try:
        records = store.records(include_revoked=include_revoked)
    finally:
        store.close()
    table = Table(box=None)
    for column in ("name", "client", "scopes", "rate/s", "created", "revoked"):
        table.add_column(column)
    for record in records:
        table.add_row(
            record.name,
            record.client,
            ", ".join(record.scopes),
            str(record.rate_per_s or "default"),
            record.created_at.isoformat(timespec="seconds"),
            record.revoked_at.isoformat(timespec="seconds") if record.revoked_at else "",
        )
    console.print(table if records else "no keys: create one with `sentinel keys create NAME`")


@keys.command()
@click.argument("name")
def revoke(name: str) -> None:
    """Revoke the live key called NAME; running functions refuse it within seconds."""
    store = _store()
    try:
        revoked = store.revoke(name, by=acting_user("keys revoke"))
    finally:
        store.close()
    if not revoked:
        console.print(f"[red]✗ no live key named {name!r}; see `sentinel keys list`[/red]")
        sys.exit(2)
    console.print(f"key {name!r} revoked")
