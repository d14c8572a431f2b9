"""persist: stores every scored decision in PostgreSQL, exactly once per transaction.

Only decisions score made are stored: a scored event must carry score's signature
and agree with itself and its model version (sentinel.serving.event_integrity), else
it is refused with a 4xx and dead-lettered, never stored.
KafkaSource delivers at least once, so a repeat is a no-op that still answers 200
(sentinel.stores.decisions keys the row on transaction_id). Concurrent requests
share transactions and so commits; each is answered only once its rows are committed.
Then the transactions leave the pipeline's backlog (sentinel.stores.backlog), which
ingest counts to decide whether to admit more; that step is advisory, so a Redis
that cannot take it never fails a stored decision.

Run by functions-framework: `functions-framework --target handle --source functions/persist/main.py`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from sentinel.codec.event import Event
from sentinel.config import Settings
from sentinel.core import events, score
from sentinel.core.api_keys import Caller
from sentinel.serving import metrics
from sentinel.serving.event_integrity import ScoredEvents, scored_keys
from sentinel.serving.function import Function, Reply
from sentinel.serving.http_handler import http_handler
from sentinel.stores import redis_client
from sentinel.stores.backlog import PipelineBacklog
from sentinel.stores.decisions import DecisionStore
from sentinel.stores.failures import Transient, classify
from sentinel.stores.model_thresholds import ModelThresholds

log = logging.getLogger(__name__)


class Backlog(Protocol):
    """See sentinel.stores.backlog."""

    def stored(self, transaction_ids: Sequence[str]) -> None: ...
    def close(self) -> None: ...


class Decisions(Protocol):
    def store(self, scores: Sequence[score.Score]) -> list[bool]: ...
    def close(self) -> None: ...


class Persist(Function):
    name = "persist"
    accepts = (events.TRANSACTION_SCORED,)

    def __init__(self, decisions: Decisions, scored: ScoredEvents, backlog: Backlog | None = None) -> None:
        """`scored` tells score's decisions from forgeries; `backlog` None when ingest admits
        without a bound (SENTINEL_INGEST_MAX_BACKLOG=0)."""
        self._decisions = decisions
        self._scored = scored
        self._backlog = backlog

    def stop(self) -> None:
        self._decisions.close()
        self._scored.close()
        if self._backlog:
            self._backlog.close()

    def ready(self) -> str | None:
        return self._scored.missing()

    def handle(self, received: Sequence[Event], caller: Caller | None = None) -> Reply:
        scores = [self._scored.trusted(event, self.data_of(event)) for event in received]
        inserted = self._decisions.store(scores) if scores else []
        self._leave_backlog([item["transaction_id"] for item in scores])
        stored = [item["transaction_id"] for item, new in zip(scores, inserted, strict=True) if new]
        duplicates = [item["transaction_id"] for item, new in zip(scores, inserted, strict=True) if not new]
        metrics.duplicates(self.name, len(duplicates))
        return Reply.of_document({"stored": stored, "duplicates": duplicates})

    def _leave_backlog(self, transaction_ids: list[str]) -> None:
        if not self._backlog:
            return
        try:
            self._backlog.stored(transaction_ids)
        except Exception as error:
            if not isinstance(classify(error), Transient):
                raise
            log.warning("stored, but not taken off the backlog (ingest counts it until it ages out): %s", error)


def new(settings: Settings) -> Persist:
    backlog = PipelineBacklog(redis_client.connect(settings.redis_url)) if settings.ingest_max_backlog else None
    scored = ScoredEvents(scored_keys(settings), ModelThresholds(settings.database_url))
    return Persist(DecisionStore.connect(settings.database_url), scored, backlog)


handle = http_handler(new)
