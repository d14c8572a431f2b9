"""persist, in memory: every scored decision stored once."""

import pytest
from fakes import created, scored, scored_events
from support import a_transaction

from functions.persist.main import Persist
from sentinel.codec.event import json_event
from sentinel.core import events
from sentinel.core.errors import ClientError


@pytest.fixture
def persist(decisions):
    return Persist(decisions, scored_events())


def test_a_decision_is_stored(persist, decisions):
    transaction = a_transaction()
    reply = persist.handle([scored(transaction)])
    assert reply.document == {"stored": [transaction["transaction_id"]], "duplicates": []}
    assert decisions.rows[transaction["transaction_id"]]["transaction"] == transaction


def test_a_redelivered_decision_is_a_duplicate_answered_200(persist, decisions):
    event = scored(a_transaction())
    persist.handle([event])
    reply = persist.handle([event])
    assert (reply.status, reply.document["stored"], len(decisions.rows)) == (200, [], 1)


def test_a_malformed_scored_event_is_400_naming_its_fields_and_nothing_is_stored(persist, decisions):
    bad = json_event({"type": events.TRANSACTION_SCORED, "source": "/tests", "id": "x"}, {"transaction_id": "x"})
    with pytest.raises(ClientError) as refused:
        persist.handle([bad])
    assert {"risk_score", "decision", "transaction"} <= {problem.field for problem in refused.value.problems}
    assert decisions.rows == {}


def test_one_bad_event_in_a_batch_stores_nothing(persist, decisions):
    bad = json_event({"type": events.TRANSACTION_SCORED, "source": "/tests", "id": "x"}, {"decision": "maybe"})
    with pytest.raises(ClientError):
        persist.handle([scored(a_transaction()), bad])
    assert decisions.rows == {}


def test_an_event_of_another_type_is_refused(persist):
    with pytest.raises(ClientError, match="persist takes dev.sentinel.transaction.scored"):
        persist.handle([created(a_transaction())])


def test_stop_releases_the_store(persist, decisions):
    persist.stop()
    assert decisions.closed
