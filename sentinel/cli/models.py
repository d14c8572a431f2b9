"""sentinel models / retrain: the model registry, promotion, rollback, and the Prefect flows."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from sentinel.cli.database import connected
from sentinel.cli.flow_runs import run_flow
from sentinel.cli.output import acting_user, console, fail, say
from sentinel.core.promotion import GateMarginError, bounded_margin
from sentinel.stores import registry
from sentinel.stores import shadow as shadow_comparison
from training import caller
from training.dataset import DataError
from training.settings import TrainingSettings

# Training's heavy modules are imported where they are used, so `sentinel models` and the
# other commands start fast: training.pipeline and training.gate take 2.3 s to import
# (XGBoost, onnxmltools, scikit-learn), training.flows 4.2 s (Prefect), on this machine.

SOURCE_HELP = (
    "synthetic (default), csv:PATH (a .csv file in the data directory, SENTINEL_DATA_DIR),"
    " gdrive:FILE_ID@SHA256 (or gdrive with SENTINEL_DATASET_GDRIVE_ID and SENTINEL_DATASET_SHA256), or postgres."
)


@click.group(invoke_without_command=True)
@click.pass_context
def models(context: click.Context) -> None:
    """List registered model versions; subcommands switch the champion."""
    if context.invoked_subcommand is not None:
        return
    with connected() as conn:
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
@click.option(
    "--gate-margin", type=float, default=None, help="Allowed AUPRC shortfall, -0.1 to 0.1 (SENTINEL_GATE_MARGIN)."
)
def promote(version: str, force: bool, reason: str, gate_margin: float | None) -> None:
    """Make VERSION the champion, if the gate lets it: its AUPRC must not fall short of the champion's.

    Both are measured on the registry's fixed holdout. The promotion history records
    your user name as the promoter.
    """
    if force and not reason:
        fail("--force needs --reason: the promotion history records why the gate was overridden")
    try:
        margin = bounded_margin(TrainingSettings.from_env().gate_margin if gate_margin is None else gate_margin)
    except GateMarginError as error:
        fail(str(error))
    with connected() as conn:
        record = registry.get(conn, version)
        if record is None:
            fail(f"no model {version!r} in the registry; `sentinel models` lists them")
        champion = registry.champion_version(conn)
        if champion == version:
            console.print(f"{version} is already the champion")
            return
        verdict = _measure_gate(conn, record, margin) if champion else None
        if verdict is not None:
            registry.record_gate(conn, verdict)
            say(verdict.explain())
        try:
            promoted = registry.promote(
                conn,
                version,
                by=acting_user("models promote"),
                reason=reason or (verdict.explain() if verdict else "promoted by hand"),
                gate=verdict,
                force=force,
            )
        except registry.GateRejected as error:
            fail(f"{error}\n  to promote it anyway: sentinel models promote {version} --force --reason '...'")
    say(f"{promoted.version} is the champion now (was {champion or 'none'}); score processes switch within seconds")


def _measure_gate(conn, record, margin: float):
    """The gate's verdict on `record`, measured on the registry's fixed holdout."""
    from training import gate, holdout

    try:
        return gate.on_holdout(conn, record, holdout.ensure(conn), margin=margin)
    except DataError as error:
        fail(str(error))


@models.command()
@click.option("--reason", default="rolled back by hand", show_default=True, help="Why; recorded in the history.")
def rollback(reason: str) -> None:
    """Make the champion before the current one champion again; the history records your user name."""
    with connected() as conn:
        previous = registry.champion_version(conn)
        try:
            champion = registry.rollback(conn, by=acting_user("models rollback"), reason=reason)
        except registry.NothingToRollBack as error:
            fail(str(error))
    say(f"{champion.version} is the champion again (was {previous}); score processes switch within seconds")


@models.command()
@click.argument("version", required=False)
@click.option("--stop", is_flag=True, help="Take the challenger out of shadow.")
def shadow(version: str | None, stop: bool) -> None:
    """Put VERSION in shadow: score evaluates it beside the champion on every event and records
    what it would have decided, without acting on it. `sentinel models compare` shows how it does."""
    if stop == (version is not None):
        fail("give a VERSION to put in shadow, or --stop to end the shadow")
    with connected() as conn:
        if stop:
            ended = registry.end_shadow(conn, by=acting_user("models shadow"))
            say(f"{ended} is out of shadow" if ended else "no model was in shadow")
            return
        try:
            replaced = registry.put_in_shadow(conn, version, by=acting_user("models shadow"))
        except (registry.UnknownModel, ValueError) as error:
            fail(str(error).strip("'\""))
    instead = f" instead of {replaced}" if replaced and replaced != version else ""
    say(f"{version} runs in shadow{instead}; score processes start evaluating it within seconds")


@models.command()
@click.argument("version", required=False)
def compare(version: str | None) -> None:
    """Champion and challenger on the live traffic decided while VERSION (by default the model in shadow)
    ran in shadow: agreement, alerts an hour, and precision and recall on what has been labelled since."""
    with connected() as conn:
        version = version or registry.challenger_version(conn)
        if version is None:
            fail("no model is in shadow: `sentinel models shadow VERSION` puts one there")
        comparison = shadow_comparison.compare(conn, version)
    if not comparison.decisions:
        console.print(f"no decision has recorded {version} in shadow yet")
        return
    console.print(
        f"{comparison.decisions:,} decisions with {version} in shadow,"
        f" {comparison.first_at:%Y-%m-%d %H:%M} to {comparison.last_at:%Y-%m-%d %H:%M};"
        f" they agree on {comparison.agreement:.1%}; {comparison.labelled:,} labelled since, {comparison.fraud:,} fraud"
    )
    table = Table(box=None)
    for column in ("", "alerts", "alerts an hour", "precision", "recall"):
        table.add_column(column)
    for name, side in (("champion", comparison.champion), (f"challenger {version}", comparison.challenger)):
        table.add_row(
            name, f"{side.alerts:,}", _number(side.alerts_per_hour, 1), _number(side.precision), _number(side.recall)
        )
    console.print(table)


@models.command()
@click.argument("version")
@click.option("--source", default="synthetic", show_default=True, help=SOURCE_HELP)
@click.option("--rows", type=int, default=None, help="Synthetic rows (SENTINEL_TRAINING_ROWS).")
@click.option("--seed", type=int, default=None, help="Synthetic seed; default 8, unlike training's 7.")
def evaluate(version: str, source: str, rows: int | None, seed: int | None) -> None:
    """Score a labelled set with VERSION (the Prefect `evaluate` flow) and show its metrics."""
    run_flow("evaluate", version=version, source=source, rows=rows, seed=seed)


@click.command()
@click.option("--source", default="synthetic", show_default=True, help=SOURCE_HELP)
@click.option("--rows", type=int, default=None, help="Synthetic rows (SENTINEL_TRAINING_ROWS, default 150000).")
@click.option("--seed", type=int, default=None, help="Seed for synthetic data and the split (default 7).")
@click.option("--review-precision", type=float, default=None, help="Precision the review threshold must reach.")
@click.option("--block-precision", type=float, default=None, help="Precision the block threshold must reach.")
@click.option(
    "--gate-margin", type=float, default=None, help="Allowed AUPRC shortfall against the champion, -0.1 to 0.1."
)
@click.option("--no-promote", is_flag=True, help="Register and measure the candidate, but keep the champion.")
@click.option(
    "--without-behaviour", is_flag=True, help="Train on the transaction's own features only, not the behavioural ones."
)
def retrain(
    source: str,
    rows: int | None,
    seed: int | None,
    review_precision: float | None,
    block_precision: float | None,
    gate_margin: float | None,
    no_promote: bool,
    without_behaviour: bool,
) -> None:
    """Run the Prefect `retrain` flow: load, validate, train, evaluate, export, check parity, register, gate.

    The gate measures the candidate and the champion on the registry's fixed holdout;
    a promotion is recorded with your user name.
    """
    with caller.acting_as(acting_user("retrain")):
        result = run_flow(
            "retrain",
            source=source,
            rows=rows,
            seed=seed,
            review_precision=review_precision,
            block_precision=block_precision,
            gate_margin=gate_margin,
            promote=not no_promote,
            behaviour=not without_behaviour,
        )
    if result["promoted"]:
        say(f"{result['version']} is the champion now; score processes switch within seconds")
    else:
        console.print(f"{result['version']} is registered as a candidate; the champion is still {result['champion']}")
    console.print(f"the run took {result['seconds']:.0f}s")


def _number(value: Any, digits: int = 3) -> str:
    return f"{value:.{digits}f}" if isinstance(value, int | float) else "-"


def _gate_cell(verdict: dict[str, Any] | None) -> str:
    if not verdict:
        return ""
    if verdict["champion_version"] is None:
        return "first champion"
    mark = "[green]passed[/green]" if verdict["passed"] else "[red]failed[/red]"
    return f"{mark} vs {verdict['champion_version']} ({verdict['champion_auprc']:.3f})"
