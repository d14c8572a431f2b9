"""score: decides approve / review / block with the champion ONNX model.

Takes `dev.sentinel.transaction.received` from the KafkaSource (whose reply is
dropped) and `dev.sentinel.transaction.created` straight from a client that
wants a decision inline. Either way the decision is emitted to K_SINK for
persist and alert, and returned as the HTTP reply: one scored CloudEvent in
binary mode, or a batch for a batch. A promotion reaches a running process within
about a second, without a failed or unscored event (sentinel.champion).
"""

from __future__ import annotations

import flask
import numpy as np

from sentinel import db, decision, events, transaction, wire
from sentinel.champion import Champion
from sentinel.config import Settings
from sentinel.errors import Unavailable
from sentinel.runtime import Function
from sentinel.scoring import decide, thresholds_for
from sentinel.sink import SinkClient

ACCEPTED_TYPES = (events.TRANSACTION_RECEIVED, events.TRANSACTION_CREATED)


class Score(Function):
    name = "score"

    def start(self, settings: Settings) -> None:
        self.settings = settings
        self.pool = db.create_pool(settings.database_url, max_size=2, name="score")
        self.champion = Champion(self.pool)
        self.champion.start_watching()
        self.sink = SinkClient(settings.k_sink) if settings.k_sink else None

    def stop(self) -> None:
        self.champion.stop()
        if self.sink:
            self.sink.close()
        self.pool.close()

    def ready(self) -> str | None:
        if self.sink is None:
            return "K_SINK is not set: score has nowhere to emit decisions"
        if self.champion.current() is None:
            return self.champion.missing_reason
        return None

    def handle(self, request: flask.Request) -> flask.Response:
        received = wire.read_events(request, self.settings.max_body_bytes)
        items = []
        for event in received:
            wire.check_type(event, ACCEPTED_TYPES, "score")
            stamped = ("received_at",) if event["type"] == events.TRANSACTION_RECEIVED else ()
            items.append(transaction.validate(wire.event_data(event), extra_fields=stamped))
        # One model for the whole request: a promotion meanwhile affects only later requests.
        model = self.champion.current()
        if model is None:
            raise Unavailable(self.champion.missing_reason)
        if self.sink is None:
            raise Unavailable("score is not bound to a sink: K_SINK is not set")
        risks = model.predict(np.array([model.features_of(item) for item in items], dtype=np.float32))
        thresholds = thresholds_for(model.record.thresholds, self.settings)
        now = events.utc_now()
        scored = [
            events.scored_event(
                decision.build(
                    item,
                    risk_score=float(risk),
                    decision=decide(float(risk), thresholds),
                    model_version=model.record.version,
                    thresholds=thresholds.to_json(),
                    received_at=item.get("received_at", now),
                    scored_at=now,
                )
            )
            for item, risk in zip(items, risks, strict=True)
        ]
        if len(scored) > 1:
            for event in scored:
                self.sink.emit(event)
            return wire.batch_response(scored)
        encoded = wire.to_binary(scored[0])  # once, for the emit and the reply
        self.sink.emit_encoded(encoded, scored[0]["id"])
        return wire.encoded_response(encoded)
