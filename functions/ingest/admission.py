"""Ingest admits new work only while the pipeline keeps up with what it admitted before.

The backlog (sentinel.core.backlog) is this instance's admitted events that persist
has not stored yet; persist's mark is read from Redis at most every `refresh_s`, so a
refusal costs no round trip. A full backlog refuses with 503 and Retry-After, which
clients (`sentinel send`, the benchmark's load generator) wait out before sending more.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from sentinel.core.backlog import Backlog
from sentinel.core.errors import Unavailable

RETRY_AFTER_S = 1
REFRESH_S = 0.1


class StoredMark(Protocol):
    """Where persist's progress is read: see sentinel.stores.progress."""

    def stored_through(self) -> float | None: ...
    def close(self) -> None: ...


class Admission:
    def __init__(
        self,
        mark: StoredMark,
        limit: int,
        *,
        refresh_s: float = REFRESH_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._mark = mark
        self._backlog = Backlog(limit)
        self._refresh_s = refresh_s
        self._clock = clock
        self._lock = threading.Lock()
        self._read_at = -float("inf")

    def check(self) -> None:
        """Raise Unavailable (503, Retry-After) while the backlog is full."""
        with self._lock:
            if not self._backlog.full:
                return
        self._refresh()
        with self._lock:
            if self._backlog.full:
                raise Unavailable(
                    f"the pipeline is behind: {self._backlog.size} events accepted here are not stored yet;"
                    f" retry after {RETRY_AFTER_S} s",
                    retry_after=RETRY_AFTER_S,
                )

    def admitted(self, received_at: float, count: int) -> None:
        with self._lock:
            self._backlog.admitted(received_at, count)
        self._refresh()

    def close(self) -> None:
        self._mark.close()

    def _refresh(self) -> None:
        """Read persist's mark, unless it was read within the last `refresh_s`."""
        with self._lock:
            now = self._clock()
            if now - self._read_at < self._refresh_s:
                return
            self._read_at = now
        stored = self._mark.stored_through()
        if stored is not None:
            with self._lock:
                self._backlog.stored_through(stored)
