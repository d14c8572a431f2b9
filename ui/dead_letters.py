"""Dead letters: the events a KafkaSource could not deliver, newest first, and why each failed.

The UI does not read Kafka itself (it sits below the eventing layer): whoever serves it
hands `create_app` a DeadLetterSource. The local stack hands it the reader of its
dead-letter topic (eventing.dead_letters, through sentinel.stack.ui), which reads only
the newest records, under a short time limit, at every page load. Given none, the page
says where dead letters can be read instead.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import psycopg
import psycopg_pool
from flask import Blueprint, Flask, current_app, jsonify, render_template, request, url_for
from werkzeug.exceptions import ServiceUnavailable
from werkzeug.wrappers import Response

from ui.database import fetch_all
from ui.errors import answer
from ui.params import ID_PATTERN, Arguments

log = logging.getLogger(__name__)

blueprint = Blueprint("dead_letters", __name__)

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
NOWHERE_TO_READ = (
    "This UI was started without a way to read dead letters. `sentinel up` serves it with the local stack's"
    " reader of the dead-letter topic; anywhere else, `sentinel dlq list` reads them from the broker"
    " KAFKA_BOOTSTRAP_SERVERS names."
)


class DeadLetter(Protocol):
    """One dead letter, as a row shows it."""

    @property
    def id(self) -> str: ...
    @property
    def dead_lettered_at(self) -> datetime | None: ...
    @property
    def event_id(self) -> str: ...
    @property
    def event_type(self) -> str: ...
    @property
    def subject(self) -> str | None: ...
    @property
    def error_code(self) -> int | None: ...
    @property
    def destination(self) -> str | None: ...
    @property
    def error(self) -> str | None:
        """What went wrong, on one line: the destination's answer, decoded."""
        ...

    def to_json(self) -> dict[str, Any]: ...


class DeadLetters(Protocol):
    """The newest dead letters of a topic, newest first, and how many it holds."""

    @property
    def topic(self) -> str: ...
    @property
    def count(self) -> int: ...
    @property
    def letters(self) -> Sequence[DeadLetter]: ...
    @property
    def newest_at(self) -> datetime | None: ...
    @property
    def oldest_at(self) -> datetime | None: ...


class DeadLetterSource(Protocol):
    """Where dead letters are read: the local stack's broker, or any other."""

    def newest(self, limit: int) -> DeadLetters:
        """The newest `limit`; raises, with a message for people, when they cannot be read."""
        ...


class NowhereToRead(Exception):
    """This UI has no DeadLetterSource."""


class NoDeadLetterSource:
    """For a UI started without one: it says where dead letters can be read."""

    def newest(self, limit: int) -> DeadLetters:
        raise NowhereToRead(NOWHERE_TO_READ)


@dataclass(frozen=True)
class Reading:
    """What a page shows of the dead letters: them, or why they could not be read."""

    letters: Sequence[DeadLetter] = ()
    topic: str | None = None
    count: int | None = None
    newest_at: datetime | None = None
    oldest_at: datetime | None = None
    problem: str | None = None
    known_transactions: frozenset[str] = field(default_factory=frozenset)

    def to_json(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "count": self.count,
            "newest_at": self.newest_at,
            "oldest_at": self.oldest_at,
            "dead_letters": [self._row(letter) for letter in self.letters],
        }

    def transaction_of(self, letter: DeadLetter) -> str | None:
        """The transaction id the letter is about, when the UI knows it. A letter does not say
        which client sent it, so its link names the id alone (/transactions/<id> resolves it)."""
        return letter.subject if letter.subject in self.known_transactions else None

    def _row(self, letter: DeadLetter) -> dict[str, Any]:
        transaction = self.transaction_of(letter)
        link = url_for("transactions.api_by_id", transaction_id=transaction) if transaction else None
        return {**letter.to_json(), "transaction_url": link}


def init_app(app: Flask, source: DeadLetterSource) -> None:
    app.extensions["sentinel.dead_letters"] = source


def read(limit: int, *, link_transactions: bool = True) -> Reading:
    """The newest `limit` dead letters, or, when they cannot be read, why not."""
    source: DeadLetterSource = current_app.extensions["sentinel.dead_letters"]
    try:
        found = source.newest(limit)
    except NowhereToRead as error:
        return Reading(problem=str(error))
    except Exception as error:  # the broker's trouble is the page's message, not its failure
        log.warning("dead letters could not be read: %s", error)
        return Reading(problem=str(error) or type(error).__name__)
    known = _known_transactions(found.letters) if link_transactions else frozenset()
    return Reading(found.letters, found.topic, found.count, found.newest_at, found.oldest_at, None, known)


def _known_transactions(letters: Sequence[DeadLetter]) -> frozenset[str]:
    """The letters' subjects that are stored transactions; none when PostgreSQL does not answer,
    since the dead letters are worth seeing without their links."""
    subjects = sorted({letter.subject for letter in letters if letter.subject and ID_PATTERN.fullmatch(letter.subject)})
    if not subjects:
        return frozenset()
    try:
        rows = fetch_all("SELECT transaction_id FROM transactions WHERE transaction_id = ANY(%s)", (subjects,))
    except (psycopg.Error, psycopg_pool.PoolTimeout) as error:
        log.warning("dead letters shown without links to their transactions: %s", error)
        return frozenset()
    return frozenset(row["transaction_id"] for row in rows)


def _limit() -> int:
    return Arguments(request.args, ("limit",)).integer("limit", low=1, high=MAX_LIMIT, default=DEFAULT_LIMIT)


@blueprint.get("/dead-letters")
def index() -> str:
    limit = _limit()
    return render_template("dead_letters/list.html", reading=read(limit), limit=limit)


@blueprint.get("/api/dead-letters")
def api() -> Response:
    reading = read(_limit())
    if reading.problem is not None:
        return answer(ServiceUnavailable(reading.problem))
    return jsonify(reading.to_json())
