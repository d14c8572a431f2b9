"""One ingest instance's backlog: what it admitted that the pipeline has not stored yet."""

from sentinel.core.backlog import Backlog


def test_admitted_events_count_until_the_pipeline_stores_past_them():
    backlog = Backlog(limit=10)
    backlog.admitted(100.0, 3)
    backlog.admitted(101.0, 2)
    backlog.stored_through(100.0)
    assert backlog.size == 2


def test_a_backlog_at_its_limit_is_full():
    backlog = Backlog(limit=5)
    backlog.admitted(100.0, 4)
    assert not backlog.full
    backlog.admitted(100.5, 1)
    assert backlog.full


def test_a_mark_older_than_everything_admitted_clears_nothing():
    backlog = Backlog(limit=5)
    backlog.admitted(100.0, 5)
    backlog.stored_through(99.9)
    assert backlog.full


def test_admissions_in_the_same_instant_are_counted_together():
    backlog = Backlog(limit=10)
    backlog.admitted(100.0, 2)
    backlog.admitted(100.0, 3)
    assert backlog.size == 5
    backlog.stored_through(100.0)
    assert backlog.size == 0
