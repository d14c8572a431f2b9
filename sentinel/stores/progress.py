"""How far the pipeline has got: the newest `received_at` persist has stored, in Redis.

Persist advances the mark; every ingest instance reads it to know its own backlog
(sentinel.core.backlog). The mark only moves forward (ZADD GT), so persist
instances racing each other cannot move it back.
"""

from __future__ import annotations

import redis

KEY = "sentinel:progress"
STORED = "stored"  # the member: the newest received_at (seconds since the epoch) that is stored


class Progress:
    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def advance(self, stored_through: float) -> None:
        self._redis.zadd(KEY, {STORED: stored_through}, gt=True)

    def stored_through(self) -> float | None:
        """The mark, or None before anything was stored."""
        value = self._redis.zscore(KEY, STORED)
        return None if value is None else float(value)

    def close(self) -> None:
        self._redis.close()
