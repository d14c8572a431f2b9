"""Only score's decisions reach persist and alert, and only ingest's transactions reach score unasked.

In memory: an event without its producer's signature is refused with a 403 (the
dispatcher dead-letters it), one signed but inconsistent with a 400; nothing of
either is stored, alerted or emitted.
"""

import pytest
from fakes import (
    CLIENT,
    NOW,
    RECEIVED_KEYS,
    SCORED_KEYS,
    MemoryAlerts,
    MemoryDecisions,
    MemoryHistories,
    MemoryModels,
    MemoryStream,
    MemoryWebhook,
    received,
    scored,
    scored_events,
)
from support import a_score, a_transaction, signed_scored

from functions.alert.main import Alert
from functions.persist.main import Persist
from functions.score.main import Score
from sentinel.codec.event import json_event
from sentinel.core import events
from sentinel.core.api_keys import INGEST, SCORE, Caller
from sentinel.core.decision import ThresholdOverrides
from sentinel.core.errors import ClientError, Unavailable
from sentinel.core.integrity import SigningKeys
from sentinel.serving.event_integrity import signed_json_event

FORGER = SigningKeys(SCORED_KEYS.setting, "a key the forger made up")


def forged(transaction, decision="approve", **attributes):
    """A scored event as a forger writes it: well formed, consistent, signed with a key of their own."""
    return signed_scored(a_score(transaction, decision, model_version="v0003"), FORGER.current, **attributes)


@pytest.fixture
def persist(decisions):
    return Persist(decisions, scored_events())


@pytest.fixture
def webhook():
    return MemoryWebhook()


@pytest.fixture
def alert(alerts, webhook):
    return Alert(alerts, MemoryStream(), scored_events(), webhook)


def refusal(function, event) -> ClientError:
    with pytest.raises(ClientError) as refused:
        function.handle([event])
    return refused.value


# -- persist and alert -------------------------------------------------------------


@pytest.mark.parametrize("name", ["persist", "alert"])
def test_an_unsigned_scored_event_is_refused_with_403(request, name):
    unsigned = signed_scored(a_score(a_transaction(), "block", model_version="v0003"), None)
    assert refusal(request.getfixturevalue(name), unsigned).status == 403


@pytest.mark.parametrize("name", ["persist", "alert"])
def test_a_scored_event_signed_with_another_key_is_refused_with_403(request, name):
    assert refusal(request.getfixturevalue(name), forged(a_transaction(), "block")).status == 403


def test_a_scored_event_signed_with_the_received_key_is_refused_so_ingest_cannot_forge_decisions(persist):
    event = signed_scored(a_score(a_transaction(), model_version="v0003"), RECEIVED_KEYS.current)
    assert refusal(persist, event).status == 403


def test_a_forged_approve_before_the_genuine_block_does_not_replace_it(persist, decisions):
    transaction = a_transaction()
    with pytest.raises(ClientError):
        persist.handle([forged(transaction, "approve")])
    persist.handle([scored(transaction, "block")])
    assert decisions.rows[transaction["transaction_id"]]["decision"] == "block"


def test_a_forged_event_in_a_batch_stores_nothing_of_the_batch(persist, decisions):
    with pytest.raises(ClientError):
        persist.handle([scored(a_transaction()), forged(a_transaction())])
    assert decisions.rows == {}


def test_a_forged_block_raises_no_alert_and_posts_nothing(alert, alerts, webhook):
    with pytest.raises(ClientError):
        alert.handle([forged(a_transaction(), "block")])
    assert (alerts.rows, webhook.posted) == ({}, [])


def test_a_decision_changed_after_score_signed_it_is_refused(persist):
    genuine = scored(a_transaction(), "block")
    changed = json_event(genuine.attributes, {**genuine.json(), "decision": "approve", "risk_score": 0.1})
    assert refusal(persist, changed).status == 403


def test_a_signed_event_whose_id_is_not_its_transactions_is_400(persist):
    decision = a_score(a_transaction(), model_version="v0003")
    attributes = events.transaction_attributes(events.TRANSACTION_SCORED, events.SCORE_SOURCE, decision)
    event = signed_json_event({**attributes, "id": "t-another", "subject": "t-another"}, decision, SCORED_KEYS)
    error = refusal(persist, event)
    assert error.status == 400 and {problem.field for problem in error.problems} == {"id", "subject"}


def test_a_signed_decision_that_does_not_follow_from_its_risk_score_is_400(persist):
    decision = {**a_score(a_transaction(), "block", model_version="v0003"), "decision": "approve"}
    error = refusal(persist, signed_scored(decision, SCORED_KEYS.current))
    assert error.status == 400 and [problem.field for problem in error.problems] == ["decision"]


def test_a_signed_decision_under_thresholds_not_its_models_is_400(persist):
    decision = a_score(a_transaction(), model_version="v0003", thresholds={"review": 0.99, "block": 1.0})
    error = refusal(persist, signed_scored(decision, SCORED_KEYS.current))
    assert [problem.field for problem in error.problems] == ["thresholds"]


def test_a_signed_decision_of_a_model_the_registry_does_not_hold_is_400(persist):
    error = refusal(persist, signed_scored(a_score(a_transaction(), model_version="v0999"), SCORED_KEYS.current))
    assert error.status == 400 and "v0999" in error.message


def test_a_decision_signed_with_the_previous_key_is_stored_during_a_rotation(decisions):
    rotated = SigningKeys(SCORED_KEYS.setting, "the new scored key", other=SCORED_KEYS.current)
    transaction = a_transaction()
    Persist(decisions, scored_events(rotated)).handle([scored(transaction)])
    assert transaction["transaction_id"] in decisions.rows


@pytest.mark.parametrize("name", ["persist", "alert"])
def test_without_the_scored_key_persist_and_alert_are_not_ready_and_answer_503(name):
    keyless = scored_events(SigningKeys(SCORED_KEYS.setting))
    function = (
        Persist(MemoryDecisions(), keyless) if name == "persist" else Alert(MemoryAlerts(), MemoryStream(), keyless)
    )
    assert "SENTINEL_SCORED_SIGNING_KEY" in function.ready()
    with pytest.raises(Unavailable):
        function.handle([scored(a_transaction())])


# -- score -------------------------------------------------------------------------


@pytest.fixture
def scorer(sink):
    return Score(
        MemoryModels(), sink, MemoryHistories(), received_keys=RECEIVED_KEYS, scored_keys=SCORED_KEYS, clock=lambda: NOW
    )


def test_an_unsigned_received_event_is_refused_with_403_and_nothing_is_emitted(scorer, sink):
    unsigned = json_event(received(a_transaction()).attributes, received(a_transaction()).json())
    assert refusal(scorer, unsigned).status == 403 and sink.events == []


def test_a_received_event_signed_with_another_key_is_refused(scorer):
    event = received(a_transaction(), SigningKeys(RECEIVED_KEYS.setting, "not ingest's key"))
    assert refusal(scorer, event).status == 403


def test_a_received_event_signed_by_ingest_is_scored_and_the_decision_signed_for_persist(scorer, persist, decisions):
    transaction = a_transaction()
    [decision] = scorer.handle([received(transaction)]).events
    persist.handle([decision])
    assert transaction["transaction_id"] in decisions.rows


def test_a_caller_holding_a_score_key_may_send_an_unsigned_received_event_for_its_own_client(scorer):
    unsigned = json_event(received(a_transaction()).attributes, received(a_transaction()).json())
    assert len(scorer.handle([unsigned], Caller(CLIENT.client_id, frozenset({SCORE}))).events) == 1


def test_a_caller_holding_a_score_key_may_not_send_one_for_another_client(scorer):
    """Else it could store decisions under another client's transaction ids before that client does."""
    unsigned = json_event(received(a_transaction()).attributes, received(a_transaction()).json())
    with pytest.raises(ClientError) as refused:
        scorer.handle([unsigned], Caller("another-client", frozenset({SCORE})))
    assert refused.value.status == 403


def test_a_caller_with_only_an_ingest_key_may_not(scorer):
    unsigned = json_event(received(a_transaction()).attributes, received(a_transaction()).json())
    with pytest.raises(ClientError):
        scorer.handle([unsigned], Caller("client", frozenset({INGEST})))


def test_a_decision_under_an_override_names_it_and_persist_accepts_it(sink, persist, decisions):
    scorer = Score(
        MemoryModels(),
        sink,
        MemoryHistories(),
        overrides=ThresholdOverrides(block=0.6),
        received_keys=RECEIVED_KEYS,
        scored_keys=SCORED_KEYS,
        clock=lambda: NOW,
    )
    transaction = a_transaction(Amount=700.0)
    [decision] = scorer.handle([received(transaction)]).events
    assert (decision.json()["decision"], decision.json()["threshold_overrides"]) == ("block", {"block": 0.6})
    persist.handle([decision])
    assert decisions.rows[transaction["transaction_id"]]["decision"] == "block"


@pytest.mark.parametrize("missing", ["received_keys", "scored_keys"])
def test_without_either_key_score_is_not_ready_naming_the_setting(sink, missing):
    keys = {"received_keys": RECEIVED_KEYS, "scored_keys": SCORED_KEYS}
    keys[missing] = SigningKeys(keys[missing].setting)
    assert keys[missing].setting in Score(MemoryModels(), sink, MemoryHistories(), **keys).ready()
