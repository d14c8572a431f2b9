"""sentinel dlq list / show / replay: the events no function could take, and sending them again."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from eventing.dead_letters import (
    DeadLetterError,
    DeadLetterReader,
    Replayer,
    ReplayReport,
    Routes,
)
from sentinel.cli.output import console, say
from sentinel.config import Settings
from sentinel.stack.components import FUNCTION
from sentinel.stack.local import LocalStack

# Times are shown as the UI shows them (ui.formatting), imported where they are used: importing
# the ui package takes 75 ms, which every `sentinel` command would pay.

DEFAULT_LIMIT = 50
MAX_LIMIT = 10_000
ERROR_CELL_CHARS = 100


@click.group()
@click.option("--topic", help="The dead-letter topic; default: the one the KafkaSources in knative/ dead-letter to.")
@click.pass_context
def dlq(context: click.Context, topic: str | None) -> None:
    """Dead letters: events a KafkaSource could not deliver, and replaying them.

    They are read from the broker KAFKA_BOOTSTRAP_SERVERS names (the local stack's by default)."""
    context.obj = topic


@dlq.command("list")
@click.option(
    "--limit",
    type=click.IntRange(1, MAX_LIMIT),
    default=DEFAULT_LIMIT,
    show_default=True,
    help="Show the newest N.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def list_(topic: str | None, limit: int, as_json: bool) -> None:
    """The newest dead letters, newest first: when, which event, and why it failed."""
    from ui.formatting import ago, when

    with _clear_errors():
        found = _reader(topic).newest(limit)
    if as_json:
        click.echo(json.dumps(found.to_json(), indent=2))
        return
    if not found.count:
        console.print(f"no dead letters in {found.topic}")
        return
    shown = f"the newest {len(found.letters)}" if len(found.letters) < found.count else "all"
    console.print(
        f"{found.count} dead letter{'s' if found.count != 1 else ''} in {found.topic}, {shown} below, newest first"
        f" (oldest {ago(found.oldest_at)}, newest {ago(found.newest_at)})"
    )
    table = Table(box=None)
    for column in ("id", "dead-lettered (UTC)", "event id", "type", "subject", "code", "destination", "error"):
        table.add_column(column, no_wrap=column in ("id", "dead-lettered (UTC)", "code"), overflow="fold")
    for letter in found.letters:
        table.add_row(
            letter.id,
            when(letter.dead_lettered_at),
            escape(letter.event_id),
            escape(letter.event_type),
            escape(letter.subject or "-"),
            str(letter.error_code or "-"),
            escape(letter.destination or "-"),
            escape(_shortened(letter.error or "-")),
        )
    console.print(table)
    console.print("details: sentinel dlq show ID; send again: sentinel dlq replay ID, or --all")


@dlq.command()
@click.argument("letter_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def show(topic: str | None, letter_id: str, as_json: bool) -> None:
    """Every attribute of dead letter ID, the error its destination answered, and the event's data."""
    from ui.formatting import ago, when

    with _clear_errors():
        letter = _reader(topic).get(letter_id)
    document = letter.to_json(detail=True)
    if as_json:
        click.echo(json.dumps(document, indent=2))
        return
    console.print(
        f"[bold]Dead letter {letter.id}[/bold] in {letter.topic} (partition {letter.partition},"
        f" offset {letter.offset}), dead-lettered {when(letter.dead_lettered_at)} UTC"
        f" ({ago(letter.dead_lettered_at)})"
    )
    attributes = Table(box=None, title="attributes", title_justify="left")
    attributes.add_column("name")
    attributes.add_column("value", overflow="fold")
    for name, value in letter.event.attributes.items():
        attributes.add_row(name, escape(value))
    console.print(attributes)
    console.print(
        f"\n[bold]error[/bold]: {letter.error_code or 'no HTTP status'} from {escape(letter.destination or '?')}"
    )
    console.print(escape(_pretty(document["error_data"])))
    console.print("\n[bold]data[/bold]")
    console.print(escape(_pretty(document["data"])))


@dlq.command()
@click.argument("letter_id", metavar="[ID]", required=False)
@click.option("--all", "every", is_flag=True, help="Every dead letter not replayed by an earlier --all.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def replay(topic: str | None, letter_id: str | None, every: bool, as_json: bool) -> None:
    """Send dead letter ID (or, with --all, every one not replayed yet) again to the topic it came from.

    The event goes back as it was, without the knativeerror* extensions, keyed by its
    partitionkey; every function is idempotent on transaction_id, so a replay is safe.
    --all remembers how far it got (consumer group sentinel-dlq-replay): the next --all
    starts after it."""
    if (letter_id is None) == (not every):
        raise click.UsageError("give the ID of one dead letter, or --all")
    with _clear_errors():
        replayer = _replayer(topic)
        if letter_id is not None:
            letter, target = replayer.replay(letter_id)
            report = ReplayReport(replayed=[(letter, target)])
        else:
            report = replayer.replay_pending()
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        _say_what_was_replayed(report, every)
    if report.skipped:
        sys.exit(1)


def _say_what_was_replayed(report: ReplayReport, every: bool) -> None:
    if len(report.replayed) == 1 and not every:
        [(letter, topic)] = report.replayed
        say(f"replayed dead letter {letter.id} (event {escape(letter.event_id)}) to {topic}")
    elif report.replayed:
        ids = [letter.id for letter, _topic in report.replayed]
        topics = ", ".join(f"{number} to {topic}" for topic, number in sorted(report.topics.items()))
        say(f"replayed {len(ids)} dead letter{'s' if len(ids) != 1 else ''} ({_span(ids)}): {topics}")
    elif every and not report.skipped and not report.repeats:
        say("nothing to replay: every dead letter was replayed by an earlier --all")
    if report.repeats:
        ids = _span([letter.id for letter in report.repeats])
        say(f"{len(report.repeats)} more held an event replayed above, so it went once ({ids})")
    for _letter, reason in report.skipped:
        console.print(f"[red]✗ not replayed: {escape(reason)}[/red]")
    if report.skipped:
        console.print("  they stay in the topic: `sentinel dlq show ID` shows one, `sentinel dlq replay ID` sends it")


def _shortened(text: str) -> str:
    """A table cell's share of a long error; `show` has all of it."""
    return text if len(text) <= ERROR_CELL_CHARS else text[: ERROR_CELL_CHARS - 1] + "…"


def _span(ids: list[str]) -> str:
    return f"id {ids[0]}" if len(ids) == 1 else f"ids {ids[0]} to {ids[-1]}"


def _reader(topic: str | None) -> DeadLetterReader:
    settings = Settings.from_env()
    return DeadLetterReader.of(settings.kafka_bootstrap_servers, LocalStack(settings).topology, topic)


def _replayer(topic: str | None) -> Replayer:
    """Replays routed by the manifests, with the local stack's function addresses."""
    settings = Settings.from_env()
    stack = LocalStack(settings)
    addresses = {component.name: component.address for component in stack.components if component.kind == FUNCTION}
    reader = DeadLetterReader.of(settings.kafka_bootstrap_servers, stack.topology, topic)
    return Replayer(reader, Routes(stack.topology, addresses))


@contextmanager
def _clear_errors() -> Iterator[None]:
    try:
        yield
    except DeadLetterError as error:
        console.print(f"[red]✗ {escape(str(error))}[/red]")
        sys.exit(1)


def _pretty(value: Any) -> str:
    if value is None:
        return "(none)"
    return value if isinstance(value, str) else json.dumps(value, indent=2)
