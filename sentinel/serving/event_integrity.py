"""Signing the events a function emits, and refusing those the next hop cannot trust.

Ingest signs `transaction.received` with the received key, which only ingest and
score hold; score signs `transaction.scored` with the scored key, which only score,
persist and alert hold (sentinel.core.integrity has the scheme). A missing key is a
misconfiguration that a restart with the key fixes: 503, so the dispatcher retries
and nothing is dead-lettered for it. A missing or wrong signature can never become
right: 403, dead-lettered.
"""

from __future__ import annotations

from typing import Any, Protocol

from sentinel.codec.event import Event, json_event
from sentinel.config import RECEIVED_SIGNING_KEY, SCORED_SIGNING_KEY, Settings
from sentinel.core import consistency, score
from sentinel.core.errors import ClientError, Problem, Unavailable
from sentinel.core.integrity import ATTRIBUTE, SigningKeys
from sentinel.serving import tracing

FORBIDDEN = 403


def received_keys(settings: Settings) -> SigningKeys:
    """The keys of received events: ingest signs with them, score verifies."""
    return SigningKeys(RECEIVED_SIGNING_KEY, settings.received_signing_key, settings.received_signing_key_previous)


def scored_keys(settings: Settings) -> SigningKeys:
    """The keys of scored events: score signs with them, persist and alert verify."""
    return SigningKeys(SCORED_SIGNING_KEY, settings.scored_signing_key, settings.scored_signing_key_previous)


def signed_json_event(attributes: dict[str, str], document: Any, keys: SigningKeys) -> Event:
    """A CloudEvent carrying `document` as JSON data, signed with the current key of `keys`, in the current
    trace (sentinel.serving.tracing; the signature does not cover the trace context, which is not evidence)."""
    if keys.missing():
        raise Unavailable(keys.missing() or "")
    event = json_event(attributes, document)
    return tracing.stamped(event.with_extensions({ATTRIBUTE: keys.sign(event.attributes, document)}))


def require_signature(event: Event, data: Any, keys: SigningKeys) -> None:
    """Refuse `event` (whose JSON data is `data`) unless one of `keys` signed it."""
    reason = keys.missing()
    if reason:
        raise Unavailable(reason)
    if not keys.verifies(event.attributes.get(ATTRIBUTE), event.attributes, data):
        problem = "missing" if ATTRIBUTE not in event.attributes else "does not match the event"
        raise ClientError(
            f"event {event.id} is not signed by its producer: the {ATTRIBUTE} signature is {problem}",
            status=FORBIDDEN,
            problems=[Problem(ATTRIBUTE, problem)],
        )


class ModelRegistry(Protocol):
    """See sentinel.stores.model_thresholds."""

    def thresholds(self, version: str) -> dict[str, float] | None: ...
    def close(self) -> None: ...


class ScoredEvents:
    """What persist and alert accept as a decision: well formed, signed by score, and consistent."""

    def __init__(self, keys: SigningKeys, models: ModelRegistry) -> None:
        self._keys = keys
        self._models = models

    def missing(self) -> str | None:
        return self._keys.missing()

    def close(self) -> None:
        self._models.close()

    def trusted(self, event: Event, data: Any) -> score.Score:
        """The decision in `event` (its JSON data `data`); 400 when malformed or inconsistent, 403 when unsigned."""
        decision = score.parse(data)
        require_signature(event, data, self._keys)
        model_thresholds = self._models.thresholds(decision["model_version"])
        if model_thresholds is None:
            raise ClientError(
                f"model version {decision['model_version']} is not in the registry",
                problems=[Problem("model_version", "unknown")],
            )
        problems = consistency.problems(
            decision,
            event_id=event.id,
            subject=event.subject,
            source=event.source,
            model_thresholds=model_thresholds,
        )
        if problems:
            raise ClientError(f"scored event {event.id} is inconsistent", problems=problems)
        return decision
