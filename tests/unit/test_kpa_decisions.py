"""The KPA's decisions, fed one concurrency a second as the local autoscaler feeds it."""

from sentinel.stack.kpa import Kpa, KpaSettings

SETTINGS = KpaSettings(target=10, utilisation=1.0, stable_window_s=10, panic_window_s=2, to_zero_grace_s=4)


def _run(kpa: Kpa, concurrency: list[float], ready: int, start: int = 0) -> list[int]:
    """One decision a second; `ready` follows what was wanted at once."""
    wanted = []
    for t, value in enumerate(concurrency, start=start):
        kpa.observe(value)
        ready = kpa.decide(t, ready).desired
        wanted.append(ready)
    return wanted


def test_steady_concurrency_asks_for_it_divided_by_the_target_per_replica():
    kpa = Kpa(SETTINGS)
    assert _run(kpa, [25.0] * 20, ready=3)[-1] == 3


def test_a_burst_panics_at_twice_the_ready_replicas_and_follows_the_panic_window():
    kpa = Kpa(SETTINGS, initial=1)
    _run(kpa, [5.0] * 10, ready=1)
    kpa.observe(60.0)
    kpa.observe(60.0)
    decision = kpa.decide(10, 1)
    assert decision.panic and decision.desired == 6
    assert decision.panic_concurrency == 60.0 and decision.stable_concurrency < 60.0


def test_in_panic_it_never_scales_down():
    kpa = Kpa(SETTINGS, initial=1)
    wanted = _run(kpa, [60.0] * 3 + [0.0] * 5, ready=1)
    assert wanted[3:] == [wanted[2]] * 5


def test_without_panic_it_at_most_halves_the_replicas_a_tick():
    kpa = Kpa(SETTINGS, initial=8)
    for _ in range(10):
        kpa.observe(0.0)
    assert kpa.decide(0, 8).desired == 4


def test_an_idle_function_goes_to_zero_only_after_the_grace_period():
    kpa = Kpa(SETTINGS, initial=1)
    wanted = _run(kpa, [0.0] * 10, ready=1)
    assert wanted[:4] == [1, 1, 1, 1]
    assert wanted[4] == 0


def test_the_retention_period_keeps_the_last_replica_longer_than_the_grace():
    kpa = Kpa(KpaSettings(**{**SETTINGS.__dict__, "to_zero_retention_s": 7}), initial=1)
    wanted = _run(kpa, [0.0] * 10, ready=1)
    assert wanted.index(0) == 7


def test_the_first_request_at_zero_asks_for_one_replica_at_once():
    kpa = Kpa(SETTINGS)
    kpa.observe(1.0)
    decision = kpa.decide(0, 0)
    assert decision.desired == 1


def test_max_scale_caps_and_min_scale_floors_the_replicas():
    capped = Kpa(KpaSettings(**{**SETTINGS.__dict__, "max_scale": 2}))
    assert _run(capped, [500.0] * 3, ready=0)[-1] == 2
    floored = Kpa(KpaSettings(**{**SETTINGS.__dict__, "min_scale": 1}), initial=1)
    assert _run(floored, [0.0] * 20, ready=1)[-1] == 1


def test_the_scale_down_delay_keeps_the_highest_wish_of_its_window():
    kpa = Kpa(KpaSettings(**{**SETTINGS.__dict__, "scale_down_delay_s": 5, "stable_window_s": 1, "panic_window_s": 1}))
    wanted = _run(kpa, [30.0] + [10.0] * 7, ready=0)
    assert wanted[:5] == [3] * 5
    assert wanted[-1] == 1
