"""Drift in PostgreSQL: models' training profiles, recent traffic to compare, and the reports.

- A training profile (sentinel.core.drift.Profile) is kept with its model, in the
  `models` table's `training_profile` column (migration 0012); models registered
  before it have none.
- Recent traffic is the `transactions` table: each transaction's own fields from its
  payload, its behavioural features from `behaviour`, its risk score.
- Every drift check is a row of `drift_reports`, whatever it found.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from sentinel.core.drift import RISK_SCORE, Profile, Report
from sentinel.core.transaction import FEATURE_NAMES


def keep_profile(conn: psycopg.Connection, version: str, profile: Profile) -> None:
    """Store `profile` with registered model `version`."""
    conn.execute("UPDATE models SET training_profile = %s WHERE version = %s", (Jsonb(profile.to_json()), version))


def profile_of(conn: psycopg.Connection, version: str) -> Profile | None:
    """The training profile of model `version`; None when it was registered without one."""
    row = conn.execute("SELECT training_profile FROM models WHERE version = %s", (version,)).fetchone()
    return Profile.from_json(row[0]) if row and row[0] is not None else None


@dataclass(frozen=True)
class Traffic:
    """The newest transactions of a window: each named column's values, one per transaction that has it."""

    rows: int
    columns: dict[str, np.ndarray]


def traffic(
    conn: psycopg.Connection,
    columns: Sequence[str],
    *,
    start: datetime,
    end: datetime,
    limit: int,
    scored_by: str,
) -> Traffic:
    """The values of `columns` in the newest `limit` transactions scored in [start, end).

    A column is a transaction field (sentinel.core.transaction.FEATURE_NAMES), a
    behavioural feature (by name, missing on rows stored before they were kept), or
    RISK_SCORE, taken only from the rows model `scored_by` scored: another model's
    scores are not this one's distribution.
    """
    names = [name for name in columns if name != RISK_SCORE]
    values = sql.SQL(", ").join(
        sql.SQL("({} ->> {})::float8").format(
            sql.Identifier("payload" if name in FEATURE_NAMES else "behaviour"), sql.Literal(name)
        )
        for name in names
    )
    query = sql.SQL(
        "SELECT ARRAY[{values}]::float8[], CASE WHEN model_version = %(version)s THEN risk_score END"
        " FROM transactions WHERE scored_at >= %(start)s AND scored_at < %(end)s"
        " ORDER BY scored_at DESC LIMIT %(limit)s"
    ).format(values=values)
    rows = conn.execute(query, {"version": scored_by, "start": start, "end": end, "limit": limit}).fetchall()
    table = np.array([[np.nan if v is None else v for v in row[0]] for row in rows], dtype=np.float64)
    table = table.reshape(len(rows), len(names))
    found = {name: _present(table[:, index]) for index, name in enumerate(names)}
    if RISK_SCORE in columns:
        found[RISK_SCORE] = _present(np.array([np.nan if row[1] is None else row[1] for row in rows], dtype=float))
    return Traffic(rows=len(rows), columns=found)


def add_report(conn: psycopg.Connection, report: Report) -> Report:
    """Store a drift check; the report as stored, with the time it was checked."""
    row = conn.execute(
        "INSERT INTO drift_reports (champion_version, window_start, window_end, rows, psi, max_psi, risk_score_psi,"
        " threshold, alerting, status, message) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " RETURNING checked_at",
        (
            report.champion_version,
            report.window_start,
            report.window_end,
            report.rows,
            Jsonb(report.psi),
            report.max_psi,
            report.psi.get(RISK_SCORE),
            report.threshold,
            report.alerting,
            report.status,
            report.message,
        ),
    ).fetchone()
    return replace(report, checked_at=row[0])


def latest_reports(conn: psycopg.Connection, *, limit: int = 30) -> list[Report]:
    """The latest drift checks, newest first."""
    rows = (
        conn.cursor(row_factory=dict_row)
        .execute(
            "SELECT checked_at, champion_version, window_start, window_end, rows, psi, threshold, status, message"
            " FROM drift_reports ORDER BY checked_at DESC, id DESC LIMIT %s",
            (limit,),
        )
        .fetchall()
    )
    return [Report(**row) for row in rows]


def _present(values: np.ndarray) -> np.ndarray:
    return values[~np.isnan(values)]
