"""In-memory stand-ins for what the functions are given (sink, claims, stores, webhook,
models), and the events the tests hand them.

Each behaves as the real one promises (sentinel.stores, sentinel.serving): the claims
and the stores are keyed on transaction_id, exactly as the real ones are, so the
functions' idempotence can be checked without a database. The real ones are tested
against real PostgreSQL and Redis in tests/integration.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import redis

from functions.score.main import signed_scored_event
from functions.score.setup import Setup
from sentinel.codec.event import Event, json_event
from sentinel.config import RECEIVED_SIGNING_KEY, SCORED_SIGNING_KEY
from sentinel.core import behaviour, events, score
from sentinel.core.api_keys import Caller
from sentinel.core.integrity import SigningKeys
from sentinel.core.rules import Rule, Ruleset
from sentinel.core.transaction import FEATURE_NAMES
from sentinel.serving.event_integrity import ScoredEvents, signed_json_event
from sentinel.stores.dedup import Claim, Outcome
from sentinel.stores.inline_decisions import Remembered

NOW = "2026-12-01T12:00:00.000000+00:00"

# Keys of the in-memory functions only. They are fixed, not generated, because the fuzz
# corpus (tests/fuzz/corpus) holds requests signed with the scored one.
RECEIVED_KEYS = SigningKeys(RECEIVED_SIGNING_KEY, "in-memory tests: received events")
SCORED_KEYS = SigningKeys(SCORED_SIGNING_KEY, "in-memory tests: scored events")
# The registry's models and their own thresholds.
MODEL_THRESHOLDS = {"v0003": {"review": 0.5, "block": 0.9}, "v0007": {"review": 0.5, "block": 0.9}}
# A risk score each decision follows from under those thresholds.
RISK_OF = {"approve": 0.1, "review": 0.6, "block": 0.95}
CLIENT = Caller("a-client", frozenset({"ingest", "score", "read"}))  # a key with every scope


def created(transaction: dict[str, Any], event_id: str = "e-1", event_type: str = events.TRANSACTION_CREATED) -> Event:
    """A client's event about `transaction` (of another type, to test refusals)."""
    return json_event({"type": event_type, "source": "/tests", "id": event_id}, transaction)


def received(transaction: dict[str, Any], keys: SigningKeys = RECEIVED_KEYS) -> Event:
    """The event ingest emits for CLIENT's `transaction`, signed with `keys`."""
    data = {**transaction, "received_at": NOW, "client_id": CLIENT.client_id}
    return signed_json_event(
        events.transaction_attributes(events.TRANSACTION_RECEIVED, events.INGEST_SOURCE, data), data, keys
    )


def scored(
    transaction: dict[str, Any],
    decision: str = "approve",
    risk_score: float | None = None,
    keys: SigningKeys = SCORED_KEYS,
) -> Event:
    """The event score emits for `transaction` decided as `decision`, signed with `keys`."""
    return signed_scored_event(
        score.build(
            {**transaction, "client_id": CLIENT.client_id},
            risk_score=RISK_OF[decision] if risk_score is None else risk_score,
            decision=decision,
            model_version="v0003",
            thresholds={"review": 0.5, "block": 0.9},
            received_at=NOW,
            scored_at=NOW,
        ),
        keys,
    )


@dataclass
class MemoryRegistry:
    """The model registry's thresholds per version (sentinel.stores.model_thresholds)."""

    models: dict[str, dict[str, float]] = field(default_factory=lambda: dict(MODEL_THRESHOLDS))
    closed: bool = False

    def thresholds(self, version: str) -> dict[str, float] | None:
        return self.models.get(version)

    def close(self) -> None:
        self.closed = True


def scored_events(keys: SigningKeys = SCORED_KEYS) -> ScoredEvents:
    """What persist and alert accept as decisions, checked with `keys` against the in-memory registry."""
    return ScoredEvents(keys, MemoryRegistry())


@dataclass
class MemorySink:
    """K_SINK: keeps what was emitted, or fails with `failure` while one is set."""

    events: list[Event] = field(default_factory=list)
    failure: Exception | None = None
    closed: bool = False

    def emit(self, event: Event) -> None:
        if self.failure is not None:
            raise self.failure
        self.events.append(event)

    def close(self) -> None:
        self.closed = True


@dataclass
class MemoryClaims:
    """De-duplication: claimed, then confirmed as emitted or released (sentinel.stores.dedup).

    `emitted` holds each confirmed (client, transaction id) with its payload's fingerprint."""

    emitted: dict[tuple[str, str], str] = field(default_factory=dict)
    pending: dict[tuple[str, str], str] = field(default_factory=dict)
    closed: bool = False

    def claim(self, client_id: str, transaction_id: str, fingerprint: str) -> Claim:
        key = (client_id, transaction_id)
        if key in self.emitted:
            same = self.emitted[key] == fingerprint
            return Claim(client_id, transaction_id, fingerprint, Outcome.DUPLICATE if same else Outcome.CONFLICT)
        if key in self.pending:
            return Claim(client_id, transaction_id, fingerprint, Outcome.IN_FLIGHT)
        self.pending[key] = token = uuid.uuid4().hex
        return Claim(client_id, transaction_id, fingerprint, Outcome.NEW, token)

    def confirm(self, claim: Claim) -> None:
        key = (claim.client_id, claim.transaction_id)
        if self.pending.get(key) == claim.token:
            del self.pending[key]
            self.emitted[key] = claim.fingerprint

    def release(self, claim: Claim) -> None:
        key = (claim.client_id, claim.transaction_id)
        if self.pending.get(key) == claim.token:
            del self.pending[key]

    def close(self) -> None:
        self.closed = True


@dataclass
class MemoryDecisions:
    """The `transactions` table: one row per transaction_id."""

    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    closed: bool = False

    def store(self, scores: Sequence[dict[str, Any]]) -> list[bool]:
        inserted = []
        for decision in scores:
            inserted.append(decision["transaction_id"] not in self.rows)
            self.rows.setdefault(decision["transaction_id"], decision)
        return inserted

    def close(self) -> None:
        self.closed = True


@dataclass
class MemoryAlerts:
    """The `alerts` table: one row per transaction_id, and whether the webhook took it."""

    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    webhook_taken: set[tuple[str, str]] = field(default_factory=set)
    closed: bool = False

    def add(self, alert: dict[str, Any]) -> bool:
        created = alert["transaction_id"] not in self.rows
        self.rows.setdefault(alert["transaction_id"], alert)
        return created

    def webhook_delivered(self, client_id: str, transaction_id: str) -> bool:
        return (client_id, transaction_id) in self.webhook_taken

    def mark_webhook_delivered(self, client_id: str, transaction_id: str) -> None:
        self.webhook_taken.add((client_id, transaction_id))

    def close(self) -> None:
        self.closed = True


@dataclass
class MemoryStream:
    """The Redis alerts stream: each transaction appears once, however often it is published."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    closed: bool = False

    def publish(self, alert: dict[str, Any]) -> None:
        if all(entry["transaction_id"] != alert["transaction_id"] for entry in self.entries):
            self.entries.append(alert)

    def close(self) -> None:
        self.closed = True


@dataclass
class MemoryWebhook:
    """The operator's webhook: records each POST, or fails with `failure` while one is set."""

    posted: list[Any] = field(default_factory=list)
    failure: Exception | None = None
    closed: bool = False

    def post(self, document: Any) -> None:
        if self.failure is not None:
            raise self.failure
        self.posted.append(document)

    def close(self) -> None:
        self.closed = True


@dataclass(frozen=True)
class ModelRecordStub:
    thresholds: dict[str, float]


class AmountModel:
    """A model whose fraud probability is the amount in thousands (capped at 1): easy to steer."""

    def __init__(self, version: str = "v0007", thresholds: dict[str, float] | None = None) -> None:
        self.version = version
        self.record = ModelRecordStub(thresholds or {"review": 0.5, "block": 0.9})
        self.calls: list[int] = []

    def features_of(self, transaction: dict[str, Any], behavioural: Sequence[float] = ()) -> list[float]:
        return [transaction[name] for name in FEATURE_NAMES]

    def reasons(self, row: Sequence[float]) -> list[str]:
        return [f"amount {row[FEATURE_NAMES.index('Amount')]:g}"]

    def predict(self, features: np.ndarray) -> np.ndarray:
        self.calls.append(len(features))
        return np.minimum(features[:, FEATURE_NAMES.index("Amount")] / 1000.0, 1.0).astype(np.float64)


@dataclass
class MemoryHistories:
    """Each user's history (sentinel.stores.behaviour), in memory, by the same definitions."""

    histories: dict[tuple[str, str], behaviour.History] = field(default_factory=dict)

    def observe(self, observed: Sequence[tuple[tuple[str, str], behaviour.Observation]]) -> list[list[float]]:
        return [
            behaviour.observe(self.histories.setdefault(user, behaviour.new_history()), seen) for user, seen in observed
        ]

    def close(self) -> None:
        pass


@dataclass
class MemoryModels:
    """The setup source: the champion, the rules and a challenger in shadow, or none with the reason why."""

    model: AmountModel | None = field(default_factory=AmountModel)
    rules: Sequence[Rule] = ()
    challenger: AmountModel | None = None
    missing_reason: str = "the model registry holds no champion yet"
    started: bool = False
    stopped: bool = False

    def current(self) -> Setup | None:
        if self.model is None:
            return None
        return Setup(self.model, Ruleset.of(self.rules), self.challenger)  # type: ignore[arg-type]

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        self.stopped = True


@dataclass
class MemoryBacklog:
    """The pipeline's backlog (sentinel.stores.backlog), in memory; `down` makes it fail as Redis would."""

    admitted_at: dict[str, float] = field(default_factory=dict)
    down: bool = False
    reads: int = 0

    def admitted(self, transaction_ids: Sequence[str], received_at: float) -> None:
        self.admitted_at.update(dict.fromkeys(transaction_ids, received_at))

    def stored(self, transaction_ids: Sequence[str]) -> None:
        if self.down:
            raise redis.ConnectionError("Redis is down")
        for transaction_id in transaction_ids:
            self.admitted_at.pop(transaction_id, None)

    def size(self, now: float) -> int:
        if self.down:
            raise redis.ConnectionError("Redis is down")
        self.reads += 1
        return len(self.admitted_at)

    def close(self) -> None:
        pass


@dataclass
class MemoryInlineDecisions:
    """The decisions score gave inline, by (client, transaction id): see sentinel.stores.inline_decisions."""

    kept: dict[tuple[str, str], Remembered] = field(default_factory=dict)
    closed: bool = False

    def keep_first(self, client_id: str, transaction_id: str, kept: Remembered) -> Remembered | None:
        first = self.kept.get((client_id, transaction_id))
        if first is None:
            self.kept[(client_id, transaction_id)] = kept
        return first

    def forget(self, client_id: str, transaction_id: str, kept: Remembered) -> None:
        if self.kept.get((client_id, transaction_id)) == kept:
            del self.kept[(client_id, transaction_id)]

    def close(self) -> None:
        self.closed = True
