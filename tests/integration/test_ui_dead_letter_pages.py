"""The Dead letters page and the overview's dead-letter count, on a real PostgreSQL database of the test stack.

The dead letters come from a source in memory, as the stack's reader of sentinel.dlq
would hand them over; tests/e2e/test_dlq_commands.py reads the real topic.
"""

from __future__ import annotations

import base64
import html
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg.types.json import Jsonb
from ui_login import logged_in_client

from eventing.dead_letters import DeadLetter, DeadLetters
from sentinel.codec.event import json_event
from ui import create_app

pytestmark = pytest.mark.stack

PERSIST_URL = "http://127.0.0.1:18083"
REFUSAL = {"error": "invalid score", "problems": [{"field": "risk_score", "message": "missing"}]}


def a_dead_letter(offset: int, subject: str, *, age: timedelta) -> DeadLetter:
    event = json_event(
        {"id": subject, "source": "/sentinel/score", "type": "dev.sentinel.transaction.scored", "subject": subject},
        {"transaction_id": subject},
    ).with_extensions(
        {
            "knativeerrordest": PERSIST_URL,
            "knativeerrorcode": "400",
            "knativeerrordata": base64.b64encode(json.dumps(REFUSAL).encode()).decode(),
        }
    )
    return DeadLetter("sentinel.dlq", 0, offset, datetime.now(UTC).replace(microsecond=0) - age, event)


class Letters:
    """A dead-letter topic in memory, newest first."""

    def __init__(self, *letters: DeadLetter) -> None:
        self.letters = letters

    def newest(self, limit: int) -> DeadLetters:
        oldest = self.letters[-1].dead_lettered_at if self.letters else None
        return DeadLetters("sentinel.dlq", len(self.letters), self.letters[:limit], oldest)


def two_letters() -> Letters:
    """Dead-lettered 5 minutes and 2 hours before the test asks (ages are read as "ago")."""
    return Letters(
        a_dead_letter(7, "t-known", age=timedelta(minutes=5)),
        a_dead_letter(3, "t-unknown", age=timedelta(hours=2)),
    )


@pytest.fixture(scope="module")
def database_url(stack):
    return stack.fresh_database("ui_dead_letters")


@pytest.fixture
def db(database_url):
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("TRUNCATE transactions, alerts, labels")
        yield conn


def client_for(stack, database_url, letters: Letters):
    return logged_in_client(
        create_app(replace(stack.settings, database_url=database_url), dead_letters=letters), database_url
    )


def add_transaction(db, transaction_id: str) -> None:
    now = datetime.now(UTC)
    db.execute(
        "INSERT INTO transactions (client_id, transaction_id, user_id, amount, event_time, payload, risk_score,"
        " decision, model_version, thresholds, received_at, scored_at, persisted_at)"
        " VALUES ('demo', %s, 'u-1', 10, %s, %s, 0.1, 'approve', 'v0001', %s, %s, %s, %s)",
        (transaction_id, now, Jsonb({}), Jsonb({"review": 0.5, "block": 0.8}), now, now, now),
    )


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_each_dead_letter_shows_when_which_event_its_code_destination_and_error(stack, database_url, db):
    page = text(client_for(stack, database_url, two_letters()).get("/dead-letters"))
    row = page.split('data-id="7"')[1].split("</tr>")[0]
    assert "5 min ago" in row and "t-known" in row and "dev.sentinel.transaction.scored" in row
    assert "400" in row and PERSIST_URL in row
    assert "invalid score (risk_score: missing)" in row


def test_a_subject_the_ui_knows_links_to_its_transaction_and_any_other_does_not(stack, database_url, db):
    add_transaction(db, "t-known")
    page = text(client_for(stack, database_url, two_letters()).get("/dead-letters"))
    assert '<a class="mono" href="/transactions/t-known">t-known</a>' in page
    assert 'href="/transactions/t-unknown"' not in page


def test_the_api_lists_the_same_with_links_to_known_transactions(stack, database_url, db):
    add_transaction(db, "t-known")
    document = client_for(stack, database_url, two_letters()).get("/api/dead-letters").json
    assert document["count"] == 2
    known, unknown = document["dead_letters"]
    assert (known["id"], known["error"], known["transaction_url"]) == (
        "7",
        "invalid score (risk_score: missing)",
        "/api/transactions/t-known",
    )
    assert unknown["transaction_url"] is None


def test_the_overview_counts_the_dead_letters_and_says_how_old_the_newest_and_oldest_are(stack, database_url, db):
    add_transaction(db, "t-known")
    page = text(client_for(stack, database_url, two_letters()).get("/"))
    stat = page.split('id="dead-letter-stat"')[1].split("</a>")[0]
    assert '<span class="text-bad">2</span>' in stat
    assert "newest 5 min ago, oldest 2 h ago" in stat
    assert '<a class="stat card stat-link" href="/dead-letters" id="dead-letter-stat">' in page


def test_the_overview_shows_dead_letters_even_before_any_decision_is_stored(stack, database_url, db):
    page = text(client_for(stack, database_url, two_letters()).get("/"))
    assert "No decisions yet" in page
    assert 'id="dead-letter-stat"' in page


def test_the_overview_says_no_event_failed_when_there_are_no_dead_letters(stack, database_url, db):
    add_transaction(db, "t-known")
    page = text(client_for(stack, database_url, Letters()).get("/"))
    assert "no event failed its delivery" in page.split('id="dead-letter-stat"')[1]
