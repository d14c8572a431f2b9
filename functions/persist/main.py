"""persist: stores every scored decision in PostgreSQL, exactly once per transaction.

KafkaSource delivers at least once, so a repeat is a no-op that still answers 200
(sentinel.stores.decisions keys the row on transaction_id). Concurrent requests
share transactions and so commits; each is answered only once its rows are committed.

Run by functions-framework: `functions-framework --target handle --source functions/persist/main.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sentinel.codec.event import Event
from sentinel.config import Settings
from sentinel.core import events, score
from sentinel.serving.function import Function, Reply
from sentinel.serving.http_handler import http_handler
from sentinel.stores.decisions import DecisionStore


class Decisions(Protocol):
    def store(self, scores: Sequence[score.Score]) -> list[bool]: ...
    def close(self) -> None: ...


class Persist(Function):
    name = "persist"
    accepts = (events.TRANSACTION_SCORED,)

    def __init__(self, decisions: Decisions) -> None:
        self._decisions = decisions

    def stop(self) -> None:
        self._decisions.close()

    def handle(self, received: Sequence[Event]) -> Reply:
        scores = [score.parse(self.data_of(event)) for event in received]
        inserted = self._decisions.store(scores) if scores else []
        stored = [item["transaction_id"] for item, new in zip(scores, inserted, strict=True) if new]
        duplicates = [item["transaction_id"] for item, new in zip(scores, inserted, strict=True) if not new]
        return Reply.of_document({"stored": stored, "duplicates": duplicates})


def new(settings: Settings) -> Persist:
    return Persist(DecisionStore.connect(settings.database_url))


handle = http_handler(new)
