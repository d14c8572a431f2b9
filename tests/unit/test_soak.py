"""The soak benchmark's own logic: where it measures and when it stops early (benchmarks.soak)."""

import argparse

from benchmarks.soak import Point, _stop_reason, checkpoints


def point(events: int, idle_ticks: int = 10, cpu_ms_per_event: float = 1.0) -> Point:
    return Point(
        events, events * 2, idle_ticks, cpu_ms_per_event, drain_s=0.5, count_cpu_ms=5, rss_mib=30, fill_events_per_s=0
    )


ARGS = argparse.Namespace(events=1_000_000, stop_ratio=3.0, max_minutes=60.0)


def test_a_full_run_measures_at_every_checkpoint_up_to_a_million():
    assert checkpoints(1_000_000) == [5_000, 10_000, 30_000, 100_000, 300_000, 1_000_000]


def test_a_shorter_run_measures_at_the_checkpoints_below_it_and_then_at_its_end():
    assert checkpoints(50_000) == [5_000, 10_000, 30_000, 50_000]
    assert checkpoints(2_000) == [2_000]


def test_it_goes_on_while_the_broker_costs_what_a_fresh_one_does():
    assert _stop_reason([point(0), point(10_000, idle_ticks=12, cpu_ms_per_event=1.1)], ARGS, elapsed_s=60) is None


def test_it_stops_once_cpu_per_event_has_grown_past_the_stop_ratio():
    reason = _stop_reason([point(0), point(10_000, cpu_ms_per_event=4.0)], ARGS, elapsed_s=60)

    assert reason is not None and "after 10,000 events" in reason and "4.0×" in reason


def test_it_stops_once_idle_cpu_has_grown_past_the_stop_ratio():
    assert _stop_reason([point(0), point(10_000, idle_ticks=40)], ARGS, elapsed_s=60) is not None


def test_it_stops_when_its_time_is_spent():
    reason = _stop_reason([point(0), point(10_000)], ARGS, elapsed_s=61 * 60)

    assert reason is not None and "60 minutes" in reason


def test_the_last_checkpoint_is_never_an_early_stop():
    assert _stop_reason([point(0), point(1_000_000, cpu_ms_per_event=9.0)], ARGS, elapsed_s=61 * 60) is None
