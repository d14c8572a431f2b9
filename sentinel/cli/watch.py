"""sentinel watch: every function's replicas, concurrency and desired scale, live, with a line
per scaling event (like `kubectl get pods -w` beside Knative's autoscaler view)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import click
from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from sentinel.cli.output import console
from sentinel.config import Settings
from sentinel.stack.autoscaling_status import autoscaler_status
from sentinel.stack.components import FUNCTION
from sentinel.stack.local import LocalStack

EVENTS_SHOWN = 20
# replicas: ready/desired; waiting: requests held while no replica is ready; stable and panic: the KPA's averages
COLUMNS = ("function", "replicas", "starting", "in flight", "waiting", "stable", "panic", "cold start")


class Watch:
    """The functions' latest autoscaler documents and the scaling events seen since watching."""

    def __init__(self, stack: LocalStack):
        self.functions = [component for component in stack.components if component.kind == FUNCTION]
        self.documents: dict[str, dict[str, Any] | None] = {}
        self.events: list[tuple[float, str, dict[str, Any]]] = []
        self._seen: set[tuple[str, float]] = set()

    def refresh(self) -> None:
        for function in self.functions:
            document = autoscaler_status(function.address)
            self.documents[function.name] = document
            for event in (document or {}).get("events", []):
                if (function.name, event["at"]) not in self._seen:
                    self._seen.add((function.name, event["at"]))
                    self.events.append((event["at"], function.name, event))
        self.events.sort(key=lambda item: item[0])

    def render(self) -> Group:
        table = Table(title=f"functions at {datetime.now():%H:%M:%S}", box=None)
        for column in COLUMNS:
            table.add_column(column, justify="left" if column == "function" else "right")
        for function in self.functions:
            table.add_row(function.name, *_cells(self.documents.get(function.name)))
        lines = [
            Text(f"{datetime.fromtimestamp(at):%H:%M:%S}  {name:<8} {e['previous']} → {e['desired']}  {e['reason']}")
            for at, name, e in self.events[-EVENTS_SHOWN:]
        ]
        return Group(table, Text("scaling events", style="bold"), *lines or [Text("none yet")])


def _cells(document: dict[str, Any] | None) -> list[str]:
    if document is None:
        return ["not autoscaled (sentinel up --autoscale) or down", *[""] * 6]
    cold = document["cold_starts"][-1]["seconds"] if document["cold_starts"] else None
    panic = f"{document['panic_concurrency']:.1f}" + (" PANIC" if document["panic"] else "")
    return [
        f"{document['ready']}/{document['desired']}",
        str(document["starting"]),
        str(document["in_flight"]),
        str(document["buffered"]),
        f"{document['stable_concurrency']:.1f}",
        panic,
        "-" if cold is None else f"{cold:.2f} s",
    ]


@click.command()
@click.option("--interval", default=1.0, show_default=True, help="Seconds between refreshes.")
@click.option("--once", is_flag=True, help="Print the table once and exit.")
def watch(interval: float, once: bool) -> None:
    """Watch the functions scale: replicas ready/desired, concurrency in flight, the KPA's stable and
    panic averages, and a line per scaling event. Needs `sentinel up --autoscale`. Ctrl-C stops."""
    view = Watch(LocalStack(Settings.from_env()))
    view.refresh()
    if once:
        console.print(view.render())
        return
    try:
        with Live(view.render(), console=console, refresh_per_second=4) as live:
            while True:
                time.sleep(interval)
                view.refresh()
                live.update(view.render())
    except KeyboardInterrupt:
        pass
