"""score, asked inline again for the same client's transaction: the first decision, or a 409."""

import pytest
from fakes import (
    CLIENT,
    NOW,
    RECEIVED_KEYS,
    SCORED_KEYS,
    AmountModel,
    MemoryHistories,
    MemoryInlineDecisions,
    created,
)
from support import a_transaction

from functions.score.main import Score
from sentinel.core.api_keys import Caller
from sentinel.core.errors import ClientError


@pytest.fixture
def inline():
    return MemoryInlineDecisions()


@pytest.fixture
def scorer(models, sink, inline):
    return Score(
        models,
        sink,
        MemoryHistories(),
        inline=inline,
        received_keys=RECEIVED_KEYS,
        scored_keys=SCORED_KEYS,
        clock=lambda: NOW,
    )


def test_a_retry_gets_the_first_decision_and_is_not_emitted_again(scorer, sink):
    transaction = a_transaction(Amount=625.0)
    [first] = scorer.handle([created(transaction)], CLIENT).events
    [again] = scorer.handle([created(transaction, "e-2")], CLIENT).events
    assert again.json() == first.json()
    assert len(sink.events) == 1


def test_a_retry_after_a_promotion_still_gets_the_first_decision(scorer, models):
    transaction = a_transaction(Amount=625.0)
    [first] = scorer.handle([created(transaction)], CLIENT).events
    models.model = AmountModel(version="v0008", thresholds={"review": 0.1, "block": 0.2})
    [again] = scorer.handle([created(transaction, "e-2")], CLIENT).events
    assert (again.json()["model_version"], again.json()["decision"]) == ("v0007", "review")
    assert again.json() == first.json()


def test_the_same_id_with_another_payload_is_a_409(scorer):
    transaction = a_transaction(Amount=10.0)
    scorer.handle([created(transaction)], CLIENT)
    with pytest.raises(ClientError) as refused:
        scorer.handle([created({**transaction, "Amount": 11.0}, "e-2")], CLIENT)
    assert refused.value.status == 409


def test_another_client_gets_a_decision_of_its_own_for_the_same_id(scorer, sink):
    transaction = a_transaction(Amount=10.0)
    scorer.handle([created(transaction)], CLIENT)
    [theirs] = scorer.handle([created({**transaction, "Amount": 11.0})], Caller("other", frozenset({"score"}))).events
    assert theirs.json()["client_id"] == "other" and len(sink.events) == 2


def test_a_decision_whose_emit_failed_is_forgotten_so_the_retry_is_decided_anew(scorer, sink, inline):
    transaction = a_transaction()
    sink.failure = ConnectionError("the sink is down")
    with pytest.raises(ConnectionError):
        scorer.handle([created(transaction)], CLIENT)
    assert inline.kept == {}
    sink.failure = None
    assert scorer.handle([created(transaction)], CLIENT).events and len(sink.events) == 1
