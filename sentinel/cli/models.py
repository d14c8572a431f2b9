"""sentinel models / retrain: the model registry, promotion, rollback, and the Prefect flows."""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import click
import psycopg
from rich.table import Table

from sentinel.cli.output import console, say
from sentinel.config import Settings
from sentinel.core.model import ModelRejected
from sentinel.stores import database, registry
from training import loader, prefect_env
from training.dataset import DataError
from training.gdrive import DownloadError
from training.loader import SourceError
from training.progress import forwarded_to
from training.settings import TrainingSettings

# Training's heavy modules are imported where they are used, so `sentinel models` and the
# other commands start fast: training.pipeline and training.gate take 2.3 s to import
# (XGBoost, onnxmltools, scikit-learn), training.flows 4.2 s (Prefect), on this machine.

SOURCE_HELP = "synthetic (default), csv:PATH, gdrive:FILE_ID (or gdrive with SENTINEL_DATASET_GDRIVE_ID), or postgres."


def _default_by(command: str) -> str:
    return f"{getpass.getuser()} via sentinel {command}"


def _fail(message: str) -> NoReturn:
    console.print(f"[red]✗ {message}[/red]")
    sys.exit(1)


@contextmanager
def _registry() -> Iterator[psycopg.Connection]:
    url = Settings.from_env().database_url
    try:
        conn = database.connect(url)
    except psycopg.OperationalError as error:
        reason = str(error).strip().splitlines()[0]
        _fail(f"cannot reach the model registry at {url}: {reason} (is `sentinel up` running?)")
    with conn:
        yield conn


@click.group(invoke_without_command=True)
@click.pass_context
def models(context: click.Context) -> None:
    """List registered model versions; subcommands switch the champion."""
    if context.invoked_subcommand is not None:
        return
    with _registry() as conn:
        records = registry.models(conn)
        history = registry.promotions(conn, limit=5)
    if not records:
        console.print("no models registered yet: `sentinel up` trains a first one, `sentinel retrain` another")
        return
    table = Table(box=None)
    for column in ("version", "status", "created", "AUPRC", "best", "ROC-AUC", "data", "gate"):
        table.add_column(column)
    colours = {"champion": "green", "candidate": "yellow", "retired": "dim"}
    for record in records:
        metrics = record.metrics
        table.add_row(
            record.version,
            f"[{colours[record.status]}]{record.status}[/]",
            record.created_at.strftime("%Y-%m-%d %H:%M"),
            _number(metrics.get("auprc")),
            _number(metrics.get("best_achievable_auprc")),
            _number(metrics.get("roc_auc")),
            (metrics.get("data") or {}).get("source", record.data_fingerprint.split(":sha256=")[0]),
            _gate_cell(metrics.get("gate")),
        )
    console.print(table)
    if history:
        console.print("\n[bold]Latest changes of champion[/bold]")
        for change in history:
            forced = " [red](forced)[/red]" if change.forced else ""
            console.print(
                f"  {change.promoted_at:%Y-%m-%d %H:%M:%S}  {change.action} {change.previous_version or '-'} →"
                f" {change.version}{forced} by {change.promoted_by}: {change.reason}"
            )


@models.command()
@click.argument("version")
@click.option("--force", is_flag=True, help="Promote even when the gate refuses; needs --reason.")
@click.option("--reason", default="", help="Why; recorded in the promotion history.")
@click.option("--by", default=None, help="Who promotes; default: your user name.")
@click.option("--source", default=None, help=f"Compare on this labelled data instead. {SOURCE_HELP}")
@click.option("--gate-margin", type=float, default=None, help="Allowed AUPRC shortfall (SENTINEL_GATE_MARGIN).")
def promote(
    version: str, force: bool, reason: str, by: str | None, source: str | None, gate_margin: float | None
) -> None:
    """Make VERSION the champion, if the gate lets it: its AUPRC must not fall short of the champion's.

    Both are measured on the data VERSION was tested on (rebuilt from the registry's
    record of it), or on --source.
    """
    if force and not reason:
        _fail("--force needs --reason: the promotion history records why the gate was overridden")
    settings = TrainingSettings.from_env()
    margin = settings.gate_margin if gate_margin is None else gate_margin
    with _registry() as conn:
        record = registry.get(conn, version)
        if record is None:
            _fail(f"no model {version!r} in the registry; `sentinel models` lists them")
        champion = registry.champion_version(conn)
        if champion == version:
            console.print(f"{version} is already the champion")
            return
        verdict = _measure_gate(conn, record, settings, source, margin, force) if champion else None
        if verdict is not None:
            registry.record_gate(conn, verdict)
            say(verdict.explain())
        try:
            promoted = registry.promote(
                conn,
                version,
                by=by or _default_by("models promote"),
                reason=reason or (verdict.explain() if verdict else "promoted by hand"),
                gate=verdict,
                force=force,
            )
        except registry.GateRejected as error:
            _fail(f"{error}\n  to promote it anyway: sentinel models promote {version} --force --reason '...'")
    say(f"{promoted.version} is the champion now (was {champion or 'none'}); score processes switch within seconds")


def _measure_gate(conn, record, settings, source: str | None, margin: float, force: bool):
    """The gate's verdict; None when the data to measure on cannot be had and the promotion is forced."""
    from training import gate, pipeline

    try:
        if source:
            parsed = loader.Source.parse(source, settings)
            rows, seed = settings.synthetic_rows, pipeline.FRESH_SEED
            dataset = loader.load(parsed, settings, rows=rows, seed=seed)
            features, labels = dataset.features, dataset.labels
            evaluated_on = f"{parsed.describe(rows=rows, seed=seed)} ({len(labels):,} rows)"
        else:
            features, labels, evaluated_on = pipeline.held_out_rows(record, settings)
    except (DataError, DownloadError, loader.SourceError) as error:
        if force:
            say(f"[yellow]no gate: {error}[/yellow]")
            return None
        _fail(f"{error}: compare on other labelled data with --source, or promote anyway with --force --reason")
    return gate.measure(conn, record, features, labels, margin=margin, evaluated_on=evaluated_on)


@models.command()
@click.option("--reason", default="rolled back by hand", show_default=True, help="Why; recorded in the history.")
@click.option("--by", default=None, help="Who rolls back; default: your user name.")
def rollback(reason: str, by: str | None) -> None:
    """Make the champion before the current one champion again."""
    with _registry() as conn:
        previous = registry.champion_version(conn)
        try:
            champion = registry.rollback(conn, by=by or _default_by("models rollback"), reason=reason)
        except registry.NothingToRollBack as error:
            _fail(str(error))
    say(f"{champion.version} is the champion again (was {previous}); score processes switch within seconds")


@models.command()
@click.argument("version")
@click.option("--source", default="synthetic", show_default=True, help=SOURCE_HELP)
@click.option("--rows", type=int, default=None, help="Synthetic rows (SENTINEL_TRAINING_ROWS).")
@click.option("--seed", type=int, default=None, help="Synthetic seed; default 8, unlike training's 7.")
def evaluate(version: str, source: str, rows: int | None, seed: int | None) -> None:
    """Score a labelled set with VERSION (the Prefect `evaluate` flow) and show its metrics."""
    _run_flow("evaluate", version=version, source=source, rows=rows, seed=seed)


@click.command()
@click.option("--source", default="synthetic", show_default=True, help=SOURCE_HELP)
@click.option("--rows", type=int, default=None, help="Synthetic rows (SENTINEL_TRAINING_ROWS, default 150000).")
@click.option("--seed", type=int, default=None, help="Seed for synthetic data and the split (default 7).")
@click.option("--review-precision", type=float, default=None, help="Precision the review threshold must reach.")
@click.option("--block-precision", type=float, default=None, help="Precision the block threshold must reach.")
@click.option("--gate-margin", type=float, default=None, help="Allowed AUPRC shortfall against the champion.")
@click.option("--no-promote", is_flag=True, help="Register and measure the candidate, but keep the champion.")
@click.option("--by", default=None, help="Who promotes; default: your user name.")
def retrain(
    source: str,
    rows: int | None,
    seed: int | None,
    review_precision: float | None,
    block_precision: float | None,
    gate_margin: float | None,
    no_promote: bool,
    by: str | None,
) -> None:
    """Run the Prefect `retrain` flow: load, validate, train, evaluate, export, check parity, register, gate."""
    result = _run_flow(
        "retrain",
        source=source,
        rows=rows,
        seed=seed,
        review_precision=review_precision,
        block_precision=block_precision,
        gate_margin=gate_margin,
        promote=not no_promote,
        by=by or _default_by("retrain"),
    )
    if result["promoted"]:
        say(f"{result['version']} is the champion now; score processes switch within seconds")
    else:
        console.print(f"{result['version']} is registered as a candidate; the champion is still {result['champion']}")
    console.print(f"the run took {result['seconds']:.0f}s")


def _run_flow(name: str, **parameters: Any) -> dict[str, Any]:
    """Run a training flow in this process, showing its progress; exit 1 with the reason if it fails."""
    state_dir = Settings.from_env().state_dir
    prefect_env.configure(state_dir)
    # Prefect's own console lines (a failed task's traceback among them) would drown the progress
    # and the error message below; they still reach its API and UI.
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
    api = os.environ.get("PREFECT_API_URL") or "Prefect's ephemeral API"
    console.print(f"[bold]Running the {name} flow[/bold] ({api}; Prefect state in {state_dir / 'prefect'})")
    starting = "starting Prefect (its ephemeral API takes 10-20 s to start)" if api.startswith("Prefect's") else name
    with console.status(starting) as status, forwarded_to(_progress(status)):
        from training import flows

        try:
            return getattr(flows, name)(**parameters)
        except Exception as error:
            if not _expected(error):
                raise
            _fail(str(error))


def _progress(status) -> Callable[[str], None]:
    def show(message: str) -> None:
        say(message)
        status.update(message)

    return show


def _expected(error: Exception) -> bool:
    """Failures with a message for people, not a traceback: bad data, a failed download, a rejected model."""
    from training.export import ParityError  # imported already by the flow that failed

    return isinstance(
        error,
        DataError
        | DownloadError
        | SourceError
        | ParityError
        | ModelRejected
        | registry.GateRejected
        | registry.UnknownModel,
    )


def _number(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, int | float) else "-"


def _gate_cell(verdict: dict[str, Any] | None) -> str:
    if not verdict:
        return ""
    if verdict["champion_version"] is None:
        return "first champion"
    mark = "[green]passed[/green]" if verdict["passed"] else "[red]failed[/red]"
    return f"{mark} vs {verdict['champion_version']} ({verdict['champion_auprc']:.3f})"
