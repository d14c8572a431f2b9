"""ingest sheds load: while too much of what it admitted is not stored yet, it answers 503 with Retry-After."""

import pytest
from fakes import NOW, MemoryClaims, MemoryMark, MemorySink, created
from support import a_transaction

from functions.ingest.admission import Admission
from functions.ingest.main import Ingest
from sentinel.core.errors import Unavailable
from sentinel.core.transaction import parse_timestamp

ADMITTED_AT = parse_timestamp(NOW).timestamp()


@pytest.fixture
def mark():
    return MemoryMark()


@pytest.fixture
def claims():
    return MemoryClaims()


@pytest.fixture
def ingest(mark, claims):
    return Ingest(claims, MemorySink(), admission=Admission(mark, limit=2, refresh_s=0), clock=lambda: NOW)


def test_below_its_backlog_limit_ingest_accepts(ingest):
    assert ingest.handle([created(a_transaction())]).status == 202


def test_at_its_backlog_limit_ingest_refuses_with_503_and_retry_after(ingest):
    ingest.handle([created(a_transaction()), created(a_transaction(), "e-2")])
    with pytest.raises(Unavailable) as refused:
        ingest.handle([created(a_transaction(), "e-3")])
    assert refused.value.retry_after == 1 and "2 events accepted here are not stored yet" in refused.value.message


def test_a_refusal_claims_no_transaction_id_so_the_retry_is_not_a_duplicate(ingest, claims, mark):
    ingest.handle([created(a_transaction()), created(a_transaction(), "e-2")])
    transaction = a_transaction()
    with pytest.raises(Unavailable):
        ingest.handle([created(transaction, "e-3")])
    mark.advance(ADMITTED_AT)
    assert ingest.handle([created(transaction, "e-3")]).document["accepted"] == [transaction["transaction_id"]]


def test_once_persist_stores_past_the_backlog_ingest_accepts_again(ingest, mark):
    ingest.handle([created(a_transaction()), created(a_transaction(), "e-2")])
    mark.advance(ADMITTED_AT)
    assert ingest.handle([created(a_transaction(), "e-3")]).status == 202


def test_duplicates_do_not_count_against_the_backlog(ingest):
    transaction = a_transaction()
    ingest.handle([created(transaction)])
    ingest.handle([created(transaction, "e-2")])
    assert ingest.handle([created(a_transaction(), "e-3")]).status == 202


def test_the_mark_is_read_at_most_once_per_refresh_interval(mark, claims):
    reads = []
    mark.stored_through = lambda: reads.append(1)  # type: ignore[method-assign]
    now = [0.0]
    admission = Admission(mark, limit=1000, refresh_s=0.1, clock=lambda: now[0])
    ingest = Ingest(claims, MemorySink(), admission=admission, clock=lambda: NOW)
    for index in range(5):
        ingest.handle([created(a_transaction(), f"e-{index}")])
    now[0] = 0.2
    ingest.handle([created(a_transaction(), "e-last")])
    assert len(reads) == 2
