"""Requests a second per API key, counted in Redis so every instance of a function shares one count.

A fixed one-second window per key: one round trip (INCR and EXPIRE pipelined) per
request. A caller can therefore get up to twice its rate across a window boundary,
which is enough to stop a runaway or hostile client without a script on the server.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import redis

from sentinel.core.api_keys import Caller
from sentinel.core.errors import RateLimited

KEY_PREFIX = "sentinel:rate:"
RETRY_AFTER_S = 1


class RateLimits:
    def __init__(self, client: redis.Redis, default_per_s: int, *, clock: Callable[[], float] = time.time) -> None:
        self._redis = client
        self._default_per_s = default_per_s
        self._clock = clock

    def check(self, caller: Caller, function: str) -> None:
        """Count one request by `caller` to `function`; 429 with Retry-After once over its rate this second."""
        limit = caller.rate_per_s or self._default_per_s
        window = int(self._clock())
        key = f"{KEY_PREFIX}{function}:{caller.name}:{window}"
        pipeline = self._redis.pipeline(transaction=False)
        pipeline.incr(key)
        pipeline.expire(key, 2)
        count, _ = pipeline.execute()
        if count > limit:
            raise RateLimited(
                f"the key {caller.name!r} is over its rate of {limit} requests a second to {function};"
                f" retry after {RETRY_AFTER_S} s",
                retry_after=RETRY_AFTER_S,
            )
