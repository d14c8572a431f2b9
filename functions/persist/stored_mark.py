"""Persist's progress, published for ingest's admission: the newest `received_at` stored.

Published at most every `interval_s` (one Redis round trip per interval, not per
event). The mark is advisory: if Redis cannot take it, the decision is still stored
and answered 200; the failure is logged once until publishing works again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger(__name__)

INTERVAL_S = 0.05


class Mark(Protocol):
    """Where the mark is kept: see sentinel.stores.progress."""

    def advance(self, stored_through: float) -> None: ...
    def close(self) -> None: ...


class StoredMark:
    def __init__(self, mark: Mark, *, interval_s: float = INTERVAL_S, clock: Callable[[], float] = time.monotonic):
        self._mark = mark
        self._interval_s = interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._newest: float | None = None
        self._published: float | None = None
        self._next_at = -float("inf")
        self._failing = False

    def stored(self, received_at: float) -> None:
        """Note a stored event's `received_at`; publish the newest when the interval has passed."""
        with self._lock:
            if self._newest is None or received_at > self._newest:
                self._newest = received_at
            now = self._clock()
            if now < self._next_at or self._newest == self._published:
                return
            self._next_at = now + self._interval_s
            newest = self._newest
        self._publish(newest)

    def close(self) -> None:
        with self._lock:
            newest, published = self._newest, self._published
        if newest is not None and newest != published:
            self._publish(newest)
        self._mark.close()

    def _publish(self, newest: float) -> None:
        try:
            self._mark.advance(newest)
        except Exception as error:  # advisory: never fails the event it follows
            if not self._failing:
                log.warning("persist's progress mark could not be published (ingest admits on the last one): %s", error)
            self._failing = True
            return
        if self._failing:
            log.info("persist's progress mark is published again")
        self._failing = False
        with self._lock:
            self._published = max(newest, self._published or newest)
