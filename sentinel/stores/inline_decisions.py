"""The decisions score gave inline, by client and transaction id, so a retry gets the same one.

A client asking score for a decision directly may retry (a timeout, a lost answer). The
retry must get the first decision, not a new one from a model promoted meanwhile, since
the first is the one persist stored (the first write wins). Each decision is kept with
the fingerprint of the transaction it was given for, for as long as ingest remembers an
id (SENTINEL_DEDUP_TTL_SECONDS). Keeping one, or finding the one kept before, is one
round trip; a decision whose emit then fails is forgotten, so its retry is decided anew.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import redis

KEY_PREFIX = "sentinel:score:decided:"

# Keep ARGV[1] unless a decision is kept already; return that one, or nothing.
_KEEP_FIRST = """
local found = redis.call('GET', KEYS[1])
if found then return found end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return false
"""
# Forget only the decision this caller kept.
_FORGET = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


@dataclass(frozen=True)
class Remembered:
    fingerprint: str
    decision: dict[str, Any]


class InlineDecisions:
    def __init__(self, client: redis.Redis, *, ttl_seconds: int) -> None:
        self._redis = client
        self._ttl = ttl_seconds
        self._keep_first = client.register_script(_KEEP_FIRST)
        self._forget = client.register_script(_FORGET)

    def keep_first(self, client_id: str, transaction_id: str, kept: Remembered) -> Remembered | None:
        """Keep `kept` as the decision for this client's transaction, unless one is kept already:
        then that one, which the caller answers with instead."""
        found = self._keep_first(keys=[_key(client_id, transaction_id)], args=[_value(kept), self._ttl])
        if not found:
            return None
        document = orjson.loads(found)
        return Remembered(document["fingerprint"], document["decision"])

    def forget(self, client_id: str, transaction_id: str, kept: Remembered) -> None:
        """Forget `kept` (its emit failed), unless another decision has replaced it."""
        self._forget(keys=[_key(client_id, transaction_id)], args=[_value(kept)])

    def close(self) -> None:
        self._redis.close()


def _key(client_id: str, transaction_id: str) -> str:
    return f"{KEY_PREFIX}{client_id}:{transaction_id}"


def _value(kept: Remembered) -> bytes:
    return orjson.dumps({"fingerprint": kept.fingerprint, "decision": kept.decision})
