"""The CloudEvents Sentinel speaks (DESIGN.md §3), and what every one of them carries.

Every event about a transaction has id and `subject` = the transaction id, and the
`partitionkey` extension = the user id, which a KafkaSink turns into the record key
so one user's events stay ordered. A transaction id is unique per client only, so the
source names the client (`/sentinel/ingest/clients/<client>`): source and id together
are unique, as CloudEvents 1.0 §3.1.1 (`id`) requires. Encoding them is the codec's job
(sentinel.codec); this module only names them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

TRANSACTION_CREATED = "dev.sentinel.transaction.created"
TRANSACTION_RECEIVED = "dev.sentinel.transaction.received"
TRANSACTION_SCORED = "dev.sentinel.transaction.scored"

INGEST_SOURCE = "/sentinel/ingest"
SCORE_SOURCE = "/sentinel/score"


def client_source(source: str, client_id: str) -> str:
    """The source of `source`'s events about `client_id`'s transactions."""
    return f"{source}/clients/{client_id}"


def utc_now() -> str:
    """Now as an RFC 3339 timestamp in UTC, to the microsecond."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def transaction_attributes(event_type: str, source: str, data: dict[str, Any]) -> dict[str, str]:
    """The context attributes of an event about the transaction (or decision) `data`,
    which names its client; `source` is the producing function's (INGEST_SOURCE, SCORE_SOURCE)."""
    return {
        "type": event_type,
        "source": client_source(source, data["client_id"]),
        "id": data["transaction_id"],
        "subject": data["transaction_id"],
        "partitionkey": data["user_id"],
    }
