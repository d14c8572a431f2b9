"""persist publishes how far it has stored, for ingest's admission: throttled, and never at an event's cost."""

import pytest
from fakes import NOW, MemoryDecisions, MemoryMark, scored
from support import a_transaction

from functions.persist.main import Persist
from functions.persist.stored_mark import StoredMark
from sentinel.core.transaction import parse_timestamp

RECEIVED_AT = parse_timestamp(NOW).timestamp()


@pytest.fixture
def mark():
    return MemoryMark()


def test_a_stored_decision_publishes_its_received_at(mark):
    Persist(MemoryDecisions(), StoredMark(mark)).handle([scored(a_transaction())])
    assert mark.through == RECEIVED_AT


def test_the_mark_is_published_at_most_once_per_interval(mark):
    now = [0.0]
    stored = StoredMark(mark, interval_s=0.05, clock=lambda: now[0])
    for step in range(10):
        stored.stored(100.0 + step)
    now[0] = 0.06
    stored.stored(200.0)
    assert mark.advances == [100.0, 200.0]


def test_closing_publishes_what_the_interval_held_back(mark):
    stored = StoredMark(mark, interval_s=60)
    stored.stored(100.0)
    stored.stored(101.0)
    stored.close()
    assert mark.through == 101.0


def test_a_mark_redis_cannot_take_does_not_fail_the_decision(mark):
    mark.broken = True
    decisions = MemoryDecisions()
    transaction = a_transaction()
    reply = Persist(decisions, StoredMark(mark)).handle([scored(transaction)])
    assert reply.status == 200 and transaction["transaction_id"] in decisions.rows
