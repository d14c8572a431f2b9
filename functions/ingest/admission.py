"""Ingest admits new work only while the pipeline keeps up with what was admitted before.

The backlog (sentinel.stores.backlog) is what ingest admitted and persist has not
stored yet, across every instance. A watcher thread reads its size from Redis every
`refresh_s`, and ingest counts what it admits on top in between, so deciding costs
no round trip and never blocks: the server asks before anything else, on its event
loop, and a refusal is answered at once even while every worker thread is busy.
At `limit` ingest answers 503 with Retry-After, which clients (`sentinel send`, the
benchmarks' load generator) wait out before sending more: overload is shed at the
door instead of piling up in the topics, where it costs minutes of latency and the
CPU the pipeline itself needs. While the backlog cannot be read, ingest refuses too:
it cannot tell how far behind the pipeline is.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from sentinel.core.errors import Unavailable
from sentinel.serving import metrics

log = logging.getLogger(__name__)

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
        self._unreadable: str | None = None  # why the last read failed
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

    def start(self) -> None:
        """Read the backlog now, then every `refresh_s` in the background until `close`."""
        self.refresh()
        self._watcher = threading.Thread(target=self._watch, name="backlog-watcher", daemon=True)
        self._watcher.start()

    def check(self) -> None:
        """Raise Unavailable (503 with Retry-After) while the backlog is at its limit or cannot be read."""
        with self._lock:
            size, unreadable = self._size, self._unreadable
        if unreadable is not None:
            metrics.ingest_refused("backlog_unreadable")
            raise Unavailable(
                f"ingest cannot tell how far behind the pipeline is: {unreadable}; retry after {RETRY_AFTER_S} s",
                retry_after=RETRY_AFTER_S,
            )
        if size >= self._limit:
            metrics.ingest_refused("behind")
            raise Unavailable(
                f"the pipeline is behind: ingest takes no new transactions until it catches up;"
                f" retry after {RETRY_AFTER_S} s",
                retry_after=RETRY_AFTER_S,
            )

    def admitted(self, transaction_ids: Sequence[str], received_at: float) -> None:
        self._backlog.admitted(transaction_ids, received_at)
        with self._lock:
            self._size += len(transaction_ids)

    def refresh(self) -> None:
        """Read the backlog's size, which replaces what was counted since the last read (a transaction
        admitted during the read may go uncounted until the next). A read that fails keeps
        ingest refusing until one succeeds."""
        try:
            size = self._backlog.size(self._clock())
        except Exception as error:  # Redis down or unreachable: refuse rather than admit blind
            with self._lock:
                if self._unreadable is None:
                    log.warning("the pipeline's backlog cannot be read: %s", error)
                self._unreadable = f"its backlog in Redis cannot be read ({type(error).__name__})"
            return
        with self._lock:
            self._size, self._unreadable = size, None

    def close(self) -> None:
        self._stopping.set()
        if self._watcher is not None:
            self._watcher.join()
        self._backlog.close()

    def _watch(self) -> None:
        while not self._stopping.wait(self._refresh_s):
            self.refresh()
