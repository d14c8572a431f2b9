"""How far the pipeline is behind one ingest instance: the events it admitted that are not stored yet.

Ingest admits work only while the pipeline keeps up. Each instance remembers when it
admitted each event (the event's `received_at`); persist publishes the newest
`received_at` it has stored (sentinel.stores.progress). Whatever this instance
admitted at or before that mark is behind it; the rest is its backlog. When the
backlog reaches its limit, ingest refuses new work with 503 and Retry-After until
the pipeline catches up, so overload is shed at the door instead of piling up in
the topics, where it would cost minutes of latency and the CPU the pipeline needs.

The mark is the newest stored event across all partitions, so one partition that is
behind the others is not counted: a stalled partition is the dispatcher's to report.
"""

from __future__ import annotations

from collections import deque


class Backlog:
    """Admitted events by admission time (seconds since the epoch), oldest first."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._admitted: deque[tuple[float, int]] = deque()  # (received_at, events admitted then)
        self._size = 0

    @property
    def size(self) -> int:
        return self._size

    @property
    def full(self) -> bool:
        return self._size >= self.limit

    def admitted(self, received_at: float, count: int) -> None:
        if count <= 0:
            return
        if self._admitted and self._admitted[-1][0] == received_at:
            count_then = self._admitted.pop()[1]
            self._admitted.append((received_at, count_then + count))
        else:
            self._admitted.append((received_at, count))
        self._size += count

    def stored_through(self, received_at: float) -> None:
        """Everything admitted at or before `received_at` is behind the pipeline now."""
        while self._admitted and self._admitted[0][0] <= received_at:
            self._size -= self._admitted.popleft()[1]
