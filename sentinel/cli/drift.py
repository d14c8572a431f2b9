"""sentinel drift: run the Prefect `drift` flow and show how far recent traffic is from the champion's training data."""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.table import Table

from sentinel.cli.flow_runs import run_flow
from sentinel.cli.output import console
from sentinel.core.drift import COMPARED, reading

# The exit status when the check alerts: not 1, which says the check itself failed.
ALERT_EXIT_STATUS = 3
_COLOURS = {"stable": "green", "moderate": "yellow", "significant": "red"}


@click.command()
@click.option(
    "--window-hours",
    type=float,
    default=None,
    help="Compare the last this many hours of traffic (SENTINEL_DRIFT_WINDOW_HOURS, default 24).",
)
@click.option(
    "--threshold", type=float, default=None, help="A PSI above this alerts (SENTINEL_DRIFT_THRESHOLD, default 0.2)."
)
def drift(window_hours: float | None, threshold: float | None) -> None:
    """Compare recent traffic with the champion's training data: the population stability index (PSI)
    of every feature and of the risk score, stored as a drift report the UI's overview shows.

    Exits 0 when no PSI is above the threshold (or nothing could be compared, as it says),
    3 when the report alerts, 1 when the check could not run.
    """
    result = run_flow("drift", window_hours=window_hours, threshold=threshold)
    if result["status"] == COMPARED:
        console.print(psi_table(result))
    if result["alerting"]:
        console.print(f"[bold red]✗ drift alert against {result['champion_version']}: {result['message']}[/bold red]")
        sys.exit(ALERT_EXIT_STATUS)
    colour = "green" if result["status"] == COMPARED else "yellow"
    console.print(f"[{colour}]{result['message']}[/{colour}]")


def psi_table(result: dict[str, Any]) -> Table:
    """Every compared column, the most drifted first."""
    table = Table(box=None, title=f"PSI against {result['champion_version']}, {result['rows']:,} transactions")
    for column in ("column", "PSI", "reading"):
        table.add_column(column, justify="right" if column == "PSI" else "left")
    for name, value in result["psi"].items():
        mark = " ✗" if value > result["threshold"] else ""
        colour = _COLOURS[reading(value)]
        table.add_row(name, f"{value:.4f}", f"[{colour}]{reading(value)}{mark}[/{colour}]")
    return table
