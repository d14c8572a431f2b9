"""The `transactions` table: every scored decision, stored once, and read back for reports.

KafkaSource delivers at least once, so the insert is keyed on (client_id,
transaction_id) and a repeat is a no-op. Concurrent requests share transactions and so commits
(sentinel.stores.group_commit); each call returns only once its rows are committed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from sentinel.core.decision import DECISIONS
from sentinel.core.score import Score
from sentinel.stores.database import connect, create_pool
from sentinel.stores.group_commit import GroupCommitter

INSERT = """
INSERT INTO transactions (
    client_id, transaction_id, user_id, amount, event_time, payload, risk_score, decision,
    model_version, thresholds, received_at, scored_at, behaviour, reasons, rule, shadow, trace_id
) VALUES (
    %(client_id)s, %(transaction_id)s, %(user_id)s, %(amount)s, %(event_time)s, %(payload)s, %(risk_score)s,
    %(decision)s, %(model_version)s, %(thresholds)s, %(received_at)s, %(scored_at)s, %(behaviour)s, %(reasons)s,
    %(rule)s, %(shadow)s, %(trace_id)s
)
ON CONFLICT (client_id, transaction_id) DO NOTHING
RETURNING transaction_id
"""


class DecisionStore:
    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool
        self._committer = GroupCommitter(pool, INSERT)

    @classmethod
    def connect(cls, database_url: str) -> DecisionStore:
        return cls(create_pool(database_url, name="persist"))

    def store(self, scores: Sequence[Score]) -> list[bool]:
        """For each decision, True when this call stored it, False when it was stored before."""
        return self._committer.store([row(score) for score in scores])

    def close(self) -> None:
        self._pool.close()


def row(score: Score) -> dict[str, Any]:
    """The `transactions` row of a decision."""
    item = score["transaction"]
    return {
        "client_id": score["client_id"],
        "transaction_id": score["transaction_id"],
        "user_id": score["user_id"],
        "amount": item["Amount"],
        "event_time": item.get("event_time"),
        "payload": Jsonb(item),
        "risk_score": score["risk_score"],
        "decision": score["decision"],
        "model_version": score["model_version"],
        "thresholds": Jsonb(score["thresholds"]),
        "received_at": score["received_at"],
        "scored_at": score["scored_at"],
        "behaviour": Jsonb(score["behaviour"]) if score.get("behaviour") else None,
        "reasons": Jsonb(score.get("reasons", [])),
        "rule": Jsonb(score["rule"]) if score.get("rule") else None,
        "shadow": Jsonb(score["shadow"]) if score.get("shadow") else None,
        "trace_id": score.get("trace_id"),
    }


def latest_decisions(database_url: str, *, limit: int = 20, decision: str | None = None) -> list[dict[str, Any]]:
    query = (
        "SELECT client_id, transaction_id, user_id, amount, risk_score, decision, rule, model_version, scored_at,"
        " persisted_at - received_at AS latency"
        " FROM transactions {where} ORDER BY scored_at DESC LIMIT %(limit)s"
    ).format(where="WHERE decision = %(decision)s" if decision else "")
    with connect(database_url, row_factory=dict_row) as conn:
        return conn.execute(query, {"limit": limit, "decision": decision}).fetchall()


def pipeline_totals(
    database_url: str, transaction_ids: list[str] | None = None, *, client_id: str | None = None
) -> dict[str, int]:
    """Stored decisions by kind, and alerts, optionally only for the given transactions and
    only for one client's (a transaction id is unique per client, not across clients)."""
    clauses = []
    if transaction_ids is not None:
        clauses.append("transaction_id = ANY(%(ids)s)")
    if client_id is not None:
        clauses.append("client_id = %(client)s")
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    params = {"ids": transaction_ids, "client": client_id}
    with connect(database_url) as conn:
        totals = dict.fromkeys(DECISIONS, 0)
        for decision, count in conn.execute(
            f"SELECT decision, count(*) FROM transactions {where} GROUP BY decision", params
        ):
            totals[decision] = count
        totals["persisted"] = sum(totals[decision] for decision in DECISIONS)
        totals["alerts"] = conn.execute(f"SELECT count(*) FROM alerts {where}", params).fetchone()[0]
    return totals
