"""The `sentinel` command: run the local stack, send traffic, look at decisions."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from sentinel.config import Settings, component_port

console = Console(highlight=False, soft_wrap=True)


def _stack():
    from sentinel.stack.local import LocalStack

    return LocalStack(Settings.from_env())


def _start_stack() -> None:
    """`up`, printing each step; exits 1 with the reason when a component fails."""
    from sentinel.stack.local import StackError

    console.print("[bold]Starting the Sentinel stack[/bold]")
    try:
        _stack().up(say=_say)
    except StackError as error:
        console.print(f"[red]✗ {error}[/red]")
        sys.exit(1)


def _say(message: str) -> None:
    console.print(f"  [green]✓[/green] {message}")


@click.group()
def main() -> None:
    """Sentinel: real-time card-fraud detection as Knative event functions."""


@main.command()
def up() -> None:
    """Start the local stack in the background and wait until every part is healthy."""
    _start_stack()
    _where_to_look(Settings.from_env())


@main.command()
def down() -> None:
    """Stop everything `sentinel up` started."""
    _stack().down(say=_say)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(as_json: bool) -> None:
    """Show every component: health, pid, address, restarts and consumer lag."""
    statuses = _stack().status()
    if as_json:
        click.echo(json.dumps([status.to_json() for status in statuses], indent=2))
    else:
        table = Table(box=None)
        for column in ("component", "healthy", "pid", "restarts", "address", "lag", "detail"):
            table.add_column(column)
        for item in statuses:
            table.add_row(
                item.name,
                "[green]yes[/green]" if item.healthy else "[red]no[/red]",
                "external" if item.external else str(item.pid or "-"),
                str(item.restarts),
                item.address,
                "" if item.lag is None else str(item.lag),
                item.reason or "",
            )
        console.print(table)
    sys.exit(0 if all(item.healthy for item in statuses) else 1)


@main.command()
@click.option("--count", default=200, show_default=True, help="Transactions to send.")
@click.option("--rate", default=50.0, show_default=True, help="Transactions per second.")
@click.option("--url", help="Where to POST; default: the local ingest function.")
@click.option("--seed", default=None, type=int, help="Seed for reproducible traffic; default: a new one each run.")
@click.option("--fraud-share", default=0.03, show_default=True, help="Share of fraud-like transactions.")
@click.option("--duplicate-share", default=0.02, show_default=True, help="Share of re-sent transactions.")
def send(
    count: int, rate: float, url: str | None, seed: int | None, fraud_share: float, duplicate_share: float
) -> None:
    """Stream demo transactions through ingest as CloudEvents."""
    _send(count, rate, url, seed, fraud_share, duplicate_share)


def _send(count: int, rate: float, url: str | None, seed: int | None, fraud_share: float, duplicate_share: float):
    from sentinel import traffic

    settings = Settings.from_env()
    url = url or f"http://127.0.0.1:{component_port('ingest', settings.port_base)}/"
    seed = seed if seed is not None else time.time_ns() % 1_000_000_007
    planned = traffic.plan_traffic(count, seed=seed, fraud_share=fraud_share, duplicate_share=duplicate_share)
    columns = (TextColumn("sending"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("send", total=len(planned))
        report = traffic.send(url, planned, rate=rate, on_sent=lambda: progress.advance(task))
    console.print(
        f"sent {report.sent} to {url} in {report.seconds:.1f}s ({report.rate:.0f}/s): "
        f"[green]{report.accepted} accepted[/green], {report.duplicates} duplicate, "
        f"{'[red]' if report.failed else ''}{report.failed} failed{'[/red]' if report.failed else ''}"
    )
    for reason, number in report.failures.items():
        console.print(f"  [red]{number} × {reason}[/red]")
    return report


@main.command()
@click.option("--count", default=300, show_default=True)
@click.option("--rate", default=50.0, show_default=True)
def demo(count: int, rate: float) -> None:
    """Start the stack, stream demo traffic through it, and show what it decided."""
    from sentinel import queries

    settings = Settings.from_env()
    _start_stack()
    console.print(f"\n[bold]Streaming {count} demo transactions[/bold]")
    report = _send(count, rate, None, None, 0.03, 0.02)
    deadline = time.monotonic() + 60
    with console.status("waiting for the pipeline to store every decision"):
        while True:
            totals = queries.pipeline_totals(settings.database_url, report.accepted_ids)
            if totals["persisted"] >= report.accepted or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    console.print(
        f"stored {totals['persisted']} of {report.accepted} accepted: "
        f"{totals['approve']} approve, {totals['review']} review, {totals['block']} block; "
        f"{totals['alerts']} alerts"
    )
    _where_to_look(settings)
    if report.failed or totals["persisted"] < report.accepted:
        sys.exit(1)


@main.command()
@click.option("--limit", default=20, show_default=True)
@click.option("--decision", type=click.Choice(["approve", "review", "block"]))
def decisions(limit: int, decision: str | None) -> None:
    """The latest stored decisions, newest first."""
    from sentinel import queries

    rows = queries.latest_decisions(Settings.from_env().database_url, limit=limit, decision=decision)
    table = Table(box=None)
    for column in ("transaction", "user", "amount", "risk", "decision", "model", "scored at", "ingest→stored"):
        table.add_column(column)
    colours = {"approve": "green", "review": "yellow", "block": "red"}
    for row in rows:
        table.add_row(
            row["transaction_id"],
            row["user_id"],
            f"{row['amount']:.2f}",
            f"{row['risk_score']:.3f}",
            f"[{colours[row['decision']]}]{row['decision']}[/]",
            row["model_version"],
            row["scored_at"].strftime("%H:%M:%S.%f")[:-3],
            f"{row['latency'].total_seconds() * 1000:.0f} ms",
        )
    console.print(table if rows else "no decisions stored yet: try `sentinel send`")


def _where_to_look(settings: Settings) -> None:
    ingest = f"http://127.0.0.1:{component_port('ingest', settings.port_base)}"
    score = f"http://127.0.0.1:{component_port('score', settings.port_base)}"
    command = Path(sys.executable).parent / "sentinel"
    console.print(
        "\n[bold]Where to look[/bold]"
        f" (the sentinel command is {command}; or `source {command.parent}/activate`)\n"
        f"  sentinel status            every component, its health and consumer lag\n"
        f"  sentinel decisions         the latest stored decisions (PostgreSQL: {settings.database_url})\n"
        f"  sentinel send --count 500  more demo traffic\n"
        f"  POST CloudEvents to        {ingest}/ (ingest), {score}/ (score, answers inline)\n"
        f"  logs                       {settings.state_dir / 'logs'}\n"
        f"  sentinel down              stop everything"
    )
