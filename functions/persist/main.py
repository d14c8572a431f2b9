"""persist: stores every scored decision in PostgreSQL, exactly once per transaction.

KafkaSource delivers at least once, so a repeat is a no-op that still answers 200
(sentinel.stores.decisions keys the row on transaction_id). Concurrent requests
share transactions and so commits; each is answered only once its rows are committed.
Then the newest stored `received_at` is published for ingest's admission
(functions/persist/stored_mark.py).

Run by functions-framework: `functions-framework --target handle --source functions/persist/main.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from functions.persist.stored_mark import StoredMark
from sentinel.codec.event import Event
from sentinel.config import Settings
from sentinel.core import events, score
from sentinel.serving.function import Function, Reply
from sentinel.serving.http_handler import http_handler
from sentinel.stores import redis_client
from sentinel.stores.decisions import DecisionStore
from sentinel.stores.progress import Progress


class Decisions(Protocol):
    def store(self, scores: Sequence[score.Score]) -> list[bool]: ...
    def close(self) -> None: ...


class Persist(Function):
    name = "persist"
    accepts = (events.TRANSACTION_SCORED,)

    def __init__(self, decisions: Decisions, stored_mark: StoredMark | None = None) -> None:
        """`stored_mark` None publishes no progress (ingest then admits without a bound)."""
        self._decisions = decisions
        self._stored_mark = stored_mark

    def stop(self) -> None:
        self._decisions.close()
        if self._stored_mark:
            self._stored_mark.close()

    def handle(self, received: Sequence[Event]) -> Reply:
        scores = [score.parse(self.data_of(event)) for event in received]
        inserted = self._decisions.store(scores) if scores else []
        if self._stored_mark and scores:
            self._stored_mark.stored(max(datetime.fromisoformat(item["received_at"]).timestamp() for item in scores))
        stored = [item["transaction_id"] for item, new in zip(scores, inserted, strict=True) if new]
        duplicates = [item["transaction_id"] for item, new in zip(scores, inserted, strict=True) if not new]
        return Reply.of_document({"stored": stored, "duplicates": duplicates})


def new(settings: Settings) -> Persist:
    publishes = settings.ingest_max_backlog > 0
    stored_mark = StoredMark(Progress(redis_client.connect(settings.redis_url))) if publishes else None
    return Persist(DecisionStore.connect(settings.database_url), stored_mark)


handle = http_handler(new)
