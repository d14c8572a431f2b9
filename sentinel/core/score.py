"""The Score payload (DESIGN.md §3): what score decides, and what persist and alert store.

Besides the fields DESIGN.md lists it carries the whole validated transaction
under `transaction`, so persist can store the full payload without a lookup.
Persist and alert check every field they store with the rules ingest applies
(sentinel.core.transaction), so an event forged or corrupted between hops is
refused with a 400 rather than half-stored or failing in PostgreSQL or Redis.
"""

from __future__ import annotations

import re
from typing import Any

from sentinel.core import behaviour, rules, transaction
from sentinel.core.api_keys import NAME_PATTERN, NAME_RULE
from sentinel.core.decision import DECISIONS
from sentinel.core.errors import ClientError, Problem

Score = dict[str, Any]

_STAMPED = ("received_at", transaction.CLIENT_FIELD)  # what ingest adds to the client's transaction
MAX_REASONS = 32
MAX_REASON_LENGTH = 256
_TRACE_ID = re.compile(r"[0-9a-f]{32}")


def build(
    item: transaction.Transaction,
    *,
    risk_score: float,
    decision: str,
    model_version: str,
    thresholds: dict[str, float],
    received_at: str,
    scored_at: str,
    threshold_overrides: dict[str, float] | None = None,
    behavioural: dict[str, float] | None = None,
    reasons: list[str] | None = None,
    rule: dict[str, Any] | None = None,
    shadow: dict[str, Any] | None = None,
    trace_id: str | None = None,
) -> Score:
    """`threshold_overrides`: those of `thresholds` the operator set instead of the model's own;
    `behavioural`: the transaction's behavioural features by name; `reasons`: why, for a review or block;
    `rule`: the rule that decided instead of the thresholds (sentinel.core.rules.Rule.fired), if one did;
    `shadow`: what the challenger in shadow would have decided (`shadow_of`), if one ran;
    `trace_id`: the W3C trace the decision was made in, if one was recorded."""
    return {
        "client_id": item[transaction.CLIENT_FIELD],
        "transaction_id": item["transaction_id"],
        "user_id": item["user_id"],
        "Amount": item["Amount"],
        "risk_score": risk_score,
        "decision": decision,
        "model_version": model_version,
        "thresholds": thresholds,
        "threshold_overrides": threshold_overrides or {},
        "received_at": received_at,
        "scored_at": scored_at,
        "transaction": {key: value for key, value in item.items() if key not in _STAMPED},
        "behaviour": behavioural or {},
        "reasons": reasons or [],
        "rule": rule,
        "shadow": shadow,
        "trace_id": trace_id,
    }


def shadow_of(model_version: str, risk_score: float, decision: str) -> dict[str, Any]:
    """A challenger's would-be decision, as a decision records it."""
    return {"model_version": model_version, "risk_score": risk_score, "decision": decision}


def parse(data: Any) -> Score:
    """Check a scored event's data; raise ClientError naming every field that is wrong."""
    if not isinstance(data, dict):
        raise ClientError("scored event data must be a JSON object")
    problems: list[Problem] = []
    client = data.get(transaction.CLIENT_FIELD)
    if not isinstance(client, str) or not NAME_PATTERN.fullmatch(client):
        problems.append(Problem(transaction.CLIENT_FIELD, f"must be a client name: {NAME_RULE}"))
    for name in ("transaction_id", "user_id", "model_version"):
        value = data.get(name)
        if not isinstance(value, str) or not transaction.ID_PATTERN.fullmatch(value):
            problems.append(Problem(name, transaction.ID_RULE))
    risk = transaction.finite_number(data.get("risk_score"))
    if risk is None or not 0 <= risk <= 1:
        problems.append(Problem("risk_score", "must be a number between 0 and 1"))
    if data.get("decision") not in DECISIONS:
        problems.append(Problem("decision", f"must be one of {', '.join(DECISIONS)}"))
    if not _are_thresholds(data.get("thresholds")):
        problems.append(Problem("thresholds", "must be an object of review and block, 0 <= review <= block <= 1"))
    if "threshold_overrides" in data and not _are_overrides(data["threshold_overrides"]):
        problems.append(Problem("threshold_overrides", "must be an object of review and/or block, each 0 to 1"))
    for name in ("received_at", "scored_at"):
        problem = transaction.timestamp_problem(data.get(name))
        if problem:
            problems.append(Problem(name, problem))
    if "behaviour" in data and not _are_behavioural(data["behaviour"]):
        problems.append(Problem("behaviour", "must be an object of behavioural feature names and finite numbers"))
    if "reasons" in data and not _are_reasons(data["reasons"]):
        problems.append(
            Problem("reasons", f"must be a list of at most {MAX_REASONS} strings of 1-{MAX_REASON_LENGTH} characters")
        )
    if data.get("rule") is not None and not _is_fired_rule(data["rule"]):
        problems.append(Problem("rule", "must be null or an object of the rule's name, version and action"))
    if data.get("shadow") is not None and not _is_shadow(data["shadow"]):
        problems.append(
            Problem("shadow", "must be null or an object of a model_version, a risk_score from 0 to 1 and a decision")
        )
    if data.get("trace_id") is not None and not _is_trace_id(data["trace_id"]):
        problems.append(Problem("trace_id", "must be null or a W3C trace id: 32 lower-case hex digits, not all zero"))
    problems.extend(_transaction_problems(data))
    if problems:
        raise ClientError("invalid scored event", problems=problems)
    return data


def _transaction_problems(data: dict[str, Any]) -> list[Problem]:
    """What is wrong with the scored transaction, or with the fields copied from it."""
    item = data.get("transaction")
    if not isinstance(item, dict):
        return [Problem("transaction", "must be the scored transaction object")]
    try:
        clean = transaction.validate(item)
    except ClientError as error:
        return [Problem(f"transaction.{problem.field}", problem.message) for problem in error.problems]
    return [
        Problem(name, f"must equal the transaction's {name}")
        for name in ("transaction_id", "user_id", "Amount")
        if data.get(name) != clean[name] or isinstance(data.get(name), bool)
    ]


def _are_thresholds(value: Any) -> bool:
    if not isinstance(value, dict) or value.keys() != {"review", "block"}:
        return False
    review, block = transaction.finite_number(value["review"]), transaction.finite_number(value["block"])
    return review is not None and block is not None and 0 <= review <= block <= 1


def _are_overrides(value: Any) -> bool:
    if not isinstance(value, dict) or not value.keys() <= {"review", "block"}:
        return False
    numbers = [transaction.finite_number(number) for number in value.values()]
    return all(number is not None and 0 <= number <= 1 for number in numbers)


def _are_behavioural(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and value.keys() <= set(behaviour.FEATURES)
        and all(transaction.finite_number(number) is not None for number in value.values())
    )


def _is_fired_rule(value: Any) -> bool:
    if not isinstance(value, dict) or value.keys() != {"name", "version", "action"}:
        return False
    name, version = value["name"], value["version"]
    return (
        isinstance(name, str)
        and rules.NAME_PATTERN.fullmatch(name) is not None
        and isinstance(version, int)
        and not isinstance(version, bool)
        and version > 0
        and value["action"] in rules.ACTIONS
    )


def _is_shadow(value: Any) -> bool:
    if not isinstance(value, dict) or value.keys() != {"model_version", "risk_score", "decision"}:
        return False
    version, risk = value["model_version"], transaction.finite_number(value["risk_score"])
    return (
        isinstance(version, str)
        and transaction.ID_PATTERN.fullmatch(version) is not None
        and risk is not None
        and 0 <= risk <= 1
        and value["decision"] in DECISIONS
    )


def _is_trace_id(value: Any) -> bool:
    """W3C Trace Context §3.2.2.3: 16 bytes as 32 lower-case hex digits; all zeros is invalid."""
    return isinstance(value, str) and _TRACE_ID.fullmatch(value) is not None and value != "0" * 32


def _are_reasons(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) <= MAX_REASONS
        and all(
            isinstance(reason, str) and 1 <= len(reason) <= MAX_REASON_LENGTH and transaction.is_text(reason)
            for reason in value
        )
    )
