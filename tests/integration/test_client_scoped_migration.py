"""Migration 0008 scopes transaction ids per client without losing a row stored before it."""

from __future__ import annotations

import psycopg
import pytest

from sentinel.core.api_keys import UNKNOWN_CLIENT
from sentinel.stores import database

pytestmark = pytest.mark.stack

BEFORE = "0008_client_scoped_ids"


def migrated_up_to(url: str, before: str) -> None:
    """Apply the migrations older than `before`, recorded as `database.migrate` records them."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE schema_migrations (version text PRIMARY KEY, applied_at timestamptz DEFAULT now())")
        for version, sql in database.migration_files():
            if version >= before:
                break
            with conn.transaction():
                conn.execute(sql)
                conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))


@pytest.fixture
def url(stack):
    url = stack.fresh_database("client_scoped_migration", migrated=False)
    migrated_up_to(url, BEFORE)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO transactions (transaction_id, user_id, amount, payload, risk_score, decision, model_version,"
            " thresholds, received_at, scored_at) VALUES ('t-old', 'u-1', 5, '{}', 0.95, 'block', 'v0001', '{}',"
            " now(), now())"
        )
        conn.execute(
            "INSERT INTO alerts (transaction_id, user_id, decision, risk_score, model_version)"
            " VALUES ('t-old', 'u-1', 'block', 0.95, 'v0001')"
        )
        conn.execute("INSERT INTO labels (transaction_id, label, labelled_by) VALUES ('t-old', 'fraud', 'ana')")
        conn.execute("INSERT INTO api_keys (name, key_hash, scopes) VALUES ('shop', 'h', '{ingest}')")
    database.migrate(url)
    return url


def test_every_row_stored_before_is_kept_under_the_unknown_client(url):
    with psycopg.connect(url) as conn:
        for table in ("transactions", "alerts", "labels"):
            assert conn.execute(f"SELECT client_id FROM {table} WHERE transaction_id = 't-old'").fetchall() == [
                (UNKNOWN_CLIENT,)
            ]


def test_an_existing_key_is_its_own_client(url):
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT client FROM api_keys WHERE name = 'shop'").fetchone() == ("shop",)


def test_a_client_may_then_store_a_transaction_under_an_id_stored_before(url):
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO transactions (client_id, transaction_id, user_id, amount, payload, risk_score, decision,"
            " model_version, thresholds, received_at, scored_at) VALUES ('shop', 't-old', 'u-2', 7, '{}', 0.1,"
            " 'approve', 'v0001', '{}', now(), now())"
        )
        assert conn.execute("SELECT count(*) FROM transactions WHERE transaction_id = 't-old'").fetchone() == (2,)
