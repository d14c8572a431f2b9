"""A function's request rate and latency percentiles, computed from two scrapes of its /metrics."""

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from sentinel.serving.metrics import DURATION_BUCKETS
from sentinel.stack.request_rates import RequestWatch, Scrape, between, parse, quantile

INF = float("inf")


class Served:
    """A function's metrics as its /metrics would show them, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("sentinel_function_requests", "", ["function", "code"], registry=self.registry)
        self.errors = Counter("sentinel_function_errors", "", ["function", "kind"], registry=self.registry)
        self.duration = Histogram(
            "sentinel_function_request_duration_seconds",
            "",
            ["function"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )

    def answer(self, seconds: float, code: str = "200") -> None:
        self.requests.labels("score", code).inc()
        self.duration.labels("score").observe(seconds)
        if code.startswith("5"):
            self.errors.labels("score", "internal").inc()

    def text(self) -> str:
        return generate_latest(self.registry).decode()


def test_the_rate_is_the_requests_between_two_scrapes_over_the_time_between_them():
    served = Served()
    served.answer(0.002)
    before = parse(served.text(), at=10.0)
    for _ in range(40):
        served.answer(0.002)
    stats = between(before, parse(served.text(), at=12.0))
    assert (stats.requests, stats.rate_per_s, stats.window_s) == (40, 20.0, 2.0)


def test_requests_are_summed_over_every_status_code_and_errors_counted_apart():
    served = Served()
    before = parse(served.text(), at=0.0)
    served.answer(0.002, "202")
    served.answer(0.002, "400")
    served.answer(0.002, "500")
    stats = between(before, parse(served.text(), at=1.0))
    assert (stats.rate_per_s, stats.errors_per_s) == (3.0, 1.0)


def test_percentiles_come_from_the_buckets_filled_between_the_scrapes_only():
    served = Served()
    for _ in range(100):
        served.answer(2.0)  # slow requests before the window must not count
    before = parse(served.text(), at=0.0)
    for _ in range(98):
        served.answer(0.003)  # in the (0.0025, 0.005] bucket
    for _ in range(2):
        served.answer(0.3)  # in (0.25, 0.5]
    stats = between(before, parse(served.text(), at=1.0))
    assert 0.0025 < stats.p50_s <= 0.005
    assert stats.p99_s == pytest.approx(0.25 + 0.25 * (99 - 98) / 2)


def test_a_quantile_is_interpolated_linearly_within_its_bucket():
    buckets = [(0.001, 0.0), (0.005, 10.0), (0.01, 20.0), (INF, 20.0)]
    assert quantile(0.5, buckets) == pytest.approx(0.005)
    assert quantile(0.25, buckets) == pytest.approx(0.001 + 0.004 * 5 / 10)
    assert quantile(0.75, buckets) == pytest.approx(0.005 + 0.005 * 5 / 10)


def test_the_first_bucket_is_interpolated_from_zero():
    assert quantile(0.5, [(0.002, 10.0), (INF, 10.0)]) == pytest.approx(0.001)


def test_a_quantile_beyond_the_last_finite_bucket_is_its_bound():
    assert quantile(0.99, [(0.001, 1.0), (10.0, 2.0), (INF, 100.0)]) == 10.0


def test_without_requests_there_is_a_rate_of_zero_and_no_percentile():
    served = Served()
    served.answer(0.002)
    text = served.text()
    stats = between(parse(text, at=0.0), parse(text, at=5.0))
    assert (stats.rate_per_s, stats.p50_s, stats.p99_s) == (0.0, None, None)


def test_a_function_that_restarted_counts_from_zero():
    served = Served()
    for _ in range(50):
        served.answer(0.002)
    before = parse(served.text(), at=0.0)
    restarted = Served()
    for _ in range(5):
        restarted.answer(0.002)
    stats = between(before, parse(restarted.text(), at=1.0))
    assert stats.rate_per_s == 5.0 and stats.p50_s is not None


def test_no_time_between_scrapes_gives_nothing():
    scrape = Scrape(at=1.0, requests=1.0, errors=0.0, buckets=())
    assert between(scrape, scrape) is None


def test_the_watch_reports_each_function_from_its_second_scrape_on():
    served = Served()
    texts = {"score": served.text}
    now = [0.0]
    watch = RequestWatch(
        {"score": "http://score", "alert": "http://alert"}, fetch=lambda url: _of(url, texts), clock=lambda: now[0]
    )
    assert watch.measure() == {"score": None, "alert": None}
    served.answer(0.002)
    now[0] = 2.0
    measured = watch.measure()
    assert measured["alert"] is None
    assert measured["score"].rate_per_s == 0.5


def _of(url, texts):
    name = url.removeprefix("http://")
    return texts[name]() if name in texts else None
