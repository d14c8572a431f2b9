"""Every failure PostgreSQL and Redis can give a function, classified against the real servers.

A failure caused by the event's content answers 4xx, so the dispatcher dead-letters it
at once and the events behind it flow on; only a failure that will pass answers 503 and
is retried; anything else is a bug (500). The SQLSTATE cases are raised by the test
stack's own PostgreSQL (`RAISE ... USING ERRCODE`), so each is the exception psycopg
really builds from that server's answer; the provoked cases go through the stores.
"""

from __future__ import annotations

import contextlib
import threading
import uuid

import psycopg
import pytest
import redis
from psycopg import sql
from support import a_score, a_transaction, free_port

from sentinel.serving.failures import answer_for
from sentinel.stores.database import connect
from sentinel.stores.decisions import DecisionStore
from sentinel.stores.redis_client import connect as connect_redis

pytestmark = pytest.mark.stack

CONTENT = {
    "22P05": "untranslatable character",
    "22008": "datetime field overflow",
    "22003": "numeric value out of range",
    "23502": "not-null violation",
    "23505": "unique violation of another key than the idempotent one",
    "23514": "check violation",
    "54000": "program limit exceeded (an index row too large)",
}
TRANSIENT = {
    "08006": "connection failure",
    "40001": "serialization failure",
    "40P01": "deadlock detected",
    "53100": "disk full",
    "53200": "out of memory",
    "53300": "too many connections",
    "55P03": "lock not available",
    "57014": "query cancelled (a statement timeout)",
    "57P01": "admin shutdown",
    "57P03": "cannot connect now (starting up)",
}


def raised_by_postgres(database_url: str, sqlstate: str) -> psycopg.Error:
    """The exception psycopg raises when the server answers with `sqlstate`."""
    statement = sql.SQL("DO $$ BEGIN RAISE EXCEPTION 'raised for the test' USING ERRCODE = {}; END $$").format(
        sql.Literal(sqlstate)
    )
    with connect(database_url) as conn, pytest.raises(psycopg.Error) as raised:
        conn.execute(statement)
    assert raised.value.sqlstate == sqlstate
    return raised.value


def status_of(error: Exception) -> int:
    return answer_for(error, "the test")[0]


@pytest.fixture
def decisions(stack):
    store = DecisionStore.connect(stack.settings.database_url)
    yield store
    store.close()


@pytest.mark.parametrize("sqlstate", sorted(CONTENT), ids=lambda code: f"{code} {CONTENT[code]}")
def test_a_postgresql_error_caused_by_the_data_is_422_so_it_is_dead_lettered_at_once(stack, sqlstate):
    error = raised_by_postgres(stack.settings.database_url, sqlstate)
    status, body = answer_for(error, "the test")
    assert status == 422 and body["code"] == sqlstate and "PostgreSQL cannot store this event" in body["error"]


@pytest.mark.parametrize("sqlstate", sorted(TRANSIENT), ids=lambda code: f"{code} {TRANSIENT[code]}")
def test_a_postgresql_error_that_will_pass_is_503_so_it_is_retried(stack, sqlstate):
    assert status_of(raised_by_postgres(stack.settings.database_url, sqlstate)) == 503


def test_a_postgresql_error_that_is_a_bug_of_ours_is_500(stack):
    assert status_of(raised_by_postgres(stack.settings.database_url, "42P01")) == 500  # undefined table


def test_a_nul_character_postgresql_text_cannot_hold_is_422(stack):
    with connect(stack.settings.database_url) as conn, pytest.raises(psycopg.Error) as raised:
        conn.execute("SELECT %s::text", ["merchant\x00"])
    assert status_of(raised.value) == 422


def test_a_timestamp_beyond_postgresql_range_is_422_from_the_store(decisions):
    item = a_score(a_transaction())
    item["transaction"]["event_time"] = "294277-01-01T00:00:00Z"  # past timestamptz's last day
    with pytest.raises(psycopg.Error) as raised:
        decisions.store([item])
    assert status_of(raised.value) == 422


def test_a_risk_score_the_table_refuses_is_422_from_the_store(decisions):
    item = a_score(a_transaction())
    item["risk_score"] = 2.0
    with pytest.raises(psycopg.Error) as raised:
        decisions.store([item])
    assert status_of(raised.value) == 422


def test_a_statement_timeout_is_503(stack):
    with connect(stack.settings.database_url) as conn, pytest.raises(psycopg.Error) as raised:
        conn.execute("SET statement_timeout = '50ms'")
        conn.execute("SELECT pg_sleep(1)")
    assert status_of(raised.value) == 503


def test_postgresql_unreachable_is_503(stack):
    unreachable = stack.settings.database_url.rsplit("@", 1)[0] + f"@127.0.0.1:{free_port()}/sentinel"
    with pytest.raises(psycopg.Error) as raised:
        connect(unreachable, timeout=2).close()
    assert status_of(raised.value) == 503


def test_a_bad_row_among_good_ones_fails_only_its_own_request(decisions):
    good, bad = a_score(a_transaction()), a_score(a_transaction())
    bad["risk_score"] = 2.0
    outcomes: dict[str, object] = {}

    def store(name, item):
        try:
            outcomes[name] = decisions.store([item])
        except psycopg.Error as error:
            outcomes[name] = status_of(error)

    threads = [threading.Thread(target=store, args=(name, item)) for name, item in (("good", good), ("bad", bad))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes == {"good": [True], "bad": 422}


@pytest.fixture
def redis_client(stack):
    client = connect_redis(stack.settings.redis_url)
    yield client
    client.close()


def test_redis_unreachable_is_503():
    client = redis.Redis(port=free_port(), socket_connect_timeout=1)
    with pytest.raises(redis.RedisError) as raised:
        client.set("k", "v")
    assert status_of(raised.value) == 503


def test_redis_out_of_memory_is_503(redis_client):
    key = f"sentinel-test:{uuid.uuid4().hex}"
    previous = redis_client.config_get("maxmemory")["maxmemory"]
    try:
        redis_client.config_set("maxmemory", 1)
        with pytest.raises(redis.RedisError) as raised:
            redis_client.set(key, "x" * 1024)
    finally:
        redis_client.config_set("maxmemory", previous)
        with contextlib.suppress(redis.RedisError):
            redis_client.delete(key)
    assert status_of(raised.value) == 503


def test_a_value_redis_cannot_encode_is_422(redis_client):
    with pytest.raises(redis.RedisError) as raised:
        redis_client.set(f"sentinel-test:{uuid.uuid4().hex}", {"not": "a string"})
    assert status_of(raised.value) == 422


def test_a_redis_command_error_of_ours_is_500(redis_client):
    key = f"sentinel-test:{uuid.uuid4().hex}"
    redis_client.set(key, "a string")
    try:
        with pytest.raises(redis.RedisError) as raised:
            redis_client.xadd(key, {"field": "value"})  # WRONGTYPE: a bug, not the event's fault
    finally:
        redis_client.delete(key)
    assert status_of(raised.value) == 500
