"""ingest sheds load: while too many accepted transactions are not stored yet, it answers 503 with Retry-After."""

import pytest
from fakes import CLIENT, NOW, RECEIVED_KEYS, MemoryBacklog, MemorySink, created
from support import a_transaction

from functions.ingest.admission import Admission
from functions.ingest.main import Ingest
from sentinel.core.errors import Unavailable


@pytest.fixture
def backlog():
    return MemoryBacklog()


@pytest.fixture
def ingest(backlog, claims):
    admission = Admission(backlog, limit=2, refresh_s=0)
    return Ingest(claims, MemorySink(), admission=admission, keys=RECEIVED_KEYS, clock=lambda: NOW)


def test_below_the_backlog_limit_ingest_accepts(ingest):
    assert ingest.handle([created(a_transaction())], CLIENT).status == 202


def test_accepted_transactions_join_the_backlog(ingest, backlog):
    transaction = a_transaction()
    ingest.handle([created(transaction)], CLIENT)
    assert list(backlog.admitted_at) == [transaction["transaction_id"]]


def test_at_the_backlog_limit_ingest_refuses_with_503_and_retry_after(ingest):
    ingest.handle([created(a_transaction()), created(a_transaction(), "e-2")], CLIENT)
    with pytest.raises(Unavailable) as refused:
        ingest.admit(CLIENT)
    assert refused.value.retry_after == 1
    assert "2 accepted transactions are not stored yet" in refused.value.message


def test_a_refused_transaction_is_not_claimed_so_its_retry_is_not_a_duplicate(ingest, backlog):
    ingest.handle([created(a_transaction()), created(a_transaction(), "e-2")], CLIENT)
    transaction = a_transaction()
    with pytest.raises(Unavailable):
        ingest.admit(CLIENT)
    backlog.admitted_at.clear()
    ingest.admit(CLIENT)
    assert ingest.handle([created(transaction, "e-3")], CLIENT).document["accepted"] == [transaction["transaction_id"]]


def test_once_the_backlog_is_stored_ingest_accepts_again(ingest, backlog):
    ingest.handle([created(a_transaction()), created(a_transaction(), "e-2")], CLIENT)
    backlog.stored(list(backlog.admitted_at))
    ingest.admit(CLIENT)
    assert ingest.handle([created(a_transaction(), "e-3")], CLIENT).status == 202


def test_duplicates_do_not_join_the_backlog(ingest, backlog):
    transaction = a_transaction()
    ingest.handle([created(transaction)], CLIENT)
    ingest.handle([created(transaction, "e-2")], CLIENT)
    assert len(backlog.admitted_at) == 1


def test_the_backlog_is_read_at_most_once_per_refresh_interval_and_counted_up_between(backlog, claims):
    now = [0.0]
    admission = Admission(backlog, limit=3, refresh_s=0.1, clock=lambda: now[0])
    ingest = Ingest(claims, MemorySink(), admission=admission, keys=RECEIVED_KEYS, clock=lambda: NOW)
    for index in range(3):
        ingest.admit(CLIENT)
        ingest.handle([created(a_transaction(), f"e-{index}")], CLIENT)
    with pytest.raises(Unavailable):
        ingest.admit(CLIENT)
    assert backlog.reads == 1
