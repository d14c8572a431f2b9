"""score, in memory: a decision for every transaction, emitted to the sink and returned."""

import pytest
from fakes import CLIENT, NOW, RECEIVED_KEYS, SCORED_KEYS, AmountModel, MemoryHistories, MemoryModels, created
from support import a_transaction

from functions.score.main import Score
from sentinel.core import behaviour, events, score
from sentinel.core.decision import ThresholdOverrides
from sentinel.core.errors import ClientError, Unavailable
from sentinel.serving.event_integrity import signed_json_event

RECEIVED = "2026-12-01T11:59:59.900000+00:00"


def received(transaction, event_id="e-1"):
    data = {**transaction, "received_at": RECEIVED, "client_id": CLIENT.client_id}
    source = events.client_source(events.INGEST_SOURCE, CLIENT.client_id)
    attributes = {"type": events.TRANSACTION_RECEIVED, "source": source, "id": event_id}
    return signed_json_event(attributes, data, RECEIVED_KEYS)


@pytest.fixture
def scorer(models, sink):
    return Score(
        models, sink, MemoryHistories(), received_keys=RECEIVED_KEYS, scored_keys=SCORED_KEYS, clock=lambda: NOW
    )


def decision_of(scorer, amount):
    [event] = scorer.handle([created(a_transaction(Amount=amount))], CLIENT).events
    return event.json()["decision"]


def test_a_transaction_is_scored_emitted_and_returned_as_the_same_event(scorer, sink):
    reply = scorer.handle([created(a_transaction())], CLIENT)
    assert list(reply.events) == sink.events and len(sink.events) == 1


def test_the_scored_event_is_keyed_by_its_user_and_carries_a_valid_score(scorer):
    transaction = a_transaction(user_id="u-7", Amount=625.0)
    [event] = scorer.handle([created(transaction)], CLIENT).events
    decision = score.parse(event.json())
    assert (event.type, event.source, event.subject) == (
        events.TRANSACTION_SCORED,
        events.client_source(events.SCORE_SOURCE, CLIENT.client_id),
        transaction["transaction_id"],
    )
    assert event.attributes["partitionkey"] == "u-7"
    assert (decision["risk_score"], decision["decision"], decision["model_version"]) == (0.625, "review", "v0007")
    assert decision["transaction"] == transaction


@pytest.mark.parametrize(("amount", "decision"), [(100.0, "approve"), (500.0, "review"), (950.0, "block")])
def test_the_decision_follows_the_models_thresholds(scorer, amount, decision):
    assert decision_of(scorer, amount) == decision


def test_an_operators_override_replaces_the_models_threshold(models, sink):
    scorer = Score(
        models,
        sink,
        MemoryHistories(),
        overrides=ThresholdOverrides(review=0.2, block=0.4),
        received_keys=RECEIVED_KEYS,
        scored_keys=SCORED_KEYS,
        clock=lambda: NOW,
    )
    assert decision_of(scorer, 450.0) == "block"


def test_a_received_transaction_keeps_when_ingest_received_it(scorer):
    [event] = scorer.handle([received(a_transaction())]).events
    assert (event.json()["received_at"], event.json()["scored_at"]) == (RECEIVED, NOW)


def test_a_transaction_sent_straight_to_score_is_received_when_scored(scorer):
    [event] = scorer.handle([created(a_transaction())], CLIENT).events
    assert event.json()["received_at"] == event.json()["scored_at"] == NOW


def test_a_batch_is_scored_in_one_model_call(models, scorer):
    reply = scorer.handle([created(a_transaction(), f"e-{n}") for n in range(3)], CLIENT)
    assert len(reply.events) == 3 and models.model.calls == [3]


def test_without_a_model_score_is_not_ready_and_answers_503_with_the_reason(sink):
    scorer = Score(
        MemoryModels(model=None), sink, MemoryHistories(), received_keys=RECEIVED_KEYS, scored_keys=SCORED_KEYS
    )
    assert "no champion" in scorer.ready()
    with pytest.raises(Unavailable, match="no champion"):
        scorer.handle([created(a_transaction())], CLIENT)
    assert sink.events == []


def test_an_invalid_transaction_is_400_and_nothing_is_emitted(scorer, sink):
    with pytest.raises(ClientError) as refused:
        scorer.handle([created(a_transaction(V3="high"))], CLIENT)
    assert [problem.field for problem in refused.value.problems] == ["V3"] and sink.events == []


def test_a_failed_emit_is_unavailable_so_the_event_is_retried(scorer, sink):
    sink.failure = Unavailable("the event sink is down")
    with pytest.raises(Unavailable):
        scorer.handle([created(a_transaction())], CLIENT)


def test_a_new_champion_scores_the_next_request(models, scorer):
    models.model = AmountModel(version="v0008", thresholds={"review": 0.1, "block": 0.2})
    [event] = scorer.handle([created(a_transaction(Amount=150.0))], CLIENT).events
    assert (event.json()["model_version"], event.json()["decision"]) == ("v0008", "review")


def test_start_and_stop_start_and_stop_following_the_champion(models, sink, scorer):
    scorer.start()
    scorer.stop()
    assert models.started and models.stopped and sink.closed


def test_every_decision_carries_the_behavioural_features_of_its_user(scorer):
    first = a_transaction(user_id="u-9", Amount=20.0)
    second = a_transaction(user_id="u-9", Amount=40.0)
    scorer.handle([received(first, "e-1")], None)
    [event] = scorer.handle([received(second, "e-2")], None).events
    features = score.parse(event.json())["behaviour"]
    assert set(features) == set(behaviour.FEATURES)
    assert (features["user_previous_count"], features["user_amount_24h"]) == (1, 20.0)


def test_a_review_or_block_gives_the_models_reasons_and_an_approval_none(scorer):
    [approved, reviewed] = scorer.handle(
        [created(a_transaction(Amount=100.0)), created(a_transaction(Amount=700.0))], CLIENT
    ).events
    assert approved.json()["reasons"] == []
    assert reviewed.json()["reasons"] == ["amount 700"]
