"""Drift on the overview: the drift checks over time as a chart, the latest one's most drifted
features, and a red notice while the latest check alerts (training.drift makes the reports).

The page renders the latest report itself; the chart is drawn from /api/drift.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from werkzeug.wrappers import Response

from sentinel.core.drift import COMPARED, RISK_SCORE, Report, reading
from sentinel.stores import drift as store
from ui.database import database

blueprint = Blueprint("drift", __name__)

HISTORY = 60  # reports on the chart: two months of daily checks
TOP_FEATURES = 8  # rows of the latest report's table


def reports(limit: int = HISTORY) -> list[Report]:
    """The latest drift checks, newest first."""
    with database().connection() as conn:
        return store.latest_reports(conn, limit=limit)


def latest() -> dict[str, Any] | None:
    """The latest check, with its most drifted columns and their readings, for the overview."""
    found = reports(limit=1)
    if not found:
        return None
    report = found[0]
    return {
        "report": report,
        "top": [(name, value, reading(value)) for name, value in report.ranked[:TOP_FEATURES]],
    }


def history() -> dict[str, Any]:
    """The compared checks, oldest first: what the drift chart draws."""
    compared = [report for report in reversed(reports()) if report.status == COMPARED]
    return {
        "checked_at": [report.checked_at.isoformat() for report in compared if report.checked_at],
        "labels": [f"{report.checked_at:%b %d %H:%M}" for report in compared if report.checked_at],
        "max_psi": [report.max_psi for report in compared],
        "risk_score_psi": [report.psi.get(RISK_SCORE) for report in compared],
        "threshold": [report.threshold for report in compared],
        "champion_version": [report.champion_version for report in compared],
    }


@blueprint.get("/api/drift")
def api() -> Response:
    return jsonify(history())
