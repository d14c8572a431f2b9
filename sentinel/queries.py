"""Read-side queries over stored decisions, for the CLI (and anything else that reports)."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row


def latest_decisions(database_url: str, *, limit: int = 20, decision: str | None = None) -> list[dict[str, Any]]:
    query = (
        "SELECT transaction_id, user_id, amount, risk_score, decision, model_version, scored_at,"
        " persisted_at - received_at AS latency"
        " FROM transactions {where} ORDER BY scored_at DESC LIMIT %(limit)s"
    ).format(where="WHERE decision = %(decision)s" if decision else "")
    with psycopg.connect(database_url, row_factory=dict_row, connect_timeout=5) as conn:
        return conn.execute(query, {"limit": limit, "decision": decision}).fetchall()


def pipeline_totals(database_url: str, transaction_ids: list[str] | None = None) -> dict[str, int]:
    """Stored decisions by kind, and alerts, optionally only for the given transactions."""
    where = "WHERE transaction_id = ANY(%(ids)s)" if transaction_ids is not None else ""
    with psycopg.connect(database_url, connect_timeout=5) as conn:
        totals = {"approve": 0, "review": 0, "block": 0}
        for decision, count in conn.execute(
            f"SELECT decision, count(*) FROM transactions {where} GROUP BY decision", {"ids": transaction_ids}
        ):
            totals[decision] = count
        totals["persisted"] = totals["approve"] + totals["review"] + totals["block"]
        totals["alerts"] = conn.execute(f"SELECT count(*) FROM alerts {where}", {"ids": transaction_ids}).fetchone()[0]
    return totals
