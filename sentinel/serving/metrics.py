"""The functions' Prometheus metrics, and `/metrics` in the text format.

Every function counts its requests, errors, durations and requests in flight through
`measured`, which wraps the HTTP handler; score, ingest, persist and alert add what
only they know (decisions, de-duplication hits, refusals, reloads) through the
helpers below. Label values are bounded: a function, an HTTP status, a decision, a
model version, a rule's name; never a transaction, user, client or event id.

Several worker processes of one server (gunicorn's WORKERS, or the replicas of one
function in the local autoscaler) are aggregated with prometheus_client's
multiprocess mode: when PROMETHEUS_MULTIPROC_DIR names a directory, each process
keeps its values in files there and `/metrics`, whichever process answers, sums them.
Gauges count live processes only: the files of a process that is gone are dropped at
the next scrape (`forget_dead_processes`), so a worker that died mid-request leaves
no phantom request in flight. Without the variable, each process serves its own.
"""

from __future__ import annotations

import functools
import glob
import os
import re
import time
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.requests import Request
from starlette.responses import Response

from sentinel.config import METRICS_DIR_VARIABLE

METRICS_PATH = "/metrics"
# Headers a proxy adds: Kourier's Envoy and Knative's activator on a function's public route.
PROXY_HEADERS = ("x-forwarded-for", "forwarded")

# Request durations: from a refusal answered on the event loop (~0.1 ms) to a slow store (seconds).
DURATION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
RISK_BUCKETS = tuple(round(step * 0.05, 2) for step in range(1, 21))

_DIRECTORY = os.environ.get(METRICS_DIR_VARIABLE)
if _DIRECTORY:
    # The files are made at a metric's first use; the directory must be there by then.
    os.makedirs(_DIRECTORY, exist_ok=True)

REQUESTS = Counter("sentinel_function_requests", "Requests answered, by HTTP status code", ["function", "code"])
ERRORS = Counter(
    "sentinel_function_errors",
    "Requests answered with an error, by kind (client, rate_limited, unprocessable, unavailable, internal)",
    ["function", "kind"],
)
DURATION = Histogram(
    "sentinel_function_request_duration_seconds",
    "Time from a request's arrival to its answer",
    ["function"],
    buckets=DURATION_BUCKETS,
)
IN_FLIGHT = Gauge(
    "sentinel_function_in_flight_requests",
    "Requests being answered now",
    ["function"],
    multiprocess_mode="livesum",
)
DUPLICATES = Counter(
    "sentinel_function_duplicates",
    "Transactions found done already and not done again (ingest: submitted before; persist: stored; alert: alerted)",
    ["function"],
)
INGEST_REFUSALS = Counter(
    "sentinel_ingest_refusals",
    "Requests ingest refused to shed load (503), by reason (behind, backlog_unreadable)",
    ["reason"],
)
DECISIONS = Counter(
    "sentinel_score_decisions", "Decisions made, by outcome and model version", ["decision", "model_version"]
)
RISK = Histogram(
    "sentinel_score_risk_score", "The champion's risk score of each decision", ["model_version"], buckets=RISK_BUCKETS
)
RULES_FIRED = Counter(
    "sentinel_score_rules_fired", "Decisions a rule made instead of the model, by rule", ["rule", "action"]
)
REASONS = Counter("sentinel_score_reasons", "Reasons given with review and block decisions", ["decision"])
SHADOW = Counter(
    "sentinel_score_shadow_evaluations",
    "A challenger's would-be decisions, by its version and whether it agreed with the champion",
    ["model_version", "agreement"],
)
SETUP_CHANGES = Counter(
    "sentinel_score_setup_changes",
    "Changes of champion, challenger or rules a score process took up (hot reload)",
    ["part"],
)
SETUP_REFUSALS = Counter(
    "sentinel_score_setup_refusals",
    "A new champion, challenger or rules revision score could not serve and kept the old one for",
    ["part"],
)
MODELS = Gauge(
    "sentinel_score_model",
    "1 for each model a score process decides with now, by version and role (champion, challenger)",
    ["model_version", "role"],
    multiprocess_mode="livemax",
)


_children: dict[tuple[Any, tuple[str, ...]], Any] = {}


def _bound(metric: Any, *labels: str) -> Any:
    """`metric.labels(*labels)`, kept: prometheus_client's own lookup takes a lock and costs microseconds a call,
    which a request pays several times over. Label sets are bounded, and so is what is kept."""
    child = _children.get((metric, labels))
    if child is None:
        child = _children[(metric, labels)] = metric.labels(*labels)
    return child


def error_kind(status: int) -> str | None:
    """What an answer's status says went wrong; None for a success."""
    if status < 400:
        return None
    if status == 429:
        return "rate_limited"
    if status == 422:
        return "unprocessable"
    if status < 500:
        return "client"
    return "unavailable" if status == 503 else "internal"


class _Requests:
    """One function's request metrics, its labelled children bound once (`_requests_of`)."""

    def __init__(self, function: str) -> None:
        self.function = function
        self.in_flight = IN_FLIGHT.labels(function)
        self.duration = DURATION.labels(function)

    def answered(self, status: int, seconds: float) -> None:
        self.duration.observe(seconds)
        _bound(REQUESTS, self.function, str(status)).inc()
        kind = error_kind(status)
        if kind is not None:
            _bound(ERRORS, self.function, kind).inc()


@functools.cache
def _requests_of(function: str) -> _Requests:
    return _Requests(function)


Handler = Callable[[Request], Awaitable[Response]]
JSON = "application/json"


def measured(handle: Handler, function_name: Callable[[], str | None], probes: Collection[str]) -> Handler:
    """`handle`, counted and timed, that also answers GET /metrics.

    `function_name` names the function once it is built (the first request builds it);
    what is answered while it cannot be built is not counted: its readiness says why.
    Probes (GET of `probes`) and scrapes are not requests to the function: not counted.
    A scrape that came through a proxy is refused (404): metrics are for a Prometheus that
    scrapes the pod, not for whoever reaches the function's public route (they name the
    rules and models in use). It keeps `handle`'s name: functions-framework registers an ASGI
    function by name, and serves it so even when started without --asgi."""

    @functools.wraps(handle)
    async def counted(request: Request) -> Response:
        path = request.url.path
        if request.method == "GET" and path == METRICS_PATH:
            if any(header in request.headers for header in PROXY_HEADERS):
                return Response(b'{"error": "no metrics through a proxy: scrape the pod"}', 404, media_type=JSON)
            return metrics_response()
        if request.method == "GET" and path in probes:
            return await handle(request)
        started = time.perf_counter()
        name = function_name()
        in_flight = _requests_of(name).in_flight if name else None
        if in_flight is not None:
            in_flight.inc()
        try:
            response = await handle(request)
        finally:
            if in_flight is not None:
                in_flight.dec()
        name = name or function_name()
        if name:
            _requests_of(name).answered(response.status_code, time.perf_counter() - started)
        return response

    return counted


def metrics_response() -> Response:
    body, content_type = exposition()
    return Response(body, media_type=content_type)


def exposition(registry: CollectorRegistry | None = None) -> tuple[bytes, str]:
    """Every metric in the Prometheus text format (0.0.4, which every Prometheus reads), and its content type.

    `registry` None: this server's metrics, summed over its processes in multiprocess mode."""
    if registry is None:
        registry = _multiprocess_registry() if _DIRECTORY else REGISTRY
    return generate_latest(registry), CONTENT_TYPE_PLAIN_0_0_4


def _multiprocess_registry() -> CollectorRegistry:
    assert _DIRECTORY is not None
    forget_dead_processes(_DIRECTORY)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=_DIRECTORY)
    return registry


_LIVE_FILE = re.compile(r"gauge_live\w+?_(\d+)\.db$")


def forget_dead_processes(directory: str, alive: Callable[[int], bool] | None = None) -> list[int]:
    """Drop the live-gauge files of processes that are gone (prometheus_client's `mark_process_dead`);
    their counters and histograms stay, so totals never go back. The pids forgotten."""
    alive = alive or _alive
    pids = {
        int(match.group(1))
        for path in glob.glob(os.path.join(directory, "gauge_live*.db"))
        if (match := _LIVE_FILE.search(os.path.basename(path)))
    }
    dead = sorted(pid for pid in pids if not alive(pid))
    for pid in dead:
        multiprocess.mark_process_dead(pid, directory)
    return dead


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


# -- what only some functions know ---------------------------------------------------------


def duplicates(function: str, count: int) -> None:
    if count:
        _bound(DUPLICATES, function).inc(count)


def ingest_refused(reason: str) -> None:
    INGEST_REFUSALS.labels(reason).inc()


def decided(decisions: Iterable[Mapping[str, Any]]) -> None:
    """Count score's decisions: outcome and model, risk, the rule that decided, reasons, the challenger's view."""
    for decision in decisions:
        outcome = decision["decision"]
        _bound(DECISIONS, outcome, decision["model_version"]).inc()
        _bound(RISK, decision["model_version"]).observe(decision["risk_score"])
        rule = decision.get("rule")
        if rule:
            _bound(RULES_FIRED, rule["name"], rule["action"]).inc()
        reasons = decision.get("reasons")
        if reasons:
            _bound(REASONS, outcome).inc(len(reasons))
        shadow = decision.get("shadow")
        if shadow:
            agreement = "agree" if shadow["decision"] == outcome else "disagree"
            _bound(SHADOW, shadow["model_version"], agreement).inc()


def setup_changed(part: str) -> None:
    SETUP_CHANGES.labels(part).inc()


def setup_refused(part: str) -> None:
    SETUP_REFUSALS.labels(part).inc()


def models_in_use(before: Mapping[str, str | None], after: Mapping[str, str | None]) -> None:
    """The model of each role (champion, challenger) before and after a change; None for none."""
    for role in ("champion", "challenger"):
        old, new = before.get(role), after.get(role)
        if old == new:
            continue
        if old is not None:
            MODELS.labels(old, role).set(0)
        if new is not None:
            MODELS.labels(new, role).set(1)
