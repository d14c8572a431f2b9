"""Ingest's de-duplication on transaction_id, kept in Redis so it survives restarts.

A transaction id is first *claimed* (pending, short TTL) while its event is
emitted, and *confirmed* (emitted, long TTL) only once the sink acknowledged
it. A failed emit releases the claim, so the client's retry is accepted rather
than reported as a duplicate; a concurrent copy waits for the claim to resolve.
"""

from __future__ import annotations

import enum
import time
import uuid
from dataclasses import dataclass

import redis

KEY_PREFIX = "sentinel:ingest:seen:"
EMITTED = "emitted"

# Delete or overwrite the key only while it still holds our own claim.
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
_CONFIRM = (
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "return redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3]) end return false"
)


class Outcome(enum.Enum):
    NEW = "new"
    DUPLICATE = "duplicate"
    IN_FLIGHT = "in_flight"


@dataclass(frozen=True)
class Claim:
    transaction_id: str
    outcome: Outcome
    token: str = ""


class Deduplicator:
    def __init__(
        self,
        client: redis.Redis,
        *,
        ttl_seconds: int,
        pending_ttl_seconds: int = 30,
        wait_seconds: float = 2.0,
    ):
        self._redis = client
        self._ttl = ttl_seconds
        self._pending_ttl = pending_ttl_seconds
        self._wait = wait_seconds
        self._release = client.register_script(_RELEASE)
        self._confirm = client.register_script(_CONFIRM)

    def claim(self, transaction_id: str) -> Claim:
        """NEW if this caller now owns the id; DUPLICATE if it was emitted before;
        IN_FLIGHT if another request still holds it after waiting a moment."""
        key = KEY_PREFIX + transaction_id
        token = f"pending:{uuid.uuid4().hex}"
        deadline = time.monotonic() + self._wait
        while True:
            if self._redis.set(key, token, nx=True, ex=self._pending_ttl):
                return Claim(transaction_id, Outcome.NEW, token)
            current = self._redis.get(key)
            if current is not None and current.decode() == EMITTED:
                return Claim(transaction_id, Outcome.DUPLICATE)
            if time.monotonic() >= deadline:
                return Claim(transaction_id, Outcome.IN_FLIGHT)
            time.sleep(0.05)

    def confirm(self, claim: Claim) -> None:
        """Mark a claimed id as emitted: from now on it is a duplicate."""
        self._confirm(keys=[KEY_PREFIX + claim.transaction_id], args=[claim.token, EMITTED, self._ttl])

    def release(self, claim: Claim) -> None:
        """Give a claimed id back after a failed emit, so a retry is accepted."""
        self._release(keys=[KEY_PREFIX + claim.transaction_id], args=[claim.token])

    def close(self) -> None:
        self._redis.close()
