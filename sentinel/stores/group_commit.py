"""Group commit: rows from concurrent requests stored in one transaction, so they share one commit.

A commit waits for PostgreSQL to flush its write-ahead log; one transaction per
event pays that wait once per event. Here a request thread that finds no flush
running becomes the leader: it takes every row waiting at that moment (its own and
those of requests that arrived meanwhile) and inserts them all in one transaction;
the others wait for its result. Then it hands the lead to the oldest request still
waiting, if any, and answers its own, so no request serves others for long. A
request that comes alone is stored at once, as before; under load, batches form by
themselves. No row is acknowledged before its transaction committed.

If a batch fails on anything but an outage (a row's data, most often), each
request's rows are tried again in a transaction of their own, so a bad row fails
only its own request; if PostgreSQL cannot serve for now (sentinel.stores.failures),
every request in the batch gets that error (and answers 503).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from psycopg_pool import ConnectionPool

from sentinel.stores.failures import Transient, classify

Row = dict[str, Any]


@dataclass
class _Waiter:
    rows: Sequence[Row]
    wake: threading.Event = field(default_factory=threading.Event)  # its rows are done, or it must lead
    must_lead: bool = False
    inserted: list[bool] | None = None
    error: Exception | None = None

    def finish(self, inserted: list[bool] | None = None, error: Exception | None = None) -> None:
        self.inserted, self.error = inserted, error
        self.wake.set()


class GroupCommitter:
    """Runs `insert` (one row's INSERT ... RETURNING, returning a row only when it inserted) for rows in batches."""

    def __init__(self, pool: ConnectionPool, insert: str, *, max_rows: int = 500) -> None:
        self._pool = pool
        self._insert = insert
        self._max_rows = max_rows
        self._lock = threading.Lock()
        self._waiting: list[_Waiter] = []
        self._flushing = False

    def store(self, rows: Sequence[Row]) -> list[bool]:
        """For each row, True when this call inserted it, False when it was there already."""
        waiter = _Waiter(rows)
        with self._lock:
            self._waiting.append(waiter)
            if not self._flushing:
                self._flushing = True
                self._hand_lead_to(waiter)
        waiter.wake.wait()
        if waiter.must_lead:
            self._lead()
        if waiter.error is not None:
            raise waiter.error
        assert waiter.inserted is not None
        return waiter.inserted

    def _lead(self) -> None:
        """Flush one batch (the leader's own request is its first), then pass the lead on."""
        with self._lock:
            batch = self._take_batch()
        self._flush(batch)
        with self._lock:
            if self._waiting:
                self._hand_lead_to(self._waiting[0])
            else:
                self._flushing = False

    @staticmethod
    def _hand_lead_to(waiter: _Waiter) -> None:
        waiter.must_lead = True
        waiter.wake.set()

    def _take_batch(self) -> list[_Waiter]:
        batch, rows = [], 0
        while self._waiting and (not batch or rows + len(self._waiting[0].rows) <= self._max_rows):
            waiter = self._waiting.pop(0)
            batch.append(waiter)
            rows += len(waiter.rows)
        return batch

    def _flush(self, batch: list[_Waiter]) -> None:
        try:
            outcomes = self._insert_all([row for waiter in batch for row in waiter.rows])
        except Exception as error:
            if len(batch) > 1 and not isinstance(classify(error), Transient):
                for waiter in batch:  # find the request whose rows failed; the others still succeed
                    self._flush([waiter])
            else:
                for waiter in batch:
                    waiter.finish(error=error)
            return
        start = 0
        for waiter in batch:
            waiter.finish(inserted=outcomes[start : start + len(waiter.rows)])
            start += len(waiter.rows)

    def _insert_all(self, rows: list[Row]) -> list[bool]:
        with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cursor:
            cursor.executemany(self._insert, rows, returning=True)
            inserted = []
            while True:
                inserted.append(cursor.fetchone() is not None)
                if not cursor.nextset():
                    return inserted
