"""API keys as the domain sees them: how they are made, hashed, named and scoped."""

import pytest

from sentinel.core.api_keys import KEY_PREFIX, SCOPES, Caller, checked_name, checked_scopes, key_hash, new_key
from sentinel.core.errors import ClientError


def test_a_new_key_carries_256_random_bits_after_its_prefix():
    key = new_key()
    assert key.startswith(KEY_PREFIX)
    assert len(key.removeprefix(KEY_PREFIX)) == 43  # 32 bytes, base64url without padding


def test_no_two_new_keys_are_alike():
    assert len({new_key() for _ in range(1000)}) == 1000


def test_a_key_is_stored_as_its_sha256_never_as_itself():
    key = new_key()
    hashed = key_hash(key)
    assert len(hashed) == 64 and key not in hashed
    assert key_hash(key) == hashed


@pytest.mark.parametrize("name", ["demo", "fraud-team.client_2", "a" * 64])
def test_a_name_of_letters_digits_dots_dashes_and_underscores_is_taken(name):
    assert checked_name(name) == name


@pytest.mark.parametrize("name", ["", "-leading-dash", "a" * 65, "with space", "semi;colon", "ünïcode"])
def test_any_other_name_is_refused_naming_the_rule(name):
    with pytest.raises(ClientError, match="invalid key name"):
        checked_name(name)


def test_only_the_known_scopes_are_taken():
    assert checked_scopes(list(SCOPES)) == frozenset(SCOPES)
    with pytest.raises(ClientError, match="unknown scope admin"):
        checked_scopes(["ingest", "admin"])


def test_a_key_needs_a_scope():
    with pytest.raises(ClientError, match="at least one scope"):
        checked_scopes([])


def test_a_caller_may_do_what_its_scopes_name_and_nothing_else():
    caller = Caller("client", frozenset({"ingest"}))
    assert caller.may("ingest") and not caller.may("score")


def test_a_caller_is_its_own_client_unless_its_key_names_another():
    assert Caller("shop-key-2", frozenset({"ingest"})).client_id == "shop-key-2"
    assert Caller("shop-key-2", frozenset({"ingest"}), client="shop").client_id == "shop"
