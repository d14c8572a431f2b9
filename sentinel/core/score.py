"""The Score payload (DESIGN.md §3): what score decides, and what persist and alert store.

Besides the fields DESIGN.md lists it carries the whole validated transaction
under `transaction`, so persist can store the full payload without a lookup.
"""

from __future__ import annotations

from typing import Any

from sentinel.core import transaction
from sentinel.core.decision import DECISIONS
from sentinel.core.errors import ClientError, Problem

Score = dict[str, Any]


def build(
    item: transaction.Transaction,
    *,
    risk_score: float,
    decision: str,
    model_version: str,
    thresholds: dict[str, float],
    received_at: str,
    scored_at: str,
) -> Score:
    return {
        "transaction_id": item["transaction_id"],
        "user_id": item["user_id"],
        "Amount": item["Amount"],
        "risk_score": risk_score,
        "decision": decision,
        "model_version": model_version,
        "thresholds": thresholds,
        "received_at": received_at,
        "scored_at": scored_at,
        "transaction": {key: value for key, value in item.items() if key != "received_at"},
    }


def parse(data: Any) -> Score:
    """Check a scored event's data; raise ClientError naming what is wrong."""
    if not isinstance(data, dict):
        raise ClientError("scored event data must be a JSON object")
    problems: list[Problem] = []
    for name in ("transaction_id", "user_id", "model_version"):
        if not isinstance(data.get(name), str) or not data[name]:
            problems.append(Problem(name, "missing or not a string"))
    risk = data.get("risk_score")
    if isinstance(risk, bool) or not isinstance(risk, (int, float)) or not 0 <= risk <= 1:
        problems.append(Problem("risk_score", "must be a number between 0 and 1"))
    if data.get("decision") not in DECISIONS:
        problems.append(Problem("decision", f"must be one of {', '.join(DECISIONS)}"))
    if not isinstance(data.get("thresholds"), dict):
        problems.append(Problem("thresholds", "must be an object"))
    for name in ("received_at", "scored_at"):
        if transaction.parse_timestamp(data.get(name)) is None:
            problems.append(Problem(name, "must be an RFC 3339 timestamp"))
    if not isinstance(data.get("transaction"), dict):
        problems.append(Problem("transaction", "must be the scored transaction object"))
    if problems:
        raise ClientError("invalid scored event", problems=problems)
    transaction.validate(data["transaction"])
    return data
