"""Who may call ingest and score directly, decided before a request's body is read (`admit`)."""

import pytest
from fakes import NOW, RECEIVED_KEYS, SCORED_KEYS, MemoryClaims, MemoryHistories, MemoryModels, MemorySink, created
from support import a_transaction

from functions.ingest.main import Ingest
from functions.score.main import Score
from sentinel.core.api_keys import Caller
from sentinel.core.errors import RateLimited, Unauthorized

SUBMITTER = Caller("shop", frozenset({"ingest"}))
PROBER = Caller("scorer", frozenset({"score"}))
READER = Caller("analyst-tool", frozenset({"read"}))


class CountingLimits:
    """Allows `allowed` requests per caller in all, then refuses with 429."""

    def __init__(self, allowed: int) -> None:
        self.allowed = allowed
        self.counted: dict[tuple[str, str], int] = {}

    def check(self, caller, function):
        key = (caller.name, function)
        self.counted[key] = self.counted.get(key, 0) + 1
        if self.counted[key] > self.allowed:
            raise RateLimited("over", retry_after=1)


@pytest.fixture
def limits():
    return CountingLimits(allowed=2)


@pytest.fixture
def ingest(limits):
    return Ingest(MemoryClaims(), MemorySink(), limits=limits, keys=RECEIVED_KEYS, clock=lambda: NOW)


@pytest.fixture
def scorer(limits):
    return Score(
        MemoryModels(),
        MemorySink(),
        MemoryHistories(),
        limits=limits,
        received_keys=RECEIVED_KEYS,
        scored_keys=SCORED_KEYS,
        clock=lambda: NOW,
    )


def test_ingest_refuses_a_request_without_a_key_with_401(ingest):
    with pytest.raises(Unauthorized) as refused:
        ingest.admit(None)
    assert refused.value.status == 401


@pytest.mark.parametrize("caller", [PROBER, READER])
def test_ingest_refuses_a_key_without_the_ingest_scope_with_403(ingest, caller):
    with pytest.raises(Unauthorized) as refused:
        ingest.admit(caller)
    assert refused.value.status == 403


def test_ingest_admits_a_key_with_the_ingest_scope_within_its_rate(ingest, limits):
    ingest.admit(SUBMITTER)
    ingest.admit(SUBMITTER)
    with pytest.raises(RateLimited):
        ingest.admit(SUBMITTER)
    assert limits.counted == {("shop", "ingest"): 3}


def test_score_admits_pipeline_deliveries_which_carry_no_key(scorer, limits):
    scorer.admit(None)
    assert limits.counted == {}


def test_score_refuses_a_key_without_the_score_scope_with_403(scorer):
    with pytest.raises(Unauthorized) as refused:
        scorer.admit(SUBMITTER)
    assert refused.value.status == 403


def test_score_holds_a_direct_caller_to_its_rate(scorer):
    scorer.admit(PROBER)
    scorer.admit(PROBER)
    with pytest.raises(RateLimited):
        scorer.admit(PROBER)


def test_score_gives_a_decision_inline_only_to_a_holder_of_a_score_key(scorer):
    with pytest.raises(Unauthorized) as refused:
        scorer.handle([created(a_transaction())], None)
    assert refused.value.status == 401
    assert scorer.handle([created(a_transaction())], PROBER).events
