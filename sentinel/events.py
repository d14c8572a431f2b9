"""The CloudEvents Sentinel speaks (DESIGN.md §3) and how each is built.

Every event Sentinel emits carries `subject` = transaction id and the
`partitionkey` extension = user id, which the KafkaSink turns into the record
key so one user's events stay ordered.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cloudevents.http import CloudEvent

TRANSACTION_CREATED = "dev.sentinel.transaction.created"
TRANSACTION_RECEIVED = "dev.sentinel.transaction.received"
TRANSACTION_SCORED = "dev.sentinel.transaction.scored"
MODEL_PROMOTED = "dev.sentinel.model.promoted"

INGEST_SOURCE = "/sentinel/ingest"
SCORE_SOURCE = "/sentinel/score"


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def transaction_event(event_type: str, source: str, data: dict[str, Any]) -> CloudEvent:
    """A JSON CloudEvent about one transaction, keyed for Kafka by its user."""
    return CloudEvent(
        {
            "type": event_type,
            "source": source,
            "id": f"{data['transaction_id']}",
            "subject": data["transaction_id"],
            "partitionkey": data["user_id"],
            "datacontenttype": "application/json",
        },
        data,
    )


def received_event(transaction: dict[str, Any], received_at: str) -> CloudEvent:
    return transaction_event(TRANSACTION_RECEIVED, INGEST_SOURCE, {**transaction, "received_at": received_at})


def scored_event(score: dict[str, Any]) -> CloudEvent:
    return transaction_event(TRANSACTION_SCORED, SCORE_SOURCE, score)
