"""sentinel send / decisions: demo traffic in, stored decisions out."""

from __future__ import annotations

import time

import click
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from sentinel.cli import demo_traffic
from sentinel.cli.output import console
from sentinel.config import Settings, component_port
from sentinel.core.decision import DECISIONS
from sentinel.stack import client_key
from sentinel.stores.decisions import latest_decisions


@click.command()
@click.option("--count", default=200, show_default=True, help="Transactions to send.")
@click.option("--rate", default=50.0, show_default=True, help="Transactions per second.")
@click.option("--url", help="Where to POST; default: the local ingest function.")
@click.option("--seed", default=None, type=int, help="Seed for reproducible traffic; default: a new one each run.")
@click.option("--fraud-share", default=0.03, show_default=True, help="Share of fraud-like transactions.")
@click.option("--duplicate-share", default=0.02, show_default=True, help="Share of re-sent transactions.")
def send(
    count: int, rate: float, url: str | None, seed: int | None, fraud_share: float, duplicate_share: float
) -> None:
    """Stream demo transactions through ingest as CloudEvents.

    They are sent with the API key in SENTINEL_API_KEY, else the one `sentinel up` made."""
    send_traffic(count, rate, url, seed, fraud_share, duplicate_share)


def send_traffic(
    count: int, rate: float, url: str | None, seed: int | None, fraud_share: float, duplicate_share: float
) -> demo_traffic.SendReport:
    """Send planned demo traffic with a progress bar, print the outcome, and return it."""
    settings = Settings.from_env()
    url = url or f"http://127.0.0.1:{component_port('ingest', settings.port_base)}/"
    seed = seed if seed is not None else time.time_ns() % 1_000_000_007
    planned = demo_traffic.plan_traffic(count, seed=seed, fraud_share=fraud_share, duplicate_share=duplicate_share)
    columns = (TextColumn("sending"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("send", total=len(planned))
        report = demo_traffic.send(
            url,
            planned,
            rate=rate,
            api_key=settings.api_key or client_key.read(settings.state_dir),
            on_sent=lambda: progress.advance(task),
        )
    console.print(
        f"sent {report.sent} to {url} in {report.seconds:.1f}s ({report.rate:.0f}/s): "
        f"[green]{report.accepted} accepted[/green], {report.duplicates} duplicate, "
        f"{'[red]' if report.failed else ''}{report.failed} failed{'[/red]' if report.failed else ''}"
    )
    for reason, number in report.failures.items():
        console.print(f"  [red]{number} × {reason}[/red]")
    if report.deferred:
        console.print(f"  ingest asked to retry later {report.deferred} time(s) (shedding load); each was waited out")
    return report


@click.command()
@click.option("--limit", default=20, show_default=True)
@click.option("--decision", type=click.Choice(DECISIONS))
def decisions(limit: int, decision: str | None) -> None:
    """The latest stored decisions, newest first, each with the rule that made it when one did."""
    rows = latest_decisions(Settings.from_env().database_url, limit=limit, decision=decision)
    table = Table(box=None)
    columns = (
        "client",
        "transaction",
        "user",
        "amount",
        "risk",
        "decision",
        "rule",
        "model",
        "scored at",
        "ingest→stored",
    )
    for column in columns:
        table.add_column(column)
    colours = {"approve": "green", "review": "yellow", "block": "red"}
    for row in rows:
        table.add_row(
            row["client_id"],
            row["transaction_id"],
            row["user_id"],
            f"{row['amount']:.2f}",
            f"{row['risk_score']:.3f}",
            f"[{colours[row['decision']]}]{row['decision']}[/]",
            f"{row['rule']['name']} v{row['rule']['version']}" if row["rule"] else "–",
            row["model_version"],
            row["scored_at"].strftime("%H:%M:%S.%f")[:-3],
            f"{row['latency'].total_seconds() * 1000:.0f} ms",
        )
    console.print(table if rows else "no decisions stored yet: try `sentinel send`")
