"""The benchmark suite's own logic on tiny inputs: the KPA simulation, the command line, the tables.

Benchmarks are not timed here; docs/benchmarks.md has the numbers."""

import argparse
from types import SimpleNamespace

import pytest

from benchmarks import functions, kpa, loadgen, passthrough, workload
from benchmarks.__main__ import BENCHMARKS, parse
from benchmarks.end_to_end import Outcome, _cost_targets, _offered_rate
from benchmarks.functions import _add_slowdowns, _at_full_speed, _latency_at_half
from benchmarks.report import Table, percentiles_ms
from sentinel.codec.event import Event, json_event
from sentinel.core import events

SETTINGS = kpa.KpaSettings(target=10)  # 7 concurrent requests per pod
WORKLOAD = kpa.Workload(service_s=0.01, pod_rate=1000, start_s=2)  # a core is full at 10 in flight


def test_a_busy_pod_stretches_only_the_cpu_part_of_a_request():
    assert WORKLOAD.latency_s(0.0) == pytest.approx(0.010)
    assert WORKLOAD.latency_s(0.5) == pytest.approx(0.009 + 0.001 / 0.5)  # 1 ms of CPU waits for a half-busy core


def test_a_constant_load_settles_where_the_latency_it_causes_asks_for_no_more_pods():
    seconds = kpa.simulate([2000.0] * 200, SETTINGS, WORKLOAD)
    assert seconds[-1].ready == 4  # 4 pods half busy: 2000/s × 11 ms = 22 in flight, 7 a pod
    assert seconds[-1].queued == 0


def test_a_burst_panics_and_never_scales_down_in_panic():
    seconds = kpa.simulate([100.0] * 80 + [5000.0] * 30, SETTINGS, WORKLOAD, initial_pods=1)
    burst = seconds[80:]
    assert any(second.panic for second in burst)
    panicking = [second.ready for second in burst if second.panic]
    assert panicking == sorted(panicking)


def test_silence_scales_to_zero_only_after_the_stable_window_and_the_grace_period():
    seconds = kpa.simulate([500.0] * 30 + [0.0] * 200, SETTINGS, WORKLOAD, initial_pods=1)
    first_zero = next(second.t for second in seconds[30:] if second.ready == 0)
    assert 30 + SETTINGS.stable_window_s <= first_zero <= 30 + SETTINGS.stable_window_s + SETTINGS.to_zero_grace_s + 4


def test_max_scale_caps_the_pods():
    capped = kpa.KpaSettings(target=10, max_scale=2)
    assert max(second.ready for second in kpa.simulate([5000.0] * 60, capped, WORKLOAD)) == 2


def test_every_benchmark_has_a_command():
    for name in BENCHMARKS:
        args = parse([name, "--publish"])
        assert args.benchmark == name and args.publish and callable(args.run)


def test_an_unknown_benchmark_is_refused():
    with pytest.raises(SystemExit):
        parse(["nonsense"])


def test_tables_render_as_markdown_and_percentiles_are_in_milliseconds():
    table = Table("t", ["a", "b"])
    table.add("x", 1234.5)
    assert table.render().splitlines()[2:] == ["| a | b     |", "|---|-------|", "| x | 1,234 |"]
    assert percentiles_ms([0.001] * 99 + [0.1])["p50_ms"] == 1.0


def test_an_overload_rate_is_a_multiple_of_the_max_measured_before_it():
    most = Outcome("pipeline", "max", 210.0, 1, 1, None, None, 200.0, 1.0, {})
    assert (_offered_rate("max", []), _offered_rate("250", []), _offered_rate("5x", [most])) == (None, 250.0, 1000.0)


def test_an_overload_rate_without_a_max_before_it_is_refused():
    with pytest.raises(SystemExit):
        _offered_rate("2x", [])


@pytest.mark.parametrize(
    ("given", "designs"),
    [("both", ("pipeline", "baseline")), ("baseline,pipeline", ("pipeline", "baseline")), ("pipeline", ("pipeline",))],
)
def test_designs_both_means_the_pipeline_and_the_baseline(given, designs):
    assert parse(["end-to-end", "--designs", given]).designs == designs


def test_the_plumbing_joins_both_or_runs_alone():
    assert parse(["end-to-end", "--designs", "both,plumbing"]).designs == ("pipeline", "baseline", "plumbing")
    assert parse(["end-to-end", "--designs", "plumbing"]).designs == ("plumbing",)


def test_an_unknown_design_is_refused():
    with pytest.raises(SystemExit):
        parse(["end-to-end", "--designs", "pipelines"])


def test_the_pipelines_cpu_per_event_is_compared_with_the_batch_consumers_drain_in_the_same_run():
    pipeline = {
        "250": Outcome("pipeline", "250", 224.0, 6720, 6720, 1057.0, 5113.0, 210.0, 8.24, {}),
        "max": Outcome("pipeline", "max", 256.0, 7060, 7060, 949.0, 6492.0, 235.0, 7.48, {}),
    }
    drained = Outcome("baseline", "max", 0.0, 120_000, 120_000, None, None, 2256.0, 0.32, {})
    targets = _cost_targets(pipeline, {"max": drained})
    assert targets["cpu_per_event_times_batch_consumer_at_max"] == {"target": 12.0, "measured": 23.375, "met": False}
    assert targets["p99_ms_at_250"]["measured"] == 5113.0 and not targets["p99_ms_at_250"]["met"]
    assert targets["max_events_per_s"]["measured"] == 235.0


def test_without_the_batch_consumer_beside_it_the_ratio_is_not_claimed():
    most = Outcome("pipeline", "max", 256.0, 7060, 7060, 949.0, 6492.0, 235.0, 7.48, {})
    assert _cost_targets({"max": most}, {})["cpu_per_event_times_batch_consumer_at_max"]["measured"] is None


def test_a_rounds_machine_slowdown_is_its_work_time_over_the_fastest_rounds_of_any_subject():
    rounds = {"no-op": [{"machine_work_us": 1000.0}], "score": [{"machine_work_us": 2500.0}, {"machine_work_us": None}]}
    _add_slowdowns(rounds)
    assert [run["machine_slowdown"] for runs in rounds.values() for run in runs] == [1.0, 2.5, None]


def test_the_full_speed_p99_leaves_out_the_rounds_of_a_slowed_machine_and_those_not_timed():
    runs = [{"p99_ms": 7.0, "machine_slowdown": 1.1}, {"p99_ms": 50.0, "machine_slowdown": 1.9}]
    runs.append({"p99_ms": 9.0, "machine_slowdown": None})
    assert [run["p99_ms"] for run in _at_full_speed(runs)] == [7.0]


class _SlowingMachine:
    """wrk and the open-loop generator faked at their boundary: each wrk run finds a lower
    maximum, as on a machine slowing down, and every open-loop run is recorded."""

    def __init__(self) -> None:
        self.maxima = iter(range(1000, 0, -100))
        self.offered: list[tuple[int, float]] = []

    def wrk(self, url: str, template: workload.Template, **_: object) -> SimpleNamespace:
        return SimpleNamespace(rate=float(next(self.maxima)))

    def open_loop(
        self, host: str, port: int, request: loadgen.Request, *, rate: float, **_: object
    ) -> loadgen.LoadResult:
        self.offered.append((port, rate))
        return loadgen.LoadResult(sent=1, seconds=1.0, statuses={200: 1}, latencies=[0.002])


class _UntimedProbe:
    work_us = None

    def __enter__(self) -> "_UntimedProbe":
        return self

    def __exit__(self, *_: object) -> None:
        return None


def test_each_round_offers_half_the_maximum_measured_just_before_it_and_the_noop_follows_score(monkeypatch):
    machine = _SlowingMachine()
    monkeypatch.setattr(functions.wrk, "run", machine.wrk)
    monkeypatch.setattr(functions.loadgen, "open_loop", machine.open_loop)
    monkeypatch.setattr(functions.machine_speed, "Probe", _UntimedProbe)
    template = workload.Template(headers={}, body="{}")
    subjects = {
        name: functions.Subject(name, SimpleNamespace(port=port, url=f"http://127.0.0.1:{port}/"), template)
        for port, name in enumerate(
            (functions.NOOP, functions.SCORE, functions.SCORE_RULES, functions.SCORE_REASONS, functions.SCORE_INGRESS)
        )
    }
    args = argparse.Namespace(latency_rounds=2, latency_seconds=1.0, connections=8, maximum_seconds=1.0)
    rows = {row["subject"]: row for row in _latency_at_half(subjects, args)}
    assert [run["offered_rate"] for run in rows[functions.SCORE]["rounds"]] == [500.0, 300.0]
    assert [run["offered_rate"] for run in rows[functions.NOOP]["rounds"]] == [500.0, 300.0]
    assert [run["offered_rate"] for run in rows[functions.SCORE_INGRESS]["rounds"]] == [350.0, 150.0]
    assert rows[functions.SCORE]["maximum_rate"] == 800.0  # the median of the rounds' 1,000 and 600


class _RecordingSink:
    def __init__(self) -> None:
        self.emitted: list[Event] = []

    def emit(self, event: Event) -> None:
        self.emitted.append(event)

    def close(self) -> None:
        pass


def test_the_plumbings_ingest_passes_each_transaction_on_unchanged_keyed_by_its_user():
    sink = _RecordingSink()
    ingest = passthrough.PassOnIngest(sink, events.TRANSACTION_RECEIVED)
    data = {"transaction_id": "t-1", "user_id": "u-7", "Amount": 3.5}
    created = json_event({"type": events.TRANSACTION_CREATED, "source": "/test", "id": "t-1"}, data)

    ingest.handle([created])

    (emitted,) = sink.emitted
    assert (emitted.type, emitted.id, emitted.attributes["partitionkey"]) == (events.TRANSACTION_RECEIVED, "t-1", "u-7")
    assert emitted.json() == data
