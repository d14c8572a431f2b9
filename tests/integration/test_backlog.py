"""The pipeline's backlog in the test stack's real Redis: what ingest admitted and persist has not stored.

Each test keeps its backlog under a key of its own: the stack's ingest trims the
pipeline's own key by the clock every tenth of a second, and these tests' admissions
are timed in 1970."""

from __future__ import annotations

import uuid

import pytest

from sentinel.stores import redis_client
from sentinel.stores.backlog import KEY, PipelineBacklog

pytestmark = pytest.mark.stack


@pytest.fixture
def backlog(stack):
    client = redis_client.connect(stack.settings.redis_url)
    key = f"{KEY}:tests:{uuid.uuid4().hex[:8]}"
    yield PipelineBacklog(client, horizon_s=60, key=key)
    client.delete(key)
    client.close()


def ids(count: int) -> list[str]:
    return [f"t-{uuid.uuid4().hex[:12]}" for _ in range(count)]


def test_admitted_transactions_count_until_they_are_stored(backlog):
    first, second = ids(3), ids(2)
    backlog.admitted(first, 1000.0)
    backlog.admitted(second, 1001.0)
    backlog.stored(first)
    assert backlog.size(now=1002.0) == 2


def test_storing_a_transaction_twice_or_one_never_admitted_changes_nothing(backlog):
    admitted = ids(2)
    backlog.admitted(admitted, 1000.0)
    backlog.stored(admitted[:1])
    backlog.stored([*admitted[:1], *ids(1)])
    assert backlog.size(now=1001.0) == 1


def test_what_was_admitted_longer_ago_than_the_horizon_no_longer_counts(backlog):
    backlog.admitted(ids(4), 1000.0)
    backlog.admitted(ids(1), 1050.0)
    assert backlog.size(now=1070.0) == 1
