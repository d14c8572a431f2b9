"""alert: turns every review or block decision into one alert.

Three effects, each idempotent under redelivery: a row in PostgreSQL, an entry in
the Redis alerts stream (sentinel.stores.alerts keeps both once per transaction),
and, when ALERT_WEBHOOK_URL is set, a POST to the operator's webhook, repeated until
it answers 2xx and then marked delivered on the row, so a redelivered event does not
POST it again. Approvals are acknowledged and ignored. Only decisions score made
count: a scored event must carry score's signature and agree with itself and its
model version (sentinel.serving.event_integrity), else it is refused with a 4xx.
Each webhook POST is signed (sentinel.serving.webhook); it is made with no database
connection held.

Run by functions-framework: `functions-framework --target handle --source functions/alert/main.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from sentinel.codec.event import Event
from sentinel.config import Settings
from sentinel.core import events, score
from sentinel.core.api_keys import Caller
from sentinel.core.decision import ALERTING_DECISIONS
from sentinel.serving import metrics
from sentinel.serving.event_integrity import ScoredEvents, scored_keys
from sentinel.serving.function import Function, Reply
from sentinel.serving.http_handler import http_handler
from sentinel.serving.webhook import Webhook
from sentinel.stores.alerts import AlertDocument, AlertStore, AlertStream
from sentinel.stores.model_thresholds import ModelThresholds


class Alerts(Protocol):
    def add(self, alert: AlertDocument) -> bool: ...
    def webhook_delivered(self, client_id: str, transaction_id: str) -> bool: ...
    def mark_webhook_delivered(self, client_id: str, transaction_id: str) -> None: ...
    def close(self) -> None: ...


class Stream(Protocol):
    def publish(self, alert: AlertDocument) -> None: ...
    def close(self) -> None: ...


class Hook(Protocol):
    def post(self, document: Any) -> None: ...
    def close(self) -> None: ...


class Alert(Function):
    name = "alert"
    accepts = (events.TRANSACTION_SCORED,)

    def __init__(self, alerts: Alerts, stream: Stream, scored: ScoredEvents, webhook: Hook | None = None) -> None:
        """`scored` tells score's decisions from forgeries."""
        self._alerts = alerts
        self._scored = scored
        self._stream = stream
        self._webhook = webhook

    def stop(self) -> None:
        for dependency in (self._alerts, self._stream, self._scored, self._webhook):
            if dependency is not None:
                dependency.close()

    def ready(self) -> str | None:
        return self._scored.missing()

    def handle(self, received: Sequence[Event], caller: Caller | None = None) -> Reply:
        scores = [self._scored.trusted(event, self.data_of(event)) for event in received]
        alerted, repeated = [], []
        for item in scores:
            if item["decision"] not in ALERTING_DECISIONS:
                continue
            (alerted if self._record(alert_of(item)) else repeated).append(item["transaction_id"])
        metrics.duplicates(self.name, len(repeated))
        return Reply.of_document({"alerted": alerted, "duplicates": repeated})

    def _record(self, alert: AlertDocument) -> bool:
        """Every effect of one alert; True when this call created its row."""
        created = self._alerts.add(alert)
        self._stream.publish(alert)
        identity = (alert["client_id"], alert["transaction_id"])
        if self._webhook is not None and not self._alerts.webhook_delivered(*identity):
            self._webhook.post(alert)
            self._alerts.mark_webhook_delivered(*identity)
        return created


def alert_of(decision: score.Score) -> AlertDocument:
    """The alert for a review or block decision, as stored, streamed and posted."""
    return {
        "client_id": decision["client_id"],
        "transaction_id": decision["transaction_id"],
        "user_id": decision["user_id"],
        "decision": decision["decision"],
        "risk_score": decision["risk_score"],
        "model_version": decision["model_version"],
        "amount": decision["Amount"],
        "scored_at": decision["scored_at"],
        "reasons": decision.get("reasons", []),
        "rule": decision.get("rule"),
        "trace_id": decision.get("trace_id"),
    }


def new(settings: Settings) -> Alert:
    return Alert(
        AlertStore.connect(settings.database_url),
        AlertStream.connect(
            settings.redis_url,
            stream=settings.alerts_stream,
            max_length=settings.alerts_stream_maxlen,
            marker_ttl_seconds=settings.dedup_ttl_seconds,
        ),
        ScoredEvents(scored_keys(settings), ModelThresholds(settings.database_url)),
        webhook_of(settings),
    )


def webhook_of(settings: Settings) -> Webhook | None:
    """The operator's webhook, when ALERT_WEBHOOK_URL names one; ValueError naming the setting to fix."""
    if not settings.alert_webhook_url:
        return None
    return Webhook(settings.alert_webhook_url, settings.webhook_secret, allow_http=settings.webhook_allow_http)


handle = http_handler(new)
