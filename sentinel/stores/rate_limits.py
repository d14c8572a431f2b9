"""Requests a second per API key, counted in Redis so every instance of a function shares one count.

A fixed one-second window per key and function. Each instance counts its own requests
and adds them to the shared count in Redis at most every `sync_s` (one round trip,
INCRBY and EXPIRE pipelined), judging the requests in between by the last shared count
plus its own: a busy key costs a few round trips a second, not one a request. So a
caller can exceed its rate by what other instances admitted since their last sync, and
by up to twice its rate across a window boundary: enough to stop a runaway or hostile
client without a round trip on every request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

from sentinel.core.api_keys import Caller
from sentinel.core.errors import RateLimited

KEY_PREFIX = "sentinel:rate:"
RETRY_AFTER_S = 1
SYNC_S = 0.1


@dataclass
class _Window:
    """One key's count for one function in one second."""

    second: int
    shared: int = 0  # every instance's count, as Redis last said
    unsynced: int = 0  # this instance's requests not added to Redis yet
    synced_at: float = -float("inf")


class RateLimits:
    def __init__(
        self,
        client: redis.Redis,
        default_per_s: int,
        *,
        sync_s: float = SYNC_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = client
        self._default_per_s = default_per_s
        self._sync_s = sync_s
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, str], _Window] = {}

    def check(self, caller: Caller, function: str) -> None:
        """Count one request by `caller` to `function`; 429 with Retry-After once over its rate this second."""
        limit = caller.rate_per_s or self._default_per_s
        now = self._clock()
        second = int(now)
        with self._lock:
            window = self._windows.get((function, caller.name))
            if window is None or window.second != second:
                window = self._windows[(function, caller.name)] = _Window(second)
            window.unsynced += 1
            count = window.shared + window.unsynced
            delta = 0
            if now - window.synced_at >= self._sync_s:
                delta, window.unsynced, window.synced_at = window.unsynced, 0, now
        if delta:
            count = self._add(f"{KEY_PREFIX}{function}:{caller.name}:{second}", delta)
            with self._lock:
                window.shared = max(window.shared, count)
                count = window.shared + window.unsynced
        if count > limit:
            raise RateLimited(
                f"the key {caller.name!r} is over its rate of {limit} requests a second to {function};"
                f" retry after {RETRY_AFTER_S} s",
                retry_after=RETRY_AFTER_S,
            )

    def _add(self, key: str, delta: int) -> int:
        pipeline = self._redis.pipeline(transaction=False)
        pipeline.incrby(key, delta)
        pipeline.expire(key, 2)
        total, _ = pipeline.execute()
        return int(total)
