"""One assigned partition: its records delivered with bounded concurrency, and its commit point.

With `ordered` delivery a lane has one worker, so records go out one at a time in
offset order; with `unordered` up to 50 are in flight at once. Either way the lane
commits only the contiguous prefix of finished records: an offset is committable
once it and every offset fetched before it reached an end.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

WORKER_IDLE_S = 1.0


class HasOffset(Protocol):
    def offset(self) -> int | None: ...


Record = TypeVar("Record", bound=HasOffset)

# Delivers one record; True when it reached an end (delivered, dead-lettered or dropped),
# False when it was cancelled and must be delivered again by whoever owns the partition next.
Deliver = Callable[[Record, threading.Event], bool]


class PartitionLane(Generic[Record]):
    def __init__(self, deliver: Deliver[Record], max_in_flight: int, name: str) -> None:
        self._deliver = deliver
        self._max_in_flight = max_in_flight
        self._name = name
        self._condition = threading.Condition()
        self._pending: deque[Record] = deque()
        self._in_flight = 0
        self._workers = 0
        self._closing = False
        self.cancelled = threading.Event()
        # Offsets handed to this lane and not yet part of the committable prefix, in fetch order.
        self._unfinished: deque[int] = deque()
        self._finished: set[int] = set()
        self._commit_point: int | None = None
        self._fetched_end: int | None = None  # one past the last offset handed to this lane
        self._progressed_at = time.monotonic()  # when the commit point last moved, or work arrived at an idle lane

    def add(self, records: list[Record]) -> None:
        with self._condition:
            if self._closing:
                return
            if not self._unfinished:
                self._progressed_at = time.monotonic()
            for record in records:
                self._pending.append(record)
                self._unfinished.append(_offset(record))
            if records:
                self._fetched_end = self._unfinished[-1] + 1
            wanted = min(len(self._pending), self._max_in_flight) - (self._workers - self._in_flight)
            for _ in range(max(0, min(wanted, self._max_in_flight - self._workers))):
                self._start_worker()
            self._condition.notify_all()

    @property
    def backlog(self) -> int:
        """Records handed to this lane that have not finished yet (queued or in flight)."""
        with self._condition:
            return len(self._pending) + self._in_flight

    @property
    def in_flight(self) -> int:
        with self._condition:
            return self._in_flight

    def stuck_for(self) -> float:
        """Seconds this lane has held unfinished records without its commit point moving; 0 when idle."""
        with self._condition:
            return time.monotonic() - self._progressed_at if self._unfinished else 0.0

    @property
    def fetched_end(self) -> int | None:
        """One past the last offset handed to this lane: the partition's end is at least this."""
        with self._condition:
            return self._fetched_end

    def commit_point(self) -> int | None:
        """The offset to commit: one past the last record of the finished prefix, if any."""
        with self._condition:
            return self._commit_point

    def begin_close(self) -> None:
        """Take no more records; those not yet started are left for the partition's next owner."""
        with self._condition:
            self._closing = True
            self._pending.clear()
            self._condition.notify_all()

    def wait_idle(self, deadline: float) -> bool:
        """Wait, until the monotonic `deadline`, for in-flight records to finish; then cancel the rest."""
        with self._condition:
            while self._in_flight and (remaining := deadline - time.monotonic()) > 0:
                self._condition.wait(remaining)
            idle = self._in_flight == 0
        self.cancelled.set()
        return idle

    def _start_worker(self) -> None:
        self._workers += 1
        threading.Thread(target=self._work, name=f"deliver-{self._name}", daemon=True).start()

    def _work(self) -> None:
        while (record := self._next_record()) is not None:
            finished = self._deliver(record, self.cancelled)
            with self._condition:
                self._in_flight -= 1
                if finished and not self.cancelled.is_set():
                    self._mark_finished(_offset(record))
                self._condition.notify_all()

    def _next_record(self) -> Record | None:
        with self._condition:
            idle_until = time.monotonic() + WORKER_IDLE_S
            while not self._pending and not self._closing:
                remaining = idle_until - time.monotonic()
                if remaining <= 0:
                    break
                self._condition.wait(remaining)
            if self._closing or not self._pending:
                self._workers -= 1
                return None
            self._in_flight += 1
            return self._pending.popleft()

    def _mark_finished(self, offset: int) -> None:
        self._finished.add(offset)
        while self._unfinished and self._unfinished[0] in self._finished:
            done = self._unfinished.popleft()
            self._finished.discard(done)
            self._commit_point = done + 1
            self._progressed_at = time.monotonic()


def _offset(record: HasOffset) -> int:
    offset = record.offset()
    if offset is None:
        raise ValueError("a consumed record without an offset")
    return offset
