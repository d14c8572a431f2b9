"""Whether a parsed decision agrees with itself, with its event and with the model that made it.

A signature proves score produced an event; these checks catch the rest: an event
whose id is not its transaction's, or whose source names another client, a decision
that does not follow from its risk score (or, when a rule decided, from the rule's
action), or thresholds that are neither the model version's own nor those the
operator overrode (SENTINEL_REVIEW_THRESHOLD / SENTINEL_BLOCK_THRESHOLD). Score
records which thresholds it overrode in `threshold_overrides`, so a decision made
under an override stays checkable after the override is lifted.
"""

from __future__ import annotations

from collections.abc import Mapping

from sentinel.core.decision import Thresholds, decide
from sentinel.core.errors import Problem
from sentinel.core.events import SCORE_SOURCE, client_source
from sentinel.core.rules import DECISION_OF_ACTION
from sentinel.core.score import Score


def problems(
    decision: Score, *, event_id: str, subject: str | None, source: str, model_thresholds: Mapping[str, float]
) -> list[Problem]:
    """Every way the decision (already parsed) contradicts its event or its model; empty when none."""
    transaction_id = decision["transaction_id"]
    found = [
        Problem(name, f"must equal the transaction id {transaction_id!r}")
        for name, value in (("id", event_id), ("subject", subject))
        if value != transaction_id
    ]
    expected_source = client_source(SCORE_SOURCE, decision["client_id"])
    if source != expected_source:
        found.append(Problem("source", f"must be {expected_source!r}, score's for the decision's client"))
    expected = {
        "review": float(model_thresholds["review"]),
        "block": float(model_thresholds["block"]),
        **decision.get("threshold_overrides", {}),
    }
    if decision["thresholds"] != expected:
        found.append(
            Problem("thresholds", f"must be model {decision['model_version']}'s, or the overrides it names: {expected}")
        )
    rule = decision.get("rule")
    if rule is not None:
        if DECISION_OF_ACTION[rule["action"]] != decision["decision"]:
            found.append(Problem("decision", f"does not follow from rule {rule['name']}'s action, {rule['action']}"))
    elif decide(decision["risk_score"], Thresholds(**decision["thresholds"])) != decision["decision"]:
        found.append(Problem("decision", f"does not follow from risk_score {decision['risk_score']} and thresholds"))
    return found
