"""Each function's request rate and latency percentiles, read from its /metrics: no second bookkeeping.

A scrape gives counters since the function started: requests answered, errors, and
the request-duration histogram's buckets. Two scrapes some seconds apart give what
happened between them: the rate is the difference of the counts over the time, and a
percentile is read from the differences of the buckets by linear interpolation
within the bucket it falls in, as Prometheus's histogram_quantile does. A counter
that went back (the function restarted) counts from zero.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import requests
from prometheus_client.parser import text_string_to_metric_families

from sentinel.serving import metrics

SCRAPE_TIMEOUT_S = 2.0
REQUESTS = "sentinel_function_requests_total"
ERRORS = "sentinel_function_errors_total"
DURATION_BUCKET = "sentinel_function_request_duration_seconds_bucket"

Buckets = tuple[tuple[float, float], ...]  # (upper bound, cumulative count), by bound; the last is +Inf


@dataclass(frozen=True)
class Scrape:
    """One function's counters at one moment, summed over its label values."""

    at: float  # monotonic seconds
    requests: float
    errors: float
    buckets: Buckets


@dataclass(frozen=True)
class RequestStats:
    """What a function answered between two scrapes."""

    window_s: float
    requests: float
    rate_per_s: float
    errors_per_s: float
    p50_s: float | None  # None without a request in the window
    p99_s: float | None

    def to_json(self) -> dict[str, Any]:
        return {
            "window_s": round(self.window_s, 2),
            "rate_per_s": round(self.rate_per_s, 2),
            "errors_per_s": round(self.errors_per_s, 2),
            "p50_ms": None if self.p50_s is None else round(self.p50_s * 1000, 2),
            "p99_ms": None if self.p99_s is None else round(self.p99_s * 1000, 2),
        }


def parse(text: str, at: float) -> Scrape:
    """The counters of a /metrics document in the Prometheus text format."""
    totals = {REQUESTS: 0.0, ERRORS: 0.0}
    buckets: dict[float, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in totals:
                totals[sample.name] += sample.value
            elif sample.name == DURATION_BUCKET:
                bound = float(sample.labels["le"])
                buckets[bound] = buckets.get(bound, 0.0) + sample.value
    return Scrape(at, totals[REQUESTS], totals[ERRORS], tuple(sorted(buckets.items())))


def between(before: Scrape, after: Scrape) -> RequestStats | None:
    """What happened from `before` to `after`; None when no time passed."""
    window = after.at - before.at
    if window <= 0:
        return None
    restarted = after.requests < before.requests or _went_back(before.buckets, after.buckets)
    start = Scrape(before.at, 0.0, 0.0, ()) if restarted else before
    requests_done = after.requests - start.requests
    errors = max(after.errors - start.errors, 0.0)
    buckets = _difference(start.buckets, after.buckets)
    return RequestStats(
        window_s=window,
        requests=requests_done,
        rate_per_s=requests_done / window,
        errors_per_s=errors / window,
        p50_s=quantile(0.5, buckets),
        p99_s=quantile(0.99, buckets),
    )


def quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float | None:
    """The q-quantile (0..1) of the observations in cumulative `buckets`, as histogram_quantile estimates it:
    linear within its bucket (from 0 for the first), and the highest finite bound when it falls beyond."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower, below = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank and count > below:
            if math.isinf(bound):
                return lower
            return lower + (bound - lower) * (rank - below) / (count - below)
        lower, below = bound, count
    return lower


def _difference(before: Buckets, after: Buckets) -> Buckets:
    counted = dict(before)
    return tuple((bound, count - counted.get(bound, 0.0)) for bound, count in after)


def _went_back(before: Buckets, after: Buckets) -> bool:
    now = dict(after)
    return any(now.get(bound, 0.0) < count for bound, count in before)


def fetch(url: str) -> str | None:
    """The /metrics document of the server at `url`; None when it does not answer one."""
    try:
        response = requests.get(url.rstrip("/") + metrics.METRICS_PATH, timeout=SCRAPE_TIMEOUT_S)
    except requests.RequestException:
        return None
    return response.text if response.status_code == 200 else None


class RequestWatch:
    """Each function's last scrape, so the next one tells what happened since."""

    def __init__(
        self,
        urls: Mapping[str, str],
        *,
        fetch: Callable[[str], str | None] = fetch,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._urls = dict(urls)
        self._fetch = fetch
        self._clock = clock
        self._last: dict[str, Scrape] = {}

    def measure(self, *, min_window_s: float = 0.0) -> dict[str, RequestStats | None]:
        """Scrape every function now, once `min_window_s` passed since the previous scrape: its requests
        since then, or None (the first scrape, or no answer)."""
        waited = self.since_last()
        if waited is not None and waited < min_window_s:
            time.sleep(min_window_s - waited)
        found: dict[str, RequestStats | None] = {}
        for name, url in self._urls.items():
            text = self._fetch(url)
            if text is None:
                self._last.pop(name, None)
                found[name] = None
                continue
            scrape = parse(text, self._clock())
            before = self._last.get(name)
            self._last[name] = scrape
            found[name] = between(before, scrape) if before else None
        return found

    def since_last(self) -> float | None:
        """Seconds since the oldest kept scrape; None before any."""
        if not self._last:
            return None
        return self._clock() - min(scrape.at for scrape in self._last.values())
