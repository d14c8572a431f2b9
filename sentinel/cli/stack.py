"""sentinel up / down / status / demo: the local stack."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from eventing.broker_holdings import held_records, holdings_warning
from sentinel.cli.output import console, say
from sentinel.cli.traffic import send_traffic
from sentinel.config import Settings, component_port
from sentinel.core.decision import DECISIONS
from sentinel.core.redact import without_password
from sentinel.stack import client_key, first_admin
from sentinel.stack.local import ComponentStatus, LocalStack, StackError
from sentinel.stack.request_rates import RequestWatch
from sentinel.stack.secrets import secrets_dir
from sentinel.stores.decisions import pipeline_totals
from training import prefect_service

STATE_MARKUP = {"healthy": "[green]yes[/green]", "stalled": "[yellow]stalled[/yellow]", "down": "[red]no[/red]"}


def _stack() -> LocalStack:
    return LocalStack(Settings.from_env())


def _start_stack(with_prefect: bool = False, autoscale: bool = False) -> None:
    """`up`, printing each step; exits 1 with the reason when a component fails."""
    console.print("[bold]Starting the Sentinel stack[/bold]")
    try:
        LocalStack(Settings.from_env(), autoscale=autoscale).up(say=say, with_optional=with_prefect)
    except StackError as error:
        console.print(f"[red]✗ {error}[/red]")
        sys.exit(1)


@click.command()
@click.option(
    "--with-prefect",
    is_flag=True,
    help="Also start a Prefect server (UI on port 4200) serving the retrain flow on a schedule.",
)
@click.option(
    "--autoscale",
    is_flag=True,
    help="Run each function as 0..N replicas scaled by Knative's KPA rules (watch with `sentinel watch`).",
)
def up(with_prefect: bool, autoscale: bool) -> None:
    """Start the local stack in the background and wait until every part is healthy."""
    _start_stack(with_prefect, autoscale)
    _where_to_look(Settings.from_env())


@click.command()
@click.argument("components", nargs=-1)
def down(components: tuple[str, ...]) -> None:
    """Stop everything `sentinel up` started, or only the COMPONENTS named.

    `sentinel up` starts stopped components again."""
    try:
        _stack().down(say=say, names=components)
    except StackError as error:
        console.print(f"[red]✗ {error}[/red]")
        sys.exit(2)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(as_json: bool) -> None:
    """Show every component: health, pid, address, restarts, consumer lag, and each function's
    request rate and latency percentiles over the seconds the command takes (from its /metrics)."""
    stack = _stack()
    watch = RequestWatch(stack.function_urls())
    watch.measure()
    statuses = stack.status(watch)
    if as_json:
        click.echo(json.dumps([status.to_json() for status in statuses], indent=2))
    else:
        table = Table(box=None)
        for column in ("component", "healthy", "pid", "restarts", "address", "lag", "req/s", "p50/p99 ms", "detail"):
            table.add_column(column)
        for item in statuses:
            table.add_row(
                item.name,
                STATE_MARKUP[item.state],
                "external" if item.external else str(item.pid or "-"),
                str(item.restarts),
                item.address,
                "" if item.lag is None else str(item.lag),
                *_requests(item.requests),
                item.reason or _replicas(item),
            )
        console.print(table)
        console.print(status_headline(statuses))
        warning = _broker_warning(stack)
        if warning:
            console.print(f"[yellow]warning:[/yellow] {warning}")
    sys.exit(0 if all(item.healthy for item in statuses) else 1)


def _requests(requests: dict[str, Any] | None) -> tuple[str, str]:
    """A function's request rate, and its latency percentiles when it answered any."""
    if requests is None:
        return "", ""
    if requests["p50_ms"] is None:
        return f"{requests['rate_per_s']:g}", ""
    return f"{requests['rate_per_s']:g}", f"{requests['p50_ms']:g} / {requests['p99_ms']:g}"


def _replicas(item: ComponentStatus) -> str:
    """An autoscaled function's replicas, ready/desired."""
    scaling = item.autoscaling
    return f"replicas {scaling['ready']}/{scaling['desired']}" if scaling else ""


def status_headline(statuses: list[ComponentStatus]) -> str:
    """One line: all healthy, degraded (running but stalled: each stall named) or what is down."""
    down = [item.name for item in statuses if item.state == "down"]
    stalled = [item for item in statuses if item.state == "stalled"]
    if down:
        return f"[red]down: {', '.join(down)}[/red]"
    if stalled:
        return "[yellow]degraded[/yellow]: " + "; ".join(
            _stall_line(item.name, row) for item in stalled for row in item.stalled
        )
    return "[green]all healthy[/green]"


def _broker_warning(stack: LocalStack) -> str | None:
    """The local broker slows with every record it holds and nothing trims it: say when it holds many."""
    if "broker" in stack.settings.external:
        return None
    topics = sorted({sink.topic for sink in stack.topology.sinks.values()})
    try:
        return holdings_warning(held_records(stack.settings.kafka_bootstrap_servers, topics))
    except Exception:  # the broker is down: its row in the table says so
        return None


def _stall_line(name: str, row: dict) -> str:
    line = f"{name} stalled at {row['topic']}/{row['partition']} for {row['for_s']:g} s"
    if row["event_id"]:
        line += f" (event {row['event_id']}, {row['attempts']} failed attempts, last {row['last_error']})"
    return line


@click.command()
@click.option("--count", default=300, show_default=True)
@click.option("--rate", default=50.0, show_default=True)
def demo(count: int, rate: float) -> None:
    """Start the stack, stream demo traffic through it, and show what it decided."""
    settings = Settings.from_env()
    _start_stack()
    console.print(f"\n[bold]Streaming {count} demo transactions[/bold]")
    report = send_traffic(count, rate, None, None, 0.03, 0.02)
    deadline = time.monotonic() + 60
    with console.status("waiting for the pipeline to store every decision"):
        while True:
            # The demo client's own transactions, unless another key sent them (SENTINEL_API_KEY).
            client = None if settings.api_key else client_key.NAME
            totals = pipeline_totals(settings.database_url, report.accepted_ids, client_id=client)
            if totals["persisted"] >= report.accepted or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    console.print(
        f"stored {totals['persisted']} of {report.accepted} accepted: "
        f"{', '.join(f'{totals[decision]} {decision}' for decision in DECISIONS)}; {totals['alerts']} alerts"
    )
    _where_to_look(settings)
    if report.failed or totals["persisted"] < report.accepted:
        sys.exit(1)


def _where_to_look(settings: Settings) -> None:
    ingest = f"http://127.0.0.1:{component_port('ingest', settings.port_base)}"
    score = f"http://127.0.0.1:{component_port('score', settings.port_base)}"
    command = Path(sys.executable).parent / "sentinel"
    database = without_password(settings.database_url)
    console.print(
        "\n[bold]Where to look[/bold]"
        f" (the sentinel command is {command}; or `source {command.parent}/activate`)\n"
        f"  the UI                     http://127.0.0.1:{component_port('ui', settings.port_base)}/"
        f" (user {first_admin.NAME}, password in {first_admin.password_file(settings.state_dir)})\n"
        f"  Prefect UI                 http://127.0.0.1:{component_port('prefect', settings.port_base)}/"
        f" (after sentinel up --with-prefect; user {prefect_service.AUTH_USER},"
        f" password in {secrets_dir(settings.state_dir) / prefect_service.PASSWORD_SECRET})\n"
        f"  sentinel status            every component, its health and consumer lag\n"
        f"  sentinel decisions         the latest stored decisions (PostgreSQL: {database})\n"
        f"  sentinel send --count 500  more demo traffic\n"
        f"  POST CloudEvents to        {ingest}/ (ingest), {score}/ (score, answers inline)\n"
        f"    with the header          Authorization: Bearer <the key in {client_key.key_file(settings.state_dir)}>\n"
        f"  sentinel keys create NAME  an API key for another client\n"
        f"  logs                       {settings.state_dir / 'logs'}\n"
        f"  sentinel down              stop everything"
    )
