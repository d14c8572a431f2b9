"""The decisions score gave inline, by client and transaction id, so a retry gets the same one.

A client asking score for a decision directly may retry (a timeout, a lost answer). The
retry must get the first decision, not a new one from a model promoted meanwhile, since
the first is the one persist stored (the first write wins). Each decision is kept with
the fingerprint of the transaction it was given for, for as long as ingest remembers
an id (SENTINEL_DEDUP_TTL_SECONDS).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import redis

KEY_PREFIX = "sentinel:score:decided:"


@dataclass(frozen=True)
class Remembered:
    fingerprint: str
    decision: dict[str, Any]


class InlineDecisions:
    def __init__(self, client: redis.Redis, *, ttl_seconds: int) -> None:
        self._redis = client
        self._ttl = ttl_seconds

    def recall(self, client_id: str, transaction_id: str) -> Remembered | None:
        found = self._redis.get(_key(client_id, transaction_id))
        if found is None:
            return None
        document = orjson.loads(found)
        return Remembered(document["fingerprint"], document["decision"])

    def remember(self, client_id: str, transaction_id: str, fingerprint: str, decision: dict[str, Any]) -> None:
        """Keep the decision unless one is kept already (two first requests at once keep the first)."""
        value = orjson.dumps({"fingerprint": fingerprint, "decision": decision})
        self._redis.set(_key(client_id, transaction_id), value, nx=True, ex=self._ttl)

    def close(self) -> None:
        self._redis.close()


def _key(client_id: str, transaction_id: str) -> str:
    return f"{KEY_PREFIX}{client_id}:{transaction_id}"
