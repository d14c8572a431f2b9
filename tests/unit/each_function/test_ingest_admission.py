"""ingest sheds load: while too many accepted transactions are not stored yet, it answers 503 with Retry-After."""

import time

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
def admission(backlog):
    return Admission(backlog, limit=2)


@pytest.fixture
def ingest(admission, claims):
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
        ingest.refuse_if_overloaded()
    assert refused.value.retry_after == 1
    assert "the pipeline is behind" in refused.value.message


def test_a_refused_transaction_is_not_claimed_so_its_retry_is_not_a_duplicate(ingest, admission, backlog):
    ingest.handle([created(a_transaction()), created(a_transaction(), "e-2")], CLIENT)
    transaction = a_transaction()
    with pytest.raises(Unavailable):
        ingest.refuse_if_overloaded()
    backlog.admitted_at.clear()
    admission.refresh()
    ingest.refuse_if_overloaded()
    assert ingest.handle([created(transaction, "e-3")], CLIENT).document["accepted"] == [transaction["transaction_id"]]


def test_once_the_backlog_is_stored_ingest_accepts_again(ingest, admission, backlog):
    ingest.handle([created(a_transaction()), created(a_transaction(), "e-2")], CLIENT)
    backlog.stored(list(backlog.admitted_at))
    admission.refresh()
    ingest.refuse_if_overloaded()
    assert ingest.handle([created(a_transaction(), "e-3")], CLIENT).status == 202


def test_duplicates_do_not_join_the_backlog(ingest, backlog):
    transaction = a_transaction()
    ingest.handle([created(transaction)], CLIENT)
    ingest.handle([created(transaction, "e-2")], CLIENT)
    assert len(backlog.admitted_at) == 1


def test_deciding_reads_nothing_and_counts_what_was_admitted_since_the_last_read(ingest, admission, backlog):
    admission.refresh()
    for index in range(2):
        ingest.refuse_if_overloaded()
        ingest.handle([created(a_transaction(), f"e-{index}")], CLIENT)
    with pytest.raises(Unavailable):
        ingest.refuse_if_overloaded()
    assert backlog.reads == 1


def test_the_watcher_reads_the_backlog_every_refresh_interval_until_closed(backlog):
    admission = Admission(backlog, limit=2, refresh_s=0.01)
    admission.start()
    backlog.admitted(["t-1", "t-2"], 0.0)
    deadline = time.monotonic() + 5
    while backlog.reads < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    with pytest.raises(Unavailable):
        admission.check()
    admission.close()
    reads = backlog.reads
    time.sleep(0.05)
    assert reads >= 3 and backlog.reads == reads


def test_while_the_backlog_cannot_be_read_ingest_refuses_and_says_why(admission, backlog):
    backlog.down = True
    admission.refresh()
    with pytest.raises(Unavailable) as refused:
        admission.check()
    assert refused.value.retry_after == 1
    assert "cannot tell how far behind" in refused.value.message
    backlog.down = False
    admission.refresh()
    admission.check()
