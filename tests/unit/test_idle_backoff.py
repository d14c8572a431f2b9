"""When an idle KafkaSource dispatcher stops fetching and when it looks again (eventing.idle_backoff)."""

from eventing.idle_backoff import IdleBackoff


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def backoff(clock: Clock, idle_after_s: float = 5.0) -> IdleBackoff:
    return IdleBackoff(idle_after_s=idle_after_s, every_s=0.5, probe_s=0.05, clock=clock)


def test_a_source_keeps_fetching_until_it_has_been_idle_for_the_whole_period():
    clock = Clock()
    source = backoff(clock)
    clock.now += 4.9
    assert source.fetching(found=0, busy=False)
    assert not source.idle


def test_an_idle_source_stops_fetching_until_its_next_probe():
    clock = Clock()
    source = backoff(clock)
    clock.now += 4.99
    source.fetching(found=0, busy=False)
    clock.now += 0.02
    assert source.idle
    assert not source.fetching(found=0, busy=False)
    clock.now += 0.4
    assert not source.fetching(found=0, busy=False)


def test_a_probe_fetches_for_its_length_then_the_source_waits_for_the_next():
    clock = Clock()
    source = backoff(clock)
    clock.now += 5.0
    source.fetching(found=0, busy=False)
    clock.now += 0.5
    assert source.fetching(found=0, busy=False)
    clock.now += 0.03
    assert source.fetching(found=0, busy=False)
    clock.now += 0.03
    assert not source.fetching(found=0, busy=False)
    clock.now += 0.49
    assert not source.fetching(found=0, busy=False)
    clock.now += 0.02
    assert source.fetching(found=0, busy=False)


def test_a_probe_asked_only_after_its_length_still_fetches_once():
    clock = Clock()
    source = backoff(clock)
    clock.now += 5.0
    source.fetching(found=0, busy=False)
    clock.now += 0.5
    assert source.fetching(found=0, busy=False)
    clock.now += 1.0  # one poll took longer than the probe
    assert not source.fetching(found=0, busy=False)


def test_records_found_in_a_probe_wake_the_source():
    clock = Clock()
    source = backoff(clock)
    clock.now += 5.6
    source.fetching(found=0, busy=False)
    assert source.fetching(found=3, busy=False)
    assert not source.idle
    clock.now += 1.0
    assert source.fetching(found=0, busy=False)


def test_deliveries_under_way_keep_the_source_fetching():
    clock = Clock()
    source = backoff(clock)
    for _ in range(20):
        clock.now += 1.0
        assert source.fetching(found=0, busy=True)


def test_an_idle_period_of_zero_never_stops_fetching():
    clock = Clock()
    source = backoff(clock, idle_after_s=0)
    clock.now += 3600
    assert source.fetching(found=0, busy=False)
    assert not source.idle
