"""The Dead letters page without a database or a broker: what it says when it has nothing to show.

The app points at a PostgreSQL where nothing listens; the pages with rows, the links
to transactions and the overview's count are in tests/integration/test_ui_dead_letters.py.
"""

from __future__ import annotations

import html
from dataclasses import replace

import pytest
from ui_login import FakeAccounts, fake_login

from eventing.dead_letters import DeadLetters
from sentinel.config import Settings
from ui import create_app
from ui.dead_letters import NOWHERE_TO_READ

NOWHERE = "postgresql://nobody@127.0.0.1:9/nothing"


class EmptyTopic:
    def __init__(self) -> None:
        self.limits: list[int] = []

    def newest(self, limit: int) -> DeadLetters:
        self.limits.append(limit)
        return DeadLetters("sentinel.dlq", 0, (), None)


class BrokerDown:
    def newest(self, limit: int) -> DeadLetters:
        raise ConnectionError("cannot read the Kafka broker at 127.0.0.1:9: Connection refused")


def client_with(tmp_path, dead_letters=None):
    settings = replace(Settings.from_env(), database_url=NOWHERE, state_dir=tmp_path)
    accounts = FakeAccounts()
    return fake_login(create_app(settings, dead_letters=dead_letters, accounts=accounts), accounts)


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_without_a_source_the_page_says_where_dead_letters_can_be_read(tmp_path):
    response = client_with(tmp_path).get("/dead-letters")
    assert response.status_code == 200
    assert NOWHERE_TO_READ in text_of(response)


def test_without_a_source_the_api_answers_503_saying_where_to_read_them(tmp_path):
    response = client_with(tmp_path).get("/api/dead-letters")
    assert response.status_code == 503
    assert response.json == {"status": 503, "error": NOWHERE_TO_READ}


def test_a_broker_that_cannot_be_read_is_named_on_the_page_not_a_traceback(tmp_path):
    response = client_with(tmp_path, BrokerDown()).get("/dead-letters")
    assert response.status_code == 200
    assert "The dead letters could not be read." in text_of(response)
    assert "cannot read the Kafka broker at 127.0.0.1:9" in text_of(response)


def test_a_broker_that_cannot_be_read_is_a_503_from_the_api(tmp_path):
    response = client_with(tmp_path, BrokerDown()).get("/api/dead-letters")
    assert response.status_code == 503
    assert "Connection refused" in response.json["error"]


def test_an_empty_topic_says_there_are_no_dead_letters(tmp_path):
    response = client_with(tmp_path, EmptyTopic()).get("/dead-letters")
    assert 'id="dead-letters-empty"' in text_of(response)


def test_the_api_of_an_empty_topic_counts_zero(tmp_path):
    response = client_with(tmp_path, EmptyTopic()).get("/api/dead-letters")
    assert response.json == {
        "topic": "sentinel.dlq",
        "count": 0,
        "newest_at": None,
        "oldest_at": None,
        "dead_letters": [],
    }


def test_the_page_reads_the_newest_fifty_unless_told_otherwise(tmp_path):
    source = EmptyTopic()
    client = client_with(tmp_path, source)
    client.get("/dead-letters")
    client.get("/api/dead-letters?limit=200")
    assert source.limits == [50, 200]


@pytest.mark.parametrize("path", ["/dead-letters", "/api/dead-letters"])
@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("limit=0", "limit must be a whole number from 1 to 200"),
        ("limit=201", "limit must be a whole number from 1 to 200"),
        ("limit=all", "limit must be a whole number from 1 to 200"),
        ("topic=sentinel.dlq", "unknown parameter 'topic'"),
    ],
)
def test_a_bad_parameter_is_a_400_that_says_why(tmp_path, path, query, reason):
    response = client_with(tmp_path, EmptyTopic()).get(f"{path}?{query}")
    assert response.status_code == 400
    assert reason in text_of(response)


def test_the_navigation_leads_to_the_dead_letters(tmp_path):
    page = text_of(client_with(tmp_path, EmptyTopic()).get("/dead-letters"))
    assert '<a href="/dead-letters" aria-current="page">Dead letters</a>' in page
