"""score: decides approve / review / block with the champion ONNX model.

Takes `dev.sentinel.transaction.received` from the KafkaSource (whose reply is
dropped) and `dev.sentinel.transaction.created` straight from a client that wants a
decision inline. Either way the decision is emitted to K_SINK for persist and alert,
and returned as the reply: one scored CloudEvent in binary mode, or a batch for a
batch. A client asking for a decision inline needs an API key with the score scope.
A received event must carry ingest's signature unless its sender holds a score key
(403 otherwise: dead-lettered), and every decision is signed for persist and alert
(sentinel.serving.event_integrity).
A promotion reaches a running process within about a second, without a failed
or unscored event (functions.score.champion).

Run by functions-framework: `functions-framework --target handle --source functions/score/main.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from functions.score.champion import Champion
from sentinel.codec.event import Event
from sentinel.config import Settings
from sentinel.core import events, score, transaction
from sentinel.core.api_keys import SCORE, Caller
from sentinel.core.decision import ThresholdOverrides, decide, thresholds_for
from sentinel.core.errors import Unavailable
from sentinel.core.integrity import SigningKeys
from sentinel.core.model import OnnxModel
from sentinel.serving.callers import Limits, must_hold, required
from sentinel.serving.event_integrity import received_keys, require_signature, scored_keys, signed_json_event
from sentinel.serving.function import Function, Reply
from sentinel.serving.http_handler import http_handler
from sentinel.serving.sink import Sink, SinkClient
from sentinel.stores import redis_client
from sentinel.stores.rate_limits import RateLimits

NO_OVERRIDES = ThresholdOverrides()


class Models(Protocol):
    """Where the model to score with comes from: the registry's champion, followed as it changes."""

    missing_reason: str

    def current(self) -> OnnxModel | None: ...
    def start(self) -> None: ...
    def stop(self) -> None: ...


class Score(Function):
    name = "score"
    accepts = (events.TRANSACTION_RECEIVED, events.TRANSACTION_CREATED)
    identifies_callers = True

    def __init__(
        self,
        models: Models,
        sink: Sink | None,
        *,
        overrides: ThresholdOverrides = NO_OVERRIDES,
        limits: Limits | None = None,
        received_keys: SigningKeys,
        scored_keys: SigningKeys,
        clock: Callable[[], str] = events.utc_now,
    ) -> None:
        """`received_keys` verify what ingest sent; `scored_keys` sign the decisions."""
        self._models = models
        self._limits = limits
        self._received_keys = received_keys
        self._scored_keys = scored_keys
        self._sink = sink
        self._overrides = overrides
        self._clock = clock

    def start(self) -> None:
        self._models.start()

    def stop(self) -> None:
        self._models.stop()
        if self._sink:
            self._sink.close()

    def ready(self) -> str | None:
        if self._sink is None:
            return "K_SINK is not set: score has nowhere to emit decisions"
        if self._models.current() is None:
            return self._models.missing_reason
        return self._received_keys.missing() or self._scored_keys.missing()

    def admit(self, caller: Caller | None) -> None:
        """A key, when one is sent, must hold the score scope, and is held to its rate."""
        if caller is not None:
            must_hold(caller, SCORE)
            if self._limits:
                self._limits.check(caller, self.name)

    def handle(self, received: Sequence[Event], caller: Caller | None = None) -> Reply:
        if any(event.type == events.TRANSACTION_CREATED for event in received):
            required(caller, SCORE)  # a decision inline is for holders of a score key only
        items = []
        for event in received:
            data = self.data_of(event)
            stamped: tuple[str, ...] = ()
            if event.type == events.TRANSACTION_RECEIVED:
                stamped = ("received_at",)
                if caller is None or not caller.may(SCORE):  # only ingest, or a score key holder, sends these
                    require_signature(event, data, self._received_keys)
            items.append(transaction.validate(data, extra_fields=stamped))
        # One model for the whole request: a promotion meanwhile affects only later requests.
        model = self._models.current()
        if model is None:
            raise Unavailable(self._models.missing_reason)
        if self._sink is None:
            raise Unavailable("score is not bound to a sink: K_SINK is not set")
        scored = self._decide(items, model) if items else []
        for event in scored:
            self._sink.emit(event)
        return Reply.of_events(scored)

    def _decide(self, items: list[transaction.Transaction], model: OnnxModel) -> list[Event]:
        risks = model.predict(np.array([model.features_of(item) for item in items], dtype=np.float32))
        thresholds = thresholds_for(model.record.thresholds, self._overrides)
        now = self._clock()
        return [
            signed_scored_event(
                score.build(
                    item,
                    risk_score=float(risk),
                    decision=decide(float(risk), thresholds),
                    model_version=model.version,
                    thresholds=thresholds.to_json(),
                    received_at=item.get("received_at", now),
                    scored_at=now,
                    threshold_overrides=self._overrides.to_json(),
                ),
                self._scored_keys,
            )
            for item, risk in zip(items, risks, strict=True)
        ]


def signed_scored_event(decision: score.Score, keys: SigningKeys) -> Event:
    """The decision as persist and alert take it, signed with the scored key so they know score made it."""
    attributes = events.transaction_attributes(events.TRANSACTION_SCORED, events.SCORE_SOURCE, decision)
    return signed_json_event(attributes, decision, keys)


def new(settings: Settings) -> Score:
    return Score(
        Champion.connect(settings.database_url),
        SinkClient(settings.k_sink) if settings.k_sink else None,
        overrides=ThresholdOverrides(settings.review_threshold, settings.block_threshold),
        limits=RateLimits(redis_client.connect(settings.redis_url), settings.key_rate_per_s),
        received_keys=received_keys(settings),
        scored_keys=scored_keys(settings),
    )


handle = http_handler(new)
