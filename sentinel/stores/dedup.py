"""Ingest's de-duplication on (client, transaction_id), kept in Redis so it survives restarts.

A transaction id is first *claimed* (pending, short TTL) while its event is emitted,
and *confirmed* (emitted, with the transaction's fingerprint, long TTL) only once the
sink acknowledged it. A failed emit releases the claim, so the client's retry is
accepted rather than reported as a duplicate; a concurrent copy waits for the claim
to resolve. A later submission of the same id by the same client is a duplicate when
its fingerprint matches, a conflict when it does not (sentinel.core.idempotency).

Ids confirmed before ids were scoped per client are kept under LEGACY_PREFIX, with no
client and no fingerprint: until they expire, such an id is a duplicate for everyone.
"""

from __future__ import annotations

import enum
import time
import uuid
from dataclasses import dataclass

import redis

KEY_PREFIX = "sentinel:ingest:claim:"
LEGACY_PREFIX = "sentinel:ingest:seen:"
EMITTED = "emitted:"

# One round trip: a legacy confirmation wins; else take the claim, or say who holds it.
_CLAIM = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 'legacy' end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return 'new' end
return redis.call('GET', KEYS[1])
"""
# Delete or overwrite the key only while it still holds our own claim.
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
_CONFIRM = (
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "return redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3]) end return false"
)


class Outcome(enum.Enum):
    NEW = "new"
    DUPLICATE = "duplicate"  # emitted before, with the same payload
    CONFLICT = "conflict"  # emitted before, with a different payload
    IN_FLIGHT = "in_flight"


@dataclass(frozen=True)
class Claim:
    client_id: str
    transaction_id: str
    fingerprint: str
    outcome: Outcome
    token: str = ""

    @property
    def key(self) -> str:
        return f"{KEY_PREFIX}{self.client_id}:{self.transaction_id}"


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
        self._claim = client.register_script(_CLAIM)
        self._release = client.register_script(_RELEASE)
        self._confirm = client.register_script(_CONFIRM)

    def claim(self, client_id: str, transaction_id: str, fingerprint: str) -> Claim:
        """NEW if this caller now owns the id; DUPLICATE or CONFLICT if it was emitted before
        with the same or another payload; IN_FLIGHT if another request still holds it after
        waiting a moment."""
        token = f"pending:{uuid.uuid4().hex}"
        claim = Claim(client_id, transaction_id, fingerprint, Outcome.NEW, token)
        deadline = time.monotonic() + self._wait
        while True:
            answer = self._claim(keys=[claim.key, LEGACY_PREFIX + transaction_id], args=[token, self._pending_ttl])
            found = answer.decode() if isinstance(answer, bytes) else answer
            if found == "new":
                return claim
            if found == "legacy":
                return Claim(client_id, transaction_id, fingerprint, Outcome.DUPLICATE)
            if found and found.startswith(EMITTED):
                same = found.removeprefix(EMITTED) == fingerprint
                return Claim(client_id, transaction_id, fingerprint, Outcome.DUPLICATE if same else Outcome.CONFLICT)
            if time.monotonic() >= deadline:
                return Claim(client_id, transaction_id, fingerprint, Outcome.IN_FLIGHT)
            time.sleep(0.05)

    def confirm(self, claim: Claim) -> None:
        """Mark a claimed id as emitted with its payload's fingerprint: from now on a retry is a duplicate."""
        self._confirm(keys=[claim.key], args=[claim.token, EMITTED + claim.fingerprint, self._ttl])

    def release(self, claim: Claim) -> None:
        """Give a claimed id back after a failed emit, so a retry is accepted."""
        self._release(keys=[claim.key], args=[claim.token])

    def close(self) -> None:
        self._redis.close()
