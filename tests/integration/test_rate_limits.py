"""Requests a second per API key, counted in the test stack's real Redis."""

from __future__ import annotations

import uuid

import pytest

from sentinel.core.api_keys import Caller
from sentinel.core.errors import RateLimited
from sentinel.serving.failures import headers_for
from sentinel.stores import redis_client
from sentinel.stores.rate_limits import RateLimits

pytestmark = pytest.mark.stack


@pytest.fixture
def now():
    return [1_000_000.2]


@pytest.fixture
def limits(stack, now):
    client = redis_client.connect(stack.settings.redis_url)
    yield RateLimits(client, default_per_s=3, clock=lambda: now[0])
    client.close()


def a_caller(rate_per_s=None) -> Caller:
    return Caller(f"client-{uuid.uuid4().hex[:8]}", frozenset({"ingest"}), rate_per_s)


def test_a_caller_within_its_rate_passes(limits):
    caller = a_caller()
    for _ in range(3):
        limits.check(caller, "ingest")


def test_the_request_over_the_rate_is_429_with_retry_after(limits):
    caller = a_caller()
    for _ in range(3):
        limits.check(caller, "ingest")
    with pytest.raises(RateLimited) as refused:
        limits.check(caller, "ingest")
    assert refused.value.status == 429
    assert headers_for(refused.value) == {"Retry-After": "1"}


def test_the_next_second_starts_a_new_count(limits, now):
    caller = a_caller()
    for _ in range(3):
        limits.check(caller, "ingest")
    now[0] += 1
    limits.check(caller, "ingest")


def test_a_key_with_its_own_rate_is_held_to_that(limits):
    caller = a_caller(rate_per_s=1)
    limits.check(caller, "ingest")
    with pytest.raises(RateLimited):
        limits.check(caller, "ingest")


def test_each_caller_and_each_function_is_counted_apart(limits):
    busy, other = a_caller(rate_per_s=1), a_caller(rate_per_s=1)
    limits.check(busy, "ingest")
    limits.check(other, "ingest")
    limits.check(busy, "score")
