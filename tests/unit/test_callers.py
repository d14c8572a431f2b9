"""Who is calling: Bearer keys (RFC 6750) checked against the stored ones, with a short cache."""

import pytest

from sentinel.core.api_keys import Caller, key_hash
from sentinel.core.errors import Unauthorized
from sentinel.serving.callers import Callers, must_hold, required
from sentinel.serving.failures import answer_for, headers_for

KEY = "sentinel_a-valid-key"
CLIENT = Caller("client", frozenset({"ingest"}))


class CountingKeys:
    """Stored keys in memory, counting lookups; `revoke` takes a key away."""

    def __init__(self) -> None:
        self.callers = {key_hash(KEY): CLIENT}
        self.lookups = 0

    def caller(self, hashed):
        self.lookups += 1
        return self.callers.get(hashed)

    def revoke(self) -> None:
        self.callers.clear()

    def close(self) -> None:
        pass


@pytest.fixture
def keys():
    return CountingKeys()


@pytest.fixture
def now():
    return [0.0]


@pytest.fixture
def callers(keys, now):
    return Callers(keys, ttl_s=5, max_entries=3, clock=lambda: now[0])


def test_a_request_without_authorization_has_no_caller(callers):
    assert callers.identify(None) is None


def test_a_valid_bearer_key_names_its_caller(callers):
    assert callers.identify(f"Bearer {KEY}") == CLIENT


def test_the_auth_scheme_is_case_insensitive(callers):
    """RFC 6750 §2.1 uses the scheme of RFC 9110 §11.1: case-insensitive."""
    assert callers.identify(f"bearer {KEY}") == CLIENT


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", KEY])
def test_anything_but_a_bearer_key_is_401(callers, header):
    with pytest.raises(Unauthorized) as refused:
        callers.identify(header)
    assert refused.value.status == 401


def test_an_unknown_key_is_401_with_invalid_token(callers):
    """RFC 6750 §3.1: invalid_token for a key that is unknown or revoked."""
    with pytest.raises(Unauthorized) as refused:
        callers.identify("Bearer sentinel_made-up")
    assert refused.value.status == 401
    assert 'error="invalid_token"' in refused.value.challenge


def test_a_key_is_looked_up_once_per_cache_period(callers, keys, now):
    for _ in range(10):
        callers.identify(f"Bearer {KEY}")
    now[0] += 4.9
    callers.identify(f"Bearer {KEY}")
    assert keys.lookups == 1


def test_a_revoked_key_is_refused_once_its_cache_period_ends(callers, keys, now):
    callers.identify(f"Bearer {KEY}")
    keys.revoke()
    now[0] += 5.1
    with pytest.raises(Unauthorized):
        callers.identify(f"Bearer {KEY}")


def test_unknown_keys_are_cached_too_so_a_flood_of_them_costs_one_lookup_each(callers, keys):
    for _ in range(3):
        with pytest.raises(Unauthorized):
            callers.identify("Bearer sentinel_made-up")
    assert keys.lookups == 1


def test_the_cache_holds_at_most_its_bound(callers, keys):
    for index in range(10):
        with pytest.raises(Unauthorized):
            callers.identify(f"Bearer sentinel_made-up-{index}")
    with pytest.raises(Unauthorized):
        callers.identify("Bearer sentinel_made-up-0")
    assert keys.lookups == 11


def test_no_caller_where_one_is_required_is_401_with_a_challenge():
    """RFC 6750 §3: a 401 carries WWW-Authenticate with the Bearer scheme."""
    with pytest.raises(Unauthorized) as refused:
        required(None, "ingest")
    assert refused.value.status == 401
    assert headers_for(refused.value) == {"WWW-Authenticate": 'Bearer realm="sentinel"'}


def test_a_caller_without_the_scope_is_403_naming_it():
    """RFC 6750 §3.1: insufficient_scope, with the scope needed."""
    with pytest.raises(Unauthorized) as refused:
        must_hold(CLIENT, "score")
    status, body = answer_for(refused.value, "score")
    assert status == 403 and "lacks the 'score' scope" in body["error"]
    assert 'error="insufficient_scope", scope="score"' in headers_for(refused.value)["WWW-Authenticate"]


def test_a_caller_with_the_scope_passes():
    assert required(CLIENT, "ingest") == CLIENT
