"""score: decides approve / review / block with the champion ONNX model.

Takes `dev.sentinel.transaction.received` from the KafkaSource (whose reply is
dropped) and `dev.sentinel.transaction.created` straight from a client that wants a
decision inline. Either way the decision is emitted to K_SINK for persist and alert,
and returned as the reply: one scored CloudEvent in binary mode, or a batch for a
batch. A promotion reaches a running process within about a second, without a failed
or unscored event (functions.score.champion).

Run by functions-framework: `functions-framework --target handle --source functions/score/main.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from functions.score.champion import Champion
from sentinel.codec.event import Event, json_event
from sentinel.config import Settings
from sentinel.core import events, score, transaction
from sentinel.core.decision import ThresholdOverrides, decide, thresholds_for
from sentinel.core.errors import Unavailable
from sentinel.core.model import OnnxModel
from sentinel.serving.function import Function, Reply
from sentinel.serving.http_handler import http_handler
from sentinel.serving.sink import Sink, SinkClient

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

    def __init__(
        self,
        models: Models,
        sink: Sink | None,
        *,
        overrides: ThresholdOverrides = NO_OVERRIDES,
        clock: Callable[[], str] = events.utc_now,
    ) -> None:
        self._models = models
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
        return None

    def handle(self, received: Sequence[Event]) -> Reply:
        items = []
        for event in received:
            stamped = ("received_at",) if event.type == events.TRANSACTION_RECEIVED else ()
            items.append(transaction.validate(self.data_of(event), extra_fields=stamped))
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
            scored_event(
                score.build(
                    item,
                    risk_score=float(risk),
                    decision=decide(float(risk), thresholds),
                    model_version=model.version,
                    thresholds=thresholds.to_json(),
                    received_at=item.get("received_at", now),
                    scored_at=now,
                )
            )
            for item, risk in zip(items, risks, strict=True)
        ]


def scored_event(decision: score.Score) -> Event:
    return json_event(events.transaction_attributes(events.TRANSACTION_SCORED, events.SCORE_SOURCE, decision), decision)


def new(settings: Settings) -> Score:
    return Score(
        Champion.connect(settings.database_url),
        SinkClient(settings.k_sink) if settings.k_sink else None,
        overrides=ThresholdOverrides(settings.review_threshold, settings.block_threshold),
    )


handle = http_handler(new)
