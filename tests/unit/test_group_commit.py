"""Group commit: concurrent requests share transactions, each learns its own rows' outcome,
a bad row fails only its own request, and an unreachable database fails them all."""

import threading
from contextlib import contextmanager

import psycopg
import pytest
from support import wait_for

from sentinel.stores.group_commit import GroupCommitter


class _FakeDatabase:
    """A pool whose transactions insert ids into a set; a row with bad=True fails its transaction."""

    def __init__(self, *, down: bool = False, slow: threading.Event | None = None):
        self.stored: set[str] = set()
        self.transactions: list[list[str]] = []
        self.down = down
        self.slow = slow

    @contextmanager
    def connection(self):
        if self.down:
            raise psycopg.OperationalError("connection refused")
        yield self

    @contextmanager
    def transaction(self):
        yield

    @contextmanager
    def cursor(self):
        yield _FakeCursor(self)


class _FakeCursor:
    def __init__(self, database: _FakeDatabase):
        self.database = database
        self.results: list[bool] = []

    def executemany(self, _query, rows, returning):
        if self.database.slow is not None:
            self.database.slow.wait(5)
        if any(row.get("bad") for row in rows):
            raise psycopg.errors.CheckViolation("bad row")
        self.database.transactions.append([row["id"] for row in rows])
        for row in rows:
            self.results.append(row["id"] not in self.database.stored)
            self.database.stored.add(row["id"])

    def fetchone(self):
        return ("id",) if self.results.pop(0) else None

    def nextset(self):
        return True if self.results else None


def test_a_lone_request_is_stored_in_its_own_transaction_and_repeats_are_reported():
    database = _FakeDatabase()
    committer = GroupCommitter(database, "INSERT")
    assert committer.store([{"id": "a"}, {"id": "b"}]) == [True, True]
    assert committer.store([{"id": "a"}]) == [False]
    assert database.transactions == [["a", "b"], ["a"]]


def _store_concurrently(committer, batches):
    results = {}

    def store(name, rows):
        try:
            results[name] = committer.store(rows)
        except Exception as error:
            results[name] = error

    threads = [threading.Thread(target=store, args=item) for item in batches.items()]
    for thread in threads:
        thread.start()
    return threads, results


def _behind_a_held_flush(batches):
    """Store row "0" in a flush that holds until released, then `batches` concurrently behind it.

    Returns the database, the first request's results and the later ones', once every
    request has finished."""
    release = threading.Event()
    database = _FakeDatabase(slow=release)
    committer = GroupCommitter(database, "INSERT")
    first, results = _store_concurrently(committer, {"first": [{"id": "0"}]})
    wait_for(lambda: committer._flushing, timeout=5, what="the first flush")
    others, more = _store_concurrently(committer, batches)
    wait_for(lambda: len(committer._waiting) == len(batches), timeout=5, what="every request waiting")
    release.set()
    for thread in first + others:
        thread.join(5)
    return database, results["first"], more


def test_requests_arriving_during_a_flush_share_the_next_transaction():
    database, first, more = _behind_a_held_flush({f"r{i}": [{"id": str(i)}] for i in range(1, 6)})
    assert first == [True] and all(value == [True] for value in more.values())
    assert len(database.transactions) == 2 and sorted(database.transactions[1]) == ["1", "2", "3", "4", "5"]


def test_a_bad_row_fails_only_its_own_request():
    database, _, results = _behind_a_held_flush({"good": [{"id": "1"}], "bad": [{"id": "2", "bad": True}]})
    assert results["good"] == [True]
    assert isinstance(results["bad"], psycopg.errors.CheckViolation)
    assert database.stored == {"0", "1"}


def test_an_unreachable_database_fails_the_request():
    committer = GroupCommitter(_FakeDatabase(down=True), "INSERT")
    with pytest.raises(psycopg.OperationalError):
        committer.store([{"id": "a"}])
