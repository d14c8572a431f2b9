"""The pipeline's backlog: transactions ingest admitted that persist has not stored yet, in Redis.

One sorted set, the transaction id scored by when ingest admitted it: ingest adds
what it admits, persist removes what it stores, and ingest counts the rest to decide
whether to admit more (functions/ingest/admission.py). Exact across partitions,
processes and replicas, which a single "stored up to" mark is not: one partition
behind the others would hide behind their progress.

An event that never reaches persist (dead-lettered on the way) would stay in the set;
so would an event held by a stalled partition, which the dispatcher reports on its
own. Entries older than `horizon_s` are therefore dropped from the count, and the set
never holds more than what the last `horizon_s` admitted.
"""

from __future__ import annotations

from collections.abc import Sequence

import redis

KEY = "sentinel:backlog"
HORIZON_S = 60.0


class PipelineBacklog:
    def __init__(self, client: redis.Redis, *, horizon_s: float = HORIZON_S, key: str = KEY) -> None:
        self._redis = client
        self._horizon_s = horizon_s
        self._key = key

    def admitted(self, transaction_ids: Sequence[str], received_at: float) -> None:
        if transaction_ids:
            self._redis.zadd(self._key, dict.fromkeys(transaction_ids, received_at))

    def stored(self, transaction_ids: Sequence[str]) -> None:
        if transaction_ids:
            self._redis.zrem(self._key, *transaction_ids)

    def size(self, now: float) -> int:
        """How many admitted transactions are not stored yet, counting the last `horizon_s` only."""
        pipeline = self._redis.pipeline(transaction=False)
        pipeline.zremrangebyscore(self._key, "-inf", f"({now - self._horizon_s}")
        pipeline.zcard(self._key)
        return int(pipeline.execute()[1])

    def close(self) -> None:
        self._redis.close()
