"""The overview: decisions over time, the risk-score distribution and alert volume, for a time window.

The page shows the headline numbers itself and draws the charts from
/api/overview with Chart.js (shipped in static/vendor, no CDN). One pass over
the window's transactions gives both the decisions per time bucket and the
risk histogram. The page also counts the dead letters and says how old the newest
and the oldest are (ui.dead_letters); /api/dead-letters has them as JSON, so the
charts' refresh every 15 s does not read the broker. The latest drift check and
the drift chart come from ui.drift.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, jsonify, render_template, request
from werkzeug.wrappers import Response

from sentinel.core.decision import ALERTING_DECISIONS, DECISIONS
from ui import dead_letters, drift
from ui.database import Row, fetch_all, fetch_one
from ui.params import Arguments

blueprint = Blueprint("overview", __name__)

RISK_BINS = 20
ORIGIN = datetime(2000, 1, 3, tzinfo=UTC)  # a Monday at midnight: buckets start on round times


@dataclass(frozen=True)
class Window:
    name: str
    span: timedelta
    step: timedelta
    title: str
    label_format: str

    @property
    def buckets(self) -> int:
        return int(self.span / self.step)

    def bounds(self, now: datetime) -> tuple[datetime, datetime]:
        """The window's start and end: whole buckets, the last one holding `now`."""
        current = ORIGIN + ((now - ORIGIN) // self.step) * self.step
        end = current + self.step
        return end - self.span, end


WINDOWS = {
    window.name: window
    for window in (
        Window("1h", timedelta(hours=1), timedelta(minutes=1), "last hour", "%H:%M"),
        Window("6h", timedelta(hours=6), timedelta(minutes=5), "last 6 hours", "%H:%M"),
        Window("24h", timedelta(hours=24), timedelta(minutes=30), "last 24 hours", "%H:%M"),
        Window("7d", timedelta(days=7), timedelta(hours=6), "last 7 days", "%a %H:%M"),
        Window("30d", timedelta(days=30), timedelta(days=1), "last 30 days", "%b %d"),
    )
}
DEFAULT_WINDOW = "24h"


def read_window() -> Window:
    arguments = Arguments(request.args, ("window",))
    return WINDOWS[arguments.choice("window", tuple(WINDOWS), DEFAULT_WINDOW)]


def summary(window: Window, now: datetime | None = None) -> dict[str, Any]:
    """Everything the overview shows, as JSON-ready data."""
    start, end = window.bounds(now or datetime.now(UTC))
    starts = [start + index * window.step for index in range(window.buckets)]
    position = {bucket: index for index, bucket in enumerate(starts)}
    bounds = {"start": start, "end": end, "step": window.step, "origin": ORIGIN}

    decisions = {decision: [0] * window.buckets for decision in DECISIONS}
    risk = {decision: [0] * RISK_BINS for decision in DECISIONS}
    for row in fetch_all(
        "SELECT date_bin(%(step)s, scored_at, %(origin)s) AS bucket, decision,"
        f" least(floor(risk_score * {RISK_BINS})::int, {RISK_BINS - 1}) AS bin, count(*) AS n"
        " FROM transactions WHERE scored_at >= %(start)s AND scored_at < %(end)s GROUP BY 1, 2, 3",
        bounds,
    ):
        decisions[row["decision"]][position[row["bucket"]]] += row["n"]
        risk[row["decision"]][row["bin"]] += row["n"]

    alerts = {decision: [0] * window.buckets for decision in ALERTING_DECISIONS}
    for row in fetch_all(
        "SELECT date_bin(%(step)s, created_at, %(origin)s) AS bucket, decision, count(*) AS n"
        " FROM alerts WHERE created_at >= %(start)s AND created_at < %(end)s GROUP BY 1, 2",
        bounds,
    ):
        alerts[row["decision"]][position[row["bucket"]]] += row["n"]

    counts = {decision: sum(values) for decision, values in decisions.items()}
    return {
        "window": window.name,
        "title": window.title,
        "start": start,
        "end": end,
        "buckets": [bucket.strftime(window.label_format) for bucket in starts],
        "decisions": decisions,
        "risk": {
            "bins": [f"{index / RISK_BINS:.2f}–{(index + 1) / RISK_BINS:.2f}" for index in range(RISK_BINS)],
            "by_decision": risk,
        },
        "alerts": alerts,
        "totals": {
            "transactions": sum(counts.values()),
            **counts,
            "alerts": sum(sum(values) for values in alerts.values()),
            "open_alerts": fetch_one("SELECT count(*) AS n FROM alerts WHERE status = 'open'")["n"],
        },
        "champion": champion(),
    }


def champion() -> Row | None:
    return fetch_one("SELECT version, thresholds, promoted_at FROM models WHERE status = 'champion'")


def has_transactions() -> bool:
    return fetch_one("SELECT EXISTS (SELECT 1 FROM transactions) AS any")["any"]


@blueprint.get("/")
def index() -> str:
    window = read_window()
    return render_template(
        "overview.html",
        window=window,
        windows=WINDOWS,
        data=summary(window),
        empty=not has_transactions(),
        dead_letters=dead_letters.read(1, link_transactions=False),
        drift=drift.latest(),
    )


@blueprint.get("/api/overview")
def api() -> Response:
    return jsonify(summary(read_window()))
