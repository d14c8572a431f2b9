"""sentinel audit: who did what and when, newest first, from the append-only audit log."""

from __future__ import annotations

import json

import click
from rich.markup import escape
from rich.table import Table

from sentinel.cli.output import console
from sentinel.config import Settings
from sentinel.stores.audit import AuditLog

DEFAULT_LIMIT = 50
MAX_LIMIT = 10_000


@click.command()
@click.option("--limit", type=click.IntRange(1, MAX_LIMIT), default=DEFAULT_LIMIT, show_default=True)
@click.option("--actor", default=None, help="Only what this user (or `OS user via sentinel ...`) did.")
@click.option("--action", default=None, help="Only this action, e.g. login.failed, label.add, model.promote.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output, one entry per line.")
def audit(limit: int, actor: str | None, action: str | None, as_json: bool) -> None:
    """The newest audit entries: labels, alert changes, promotions, rollbacks, logins, user and key changes."""
    log = AuditLog.connect(Settings.from_env().database_url, name="cli-audit")
    try:
        entries = log.entries(limit=limit, actor=actor, action=action)
    finally:
        log.close()
    if as_json:
        for entry in entries:
            click.echo(
                json.dumps(
                    {
                        "id": entry.id,
                        "at": entry.at.isoformat(),
                        "actor": entry.actor,
                        "action": entry.action,
                        "subject": entry.subject,
                        "details": entry.details,
                    }
                )
            )
        return
    table = Table(box=None)
    for column in ("at", "actor", "action", "subject", "details"):
        table.add_column(column)
    for entry in entries:
        details = ", ".join(f"{name}={value}" for name, value in entry.details.items())
        table.add_row(
            entry.at.isoformat(timespec="seconds"),
            escape(entry.actor),
            escape(entry.action),
            escape(entry.subject),
            escape(details),
        )
    console.print(table if entries else "nothing recorded" + (" for these filters" if actor or action else ""))
