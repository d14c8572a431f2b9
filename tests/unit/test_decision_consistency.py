"""A decision persist and alert accept agrees with its event and with its model (sentinel.core.consistency)."""

import pytest
from support import a_score, a_transaction

from sentinel.core import consistency
from sentinel.core.events import SCORE_SOURCE, client_source

MODEL = {"review": 0.5, "block": 0.9}


def problems_of(decision, *, event_id=None, subject=None, source=None, model=MODEL):
    transaction_id = decision["transaction_id"]
    return consistency.problems(
        decision,
        event_id=event_id or transaction_id,
        subject=subject or transaction_id,
        source=source or client_source(SCORE_SOURCE, decision["client_id"]),
        model_thresholds=model,
    )


@pytest.mark.parametrize("decision", ["approve", "review", "block"])
def test_a_decision_as_score_makes_it_is_consistent(decision):
    assert problems_of(a_score(a_transaction(), decision)) == []


@pytest.mark.parametrize("attribute", ["event_id", "subject"])
def test_an_event_about_another_transaction_than_its_id_says_is_refused(attribute):
    [problem] = problems_of(a_score(a_transaction()), **{attribute: "t-someone-else"})
    assert problem.field == attribute.removeprefix("event_")


def test_an_event_whose_source_names_another_client_is_refused():
    """A decision is about its client's transaction: score's source for that client says so."""
    decision = a_score(a_transaction(), client_id="shop-a")
    [problem] = problems_of(decision, source=client_source(SCORE_SOURCE, "shop-b"))
    assert problem.field == "source"


def test_an_approve_above_the_block_threshold_is_refused():
    decision = {**a_score(a_transaction(), "block"), "decision": "approve"}
    assert [problem.field for problem in problems_of(decision)] == ["decision"]


def test_thresholds_other_than_the_model_versions_are_refused():
    decision = a_score(a_transaction(), "approve", thresholds={"review": 0.5, "block": 0.99})
    assert [problem.field for problem in problems_of(decision)] == ["thresholds"]


def test_thresholds_the_operator_overrode_are_accepted_when_the_decision_names_them():
    decision = a_score(a_transaction(), "block", thresholds={"review": 0.5, "block": 0.7})
    assert problems_of({**decision, "threshold_overrides": {"block": 0.7}}) == []


def test_an_override_the_decision_does_not_name_is_refused():
    decision = a_score(a_transaction(), "block", thresholds={"review": 0.5, "block": 0.7})
    assert [problem.field for problem in problems_of({**decision, "threshold_overrides": {"review": 0.5}})] == [
        "thresholds"
    ]
