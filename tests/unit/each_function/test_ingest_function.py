"""ingest, in memory: transactions in, `received` events to the sink, duplicates dropped."""

import pytest
from fakes import CLIENT, NOW, RECEIVED_KEYS, created
from support import a_transaction

from functions.ingest.main import Ingest
from sentinel.core import events
from sentinel.core.api_keys import Caller
from sentinel.core.errors import ClientError, Unavailable


@pytest.fixture
def ingest(claims, sink):
    return Ingest(claims, sink, keys=RECEIVED_KEYS, clock=lambda: NOW)


def test_a_new_transaction_is_emitted_and_answered_202_as_accepted(ingest, sink):
    transaction = a_transaction()
    reply = ingest.handle([created(transaction)], CLIENT)
    assert (reply.status, reply.document) == (202, {"accepted": [transaction["transaction_id"]], "duplicates": []})
    assert len(sink.events) == 1


def test_the_emitted_event_is_received_keyed_by_its_user_and_stamped_with_its_client(ingest, sink):
    transaction = a_transaction(user_id="u-42")
    ingest.handle([created(transaction)], CLIENT)
    [event] = sink.events
    assert (event.type, event.source, event.id, event.subject) == (
        events.TRANSACTION_RECEIVED,
        events.client_source(events.INGEST_SOURCE, CLIENT.client_id),
        transaction["transaction_id"],
        transaction["transaction_id"],
    )
    assert event.attributes["partitionkey"] == "u-42"
    assert event.json() == {**transaction, "received_at": NOW, "client_id": CLIENT.client_id}


def test_a_transaction_emitted_before_is_a_duplicate_and_not_emitted_again(ingest, sink):
    transaction = a_transaction()
    ingest.handle([created(transaction)], CLIENT)
    reply = ingest.handle([created(transaction, event_id="e-2")], CLIENT)
    assert reply.document == {"accepted": [], "duplicates": [transaction["transaction_id"]]}
    assert len(sink.events) == 1


def test_the_same_id_with_another_payload_is_a_409_and_not_emitted(ingest, sink):
    transaction = a_transaction(Amount=10.0)
    ingest.handle([created(transaction)], CLIENT)
    with pytest.raises(ClientError) as refused:
        ingest.handle([created({**transaction, "Amount": 9999.0}, "e-2")], CLIENT)
    assert refused.value.status == 409 and "different payload" in refused.value.message
    assert len(sink.events) == 1


def test_a_retry_whose_numbers_are_written_differently_is_still_a_duplicate(ingest, sink):
    transaction = a_transaction(Amount=10.0, Time=3600.0)
    ingest.handle([created(transaction)], CLIENT)
    reply = ingest.handle([created({**transaction, "Amount": 10, "Time": 3600}, "e-2")], CLIENT)
    assert reply.document["duplicates"] == [transaction["transaction_id"]]


def test_two_clients_may_use_the_same_id_for_their_own_transactions(ingest, sink):
    transaction = a_transaction()
    other = Caller("other-shop", frozenset({"ingest"}))
    first = ingest.handle([created(transaction)], CLIENT)
    second = ingest.handle([created({**transaction, "Amount": 1.0})], other)
    assert first.document["accepted"] == second.document["accepted"] == [transaction["transaction_id"]]
    assert [event.json()["client_id"] for event in sink.events] == [CLIENT.client_id, "other-shop"]


def test_a_repeat_within_one_batch_is_a_duplicate(ingest, sink):
    transaction = a_transaction()
    reply = ingest.handle([created(transaction, "e-1"), created(transaction, "e-2")], CLIENT)
    identifier = transaction["transaction_id"]
    assert reply.document == {"accepted": [identifier], "duplicates": [identifier]}
    assert len(sink.events) == 1


def test_an_invalid_transaction_is_400_naming_the_field_and_nothing_is_emitted(ingest, sink):
    with pytest.raises(ClientError) as refused:
        ingest.handle([created(a_transaction(Amount=-1))], CLIENT)
    assert refused.value.status == 400 and [problem.field for problem in refused.value.problems] == ["Amount"]
    assert sink.events == []


def test_one_bad_event_refuses_the_whole_batch_naming_its_place(ingest, sink, claims):
    good, bad = a_transaction(), a_transaction(Typo=1)
    with pytest.raises(ClientError) as refused:
        ingest.handle([created(good, "e-1"), created(bad, "e-2")], CLIENT)
    assert [problem.message for problem in refused.value.problems] == ["event 1 (e-2): unknown field"]
    assert sink.events == [] and claims.emitted == {}


def test_an_event_of_another_type_is_refused_naming_the_type_ingest_takes(ingest):
    with pytest.raises(ClientError, match="ingest takes dev.sentinel.transaction.created"):
        ingest.handle([created(a_transaction(), event_type=events.TRANSACTION_SCORED)], CLIENT)


def test_a_failed_emit_gives_the_id_back_so_a_retry_is_accepted(ingest, sink):
    transaction = a_transaction()
    sink.failure = Unavailable("the event sink is down")
    with pytest.raises(Unavailable):
        ingest.handle([created(transaction)], CLIENT)
    sink.failure = None
    assert ingest.handle([created(transaction)], CLIENT).document["accepted"] == [transaction["transaction_id"]]


def test_a_transaction_another_request_is_accepting_is_409(ingest, claims):
    transaction = a_transaction()
    claims.pending[(CLIENT.client_id, transaction["transaction_id"])] = "someone else's claim"
    with pytest.raises(ClientError) as refused:
        ingest.handle([created(transaction)], CLIENT)
    assert refused.value.status == 409


def test_without_a_sink_ingest_is_not_ready_and_answers_503(claims):
    ingest = Ingest(claims, None, keys=RECEIVED_KEYS)
    assert "K_SINK" in ingest.ready()
    with pytest.raises(Unavailable, match="K_SINK"):
        ingest.handle([created(a_transaction())], CLIENT)


def test_stop_releases_the_sink_and_the_claims(ingest, sink, claims):
    ingest.stop()
    assert sink.closed and claims.closed
