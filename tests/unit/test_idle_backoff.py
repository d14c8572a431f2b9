"""When an idle KafkaSource dispatcher stops fetching and when it looks again (eventing.idle_backoff)."""

from eventing.idle_backoff import IdleBackoff

IDLE_AFTER_S, EVERY_S, PROBE_S = 5.0, 0.5, 0.05


class Source:
    """An IdleBackoff on a clock the test moves; `after(s)` asks it whether to fetch s seconds later."""

    def __init__(self, idle_after_s: float = IDLE_AFTER_S) -> None:
        self.now = 100.0
        self.backoff = IdleBackoff(idle_after_s, EVERY_S, PROBE_S, clock=lambda: self.now)

    def after(self, seconds: float, *, found: int = 0, busy: bool = False) -> bool:
        self.now += seconds
        return self.backoff.fetching(found=found, busy=busy)


def just_idle() -> Source:
    """A source asked at the very moment its idle period ended."""
    source = Source()
    source.after(IDLE_AFTER_S)
    return source


def test_a_source_keeps_fetching_until_it_has_been_idle_for_the_whole_period():
    source = Source()
    assert source.after(IDLE_AFTER_S - 0.1)
    assert not source.backoff.idle


def test_an_idle_source_stops_fetching_until_its_next_probe():
    source = just_idle()
    assert source.backoff.idle
    assert not source.after(0.02)
    assert not source.after(0.4)


def test_a_probe_fetches_for_its_length_then_the_source_waits_for_the_next():
    source = just_idle()
    assert [source.after(step) for step in (0.5, 0.03, 0.03, 0.49, 0.02)] == [True, True, False, False, True]


def test_a_probe_asked_only_after_its_length_still_fetches_once():
    source = just_idle()
    assert source.after(EVERY_S)
    assert not source.after(1.0)  # one poll took longer than the probe


def test_records_found_in_a_probe_wake_the_source():
    source = just_idle()
    assert source.after(0.6, found=3)
    assert not source.backoff.idle
    assert source.after(1.0)


def test_deliveries_under_way_keep_the_source_fetching():
    source = Source()
    assert all(source.after(1.0, busy=True) for _ in range(20))


def test_a_new_assignment_fetches_for_a_whole_idle_period_again():
    source = just_idle()
    source.backoff.wake()
    assert source.after(IDLE_AFTER_S - 0.1)


def test_an_idle_period_of_zero_never_stops_fetching():
    source = Source(idle_after_s=0)
    assert source.after(3600)
    assert not source.backoff.idle
