"""Champion and challenger on the same live traffic: what the decisions score recorded in shadow say.

Every decision made while a challenger ran in shadow keeps its would-be decision
(`transactions.shadow`, migration 0011). Compared over those transactions: how
often the two agree, how many alerts each raises an hour, and, on the ones an
analyst or a chargeback has labelled since, each one's precision and recall.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg.rows import dict_row

from sentinel.stores.database import Database, transaction

MIN_SPAN_HOURS = 1 / 60  # alerts an hour over less than a minute of traffic would say nothing

_COMPARE = """
WITH shadowed AS (
    SELECT t.decision IN ('review', 'block') AS champion_alerts,
           t.shadow ->> 'decision' IN ('review', 'block') AS challenger_alerts,
           t.decision = t.shadow ->> 'decision' AS agree,
           t.scored_at,
           (SELECT l.label FROM labels l
             WHERE l.client_id = t.client_id AND l.transaction_id = t.transaction_id
             ORDER BY l.labelled_at DESC, l.id DESC LIMIT 1) AS label
      FROM transactions t
     WHERE t.shadow IS NOT NULL AND t.shadow ->> 'model_version' = %(version)s
)
SELECT count(*) AS decisions,
       count(*) FILTER (WHERE agree) AS agreed,
       count(*) FILTER (WHERE champion_alerts) AS champion_alerts,
       count(*) FILTER (WHERE challenger_alerts) AS challenger_alerts,
       min(scored_at) AS first_at,
       max(scored_at) AS last_at,
       count(label) AS labelled,
       count(*) FILTER (WHERE label = 'fraud') AS fraud,
       count(*) FILTER (WHERE label IS NOT NULL AND champion_alerts) AS champion_flagged,
       count(*) FILTER (WHERE label = 'fraud' AND champion_alerts) AS champion_caught,
       count(*) FILTER (WHERE label IS NOT NULL AND challenger_alerts) AS challenger_flagged,
       count(*) FILTER (WHERE label = 'fraud' AND challenger_alerts) AS challenger_caught
  FROM shadowed
"""


@dataclass(frozen=True)
class Side:
    """One model's record on the shadowed traffic."""

    alerts: int
    alerts_per_hour: float | None
    precision: float | None  # of its alerts, among labelled transactions; None without labelled alerts
    recall: float | None  # of the labelled fraud; None without labelled fraud


@dataclass(frozen=True)
class Comparison:
    challenger_version: str
    decisions: int  # decided while the challenger ran in shadow
    agreement: float | None  # share of decisions both made alike
    first_at: datetime | None
    last_at: datetime | None
    labelled: int
    fraud: int
    champion: Side
    challenger: Side


def compare(db: Database, challenger_version: str) -> Comparison:
    """The champion beside `challenger_version` on every decision that recorded it in shadow."""
    with transaction(db) as conn:
        row = conn.cursor(row_factory=dict_row).execute(_COMPARE, {"version": challenger_version}).fetchone()
    hours = None
    if row["first_at"] is not None:
        hours = max((row["last_at"] - row["first_at"]).total_seconds() / 3600, MIN_SPAN_HOURS)

    def side(name: str) -> Side:
        alerts, flagged, caught = row[f"{name}_alerts"], row[f"{name}_flagged"], row[f"{name}_caught"]
        return Side(
            alerts=alerts,
            alerts_per_hour=alerts / hours if hours else None,
            precision=caught / flagged if flagged else None,
            recall=caught / row["fraud"] if row["fraud"] else None,
        )

    return Comparison(
        challenger_version=challenger_version,
        decisions=row["decisions"],
        agreement=row["agreed"] / row["decisions"] if row["decisions"] else None,
        first_at=row["first_at"],
        last_at=row["last_at"],
        labelled=row["labelled"],
        fraud=row["fraud"],
        champion=side("champion"),
        challenger=side("challenger"),
    )
