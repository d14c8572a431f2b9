"""persist takes what it stored off the pipeline's backlog, which ingest counts to shed load."""

import pytest
from fakes import MemoryBacklog, MemoryDecisions, scored, scored_events
from support import a_transaction

from functions.persist.main import Persist


@pytest.fixture
def backlog():
    return MemoryBacklog()


def test_a_stored_decision_leaves_the_backlog(backlog):
    transaction = a_transaction()
    backlog.admitted([transaction["transaction_id"]], 100.0)
    Persist(MemoryDecisions(), scored_events(), backlog).handle([scored(transaction)])
    assert backlog.admitted_at == {}


def test_a_redelivered_decision_leaves_the_backlog_too(backlog):
    transaction = a_transaction()
    decisions = MemoryDecisions()
    Persist(decisions, scored_events(), backlog).handle([scored(transaction)])
    backlog.admitted([transaction["transaction_id"]], 100.0)
    Persist(decisions, scored_events(), backlog).handle([scored(transaction)])
    assert backlog.admitted_at == {}


def test_a_backlog_redis_cannot_update_does_not_fail_the_stored_decision(backlog):
    backlog.down = True
    decisions = MemoryDecisions()
    transaction = a_transaction()
    reply = Persist(decisions, scored_events(), backlog).handle([scored(transaction)])
    assert reply.status == 200 and transaction["transaction_id"] in decisions.rows
