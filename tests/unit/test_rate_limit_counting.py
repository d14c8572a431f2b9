"""How a rate is counted: locally between syncs with the shared count in Redis (sentinel.stores.rate_limits)."""

import pytest

from sentinel.core.api_keys import Caller
from sentinel.core.errors import RateLimited
from sentinel.stores.rate_limits import RateLimits

CALLER = Caller("shop", frozenset({"ingest"}))


class SharedCounts:
    """Redis's INCRBY and EXPIRE through a pipeline, counting the round trips; `others` is
    what other instances added."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.round_trips = 0
        self.others = 0

    def pipeline(self, transaction=False):
        return self

    def incrby(self, key, delta):
        self._key, self._delta = key, delta

    def expire(self, key, seconds):
        pass

    def execute(self):
        self.round_trips += 1
        self.counts[self._key] = self.counts.get(self._key, 0) + self._delta + self.others
        self.others = 0
        return [self.counts[self._key], True]


@pytest.fixture
def shared():
    return SharedCounts()


@pytest.fixture
def now():
    return [500.0]


@pytest.fixture
def limits(shared, now):
    return RateLimits(shared, default_per_s=100, sync_s=0.1, clock=lambda: now[0])


def test_requests_between_syncs_cost_no_round_trip(limits, shared, now):
    for _ in range(50):
        limits.check(CALLER, "ingest")
        now[0] += 0.001
    assert shared.round_trips == 1


def test_the_local_count_is_added_to_the_shared_one_at_each_sync(limits, shared, now):
    limits.check(CALLER, "ingest")
    now[0] = 500.05
    for _ in range(5):
        limits.check(CALLER, "ingest")
    now[0] = 500.15
    limits.check(CALLER, "ingest")
    assert shared.round_trips == 2
    assert list(shared.counts.values()) == [7]


def test_what_other_instances_counted_is_seen_at_the_next_sync(limits, shared, now):
    limits.check(CALLER, "ingest")
    shared.others = 99
    now[0] += 0.2
    with pytest.raises(RateLimited):
        limits.check(CALLER, "ingest")


def test_over_the_rate_between_syncs_is_refused_without_a_round_trip(shared, now):
    limits = RateLimits(shared, default_per_s=5, sync_s=0.1, clock=lambda: now[0])
    for _ in range(5):
        limits.check(CALLER, "ingest")
    with pytest.raises(RateLimited):
        limits.check(CALLER, "ingest")
    assert shared.round_trips == 1
