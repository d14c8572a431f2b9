"""Ingest admits new work only while the pipeline keeps up with what was admitted before.

The backlog (sentinel.stores.backlog) is what ingest admitted and persist has not
stored yet, across every instance. Its size is read from Redis at most every
`refresh_s` and counted up locally in between, so a refusal costs no round trip.
At `limit` ingest answers 503 with Retry-After, which clients (`sentinel send`, the
benchmarks' load generator) wait out before sending more: overload is shed at the
door instead of piling up in the topics, where it costs minutes of latency and the
CPU the pipeline itself needs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from sentinel.core.errors import Unavailable

RETRY_AFTER_S = 1
REFRESH_S = 0.1


class Backlog(Protocol):
    """See sentinel.stores.backlog."""

    def admitted(self, transaction_ids: Sequence[str], received_at: float) -> None: ...
    def size(self, now: float) -> int: ...
    def close(self) -> None: ...


class Admission:
    def __init__(
        self,
        backlog: Backlog,
        limit: int,
        *,
        refresh_s: float = REFRESH_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._backlog = backlog
        self._limit = limit
        self._refresh_s = refresh_s
        self._clock = clock
        self._lock = threading.Lock()
        self._size = 0
        self._read_at = -float("inf")

    def check(self) -> None:
        """Raise Unavailable (503 with Retry-After) while the backlog is at its limit."""
        size = self._current_size()
        if size >= self._limit:
            raise Unavailable(
                f"the pipeline is behind: {size} accepted transactions are not stored yet;"
                f" retry after {RETRY_AFTER_S} s",
                retry_after=RETRY_AFTER_S,
            )

    def admitted(self, transaction_ids: Sequence[str], received_at: float) -> None:
        self._backlog.admitted(transaction_ids, received_at)
        with self._lock:
            self._size += len(transaction_ids)

    def close(self) -> None:
        self._backlog.close()

    def _current_size(self) -> int:
        with self._lock:
            now = self._clock()
            if now - self._read_at < self._refresh_s:
                return self._size
            self._read_at = now
        size = self._backlog.size(now)
        with self._lock:
            self._size = size
        return size
