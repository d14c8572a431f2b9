"""API keys in the test stack's real PostgreSQL: created once, kept as hashes, revoked by name."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from sentinel.core.api_keys import key_hash
from sentinel.core.errors import ClientError
from sentinel.stores.api_keys import ApiKeyStore
from sentinel.stores.audit import AuditLog

pytestmark = pytest.mark.stack


@pytest.fixture
def store(stack):
    keys = ApiKeyStore.connect(stack.settings.database_url)
    yield keys
    keys.close()


def a_name() -> str:
    return f"client-{uuid.uuid4().hex[:8]}"


def test_a_created_key_names_its_caller_and_scopes(store):
    name = a_name()
    key = store.create(name, ["ingest", "read"], by="tests", rate_per_s=50)
    caller = store.caller(key_hash(key))
    assert (caller.name, caller.scopes, caller.rate_per_s) == (name, frozenset({"ingest", "read"}), 50)


def test_only_the_hash_of_a_key_is_stored(stack, store):
    key = store.create(a_name(), ["ingest"], by="tests")
    with psycopg.connect(stack.settings.database_url) as conn:
        rows = conn.execute("SELECT * FROM api_keys").fetchall()
    assert not any(key in str(value) for row in rows for value in row)


def test_a_second_live_key_with_the_same_name_is_refused_with_409(store):
    name = a_name()
    store.create(name, ["ingest"], by="tests")
    with pytest.raises(ClientError) as refused:
        store.create(name, ["ingest"], by="tests")
    assert refused.value.status == 409


def test_a_revoked_key_names_no_caller_and_its_name_can_be_reused(store):
    name = a_name()
    old = store.create(name, ["ingest"], by="tests")
    assert store.revoke(name, by="tests")
    new = store.create(name, ["score"], by="tests")
    assert store.caller(key_hash(old)) is None
    assert store.caller(key_hash(new)).scopes == frozenset({"score"})


def test_revoking_a_name_with_no_live_key_says_so(store):
    assert not store.revoke(a_name(), by="tests")


def test_the_list_shows_live_keys_and_with_revoked_ones_on_request(store):
    live, gone = a_name(), a_name()
    store.create(live, ["ingest"], by="tests")
    store.create(gone, ["ingest"], by="tests")
    store.revoke(gone, by="tests")
    assert live in {record.name for record in store.records()}
    assert gone not in {record.name for record in store.records()}
    assert gone in {record.name for record in store.records(include_revoked=True)}


def test_creating_and_revoking_a_key_is_audited_with_who_did_it(stack, store):
    name = a_name()
    store.create(name, ["ingest"], by="tests")
    store.revoke(name, by="tests")
    audit = AuditLog.connect(stack.settings.database_url)
    try:
        entries = [(entry.action, entry.subject) for entry in audit.entries(actor="tests") if entry.subject == name]
    finally:
        audit.close()
    assert entries == [("key.revoke", name), ("key.create", name)]


def test_a_key_names_its_own_client_unless_given_another_so_a_replacement_keeps_the_ids(store):
    old_name, new_name = a_name(), a_name()
    old = store.create(old_name, ["ingest"], by="tests")
    new = store.create(new_name, ["ingest"], by="tests", client=old_name)
    assert store.caller(key_hash(old)).client_id == store.caller(key_hash(new)).client_id == old_name


def test_a_client_name_follows_the_key_name_rule(store):
    with pytest.raises(ClientError, match="invalid client name"):
        store.create(a_name(), ["ingest"], by="tests", client="-")
