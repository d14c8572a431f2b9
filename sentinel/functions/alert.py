"""alert: turns every review or block decision into one alert.

Approvals are acknowledged and ignored. See sentinel.alerts for how each
effect stays exactly-once under at-least-once delivery.
"""

from __future__ import annotations

import flask
import redis

from sentinel import db, decision, wire
from sentinel.alerts import AlertRecorder
from sentinel.config import Settings
from sentinel.runtime import Function


class Alert(Function):
    name = "alert"

    def start(self, settings: Settings) -> None:
        self.settings = settings
        self.pool = db.create_pool(settings.database_url, name="alert")
        self.redis = redis.Redis.from_url(settings.redis_url, socket_timeout=3, socket_connect_timeout=3)
        self.recorder = AlertRecorder(
            self.pool,
            self.redis,
            stream=settings.alerts_stream,
            stream_maxlen=settings.alerts_stream_maxlen,
            marker_ttl_seconds=settings.dedup_ttl_seconds,
            webhook_url=settings.alert_webhook_url,
        )

    def stop(self) -> None:
        self.recorder.close()
        self.pool.close()
        self.redis.close()

    def handle(self, request: flask.Request) -> flask.Response:
        scores = decision.read_scores(request, self.settings.max_body_bytes, "alert")
        alerted, repeated = [], []
        for score in scores:
            if score["decision"] not in decision.ALERTING_DECISIONS:
                continue
            (alerted if self.recorder.record(score) else repeated).append(score["transaction_id"])
        return wire.json_response({"alerted": alerted, "duplicates": repeated})
