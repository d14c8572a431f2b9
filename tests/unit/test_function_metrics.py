"""Every function's /metrics: its requests counted by status, timed and tracked in flight; probes and scrapes not.

Unit tests run without PROMETHEUS_MULTIPROC_DIR, so each process serves its own
metrics from prometheus_client's default registry; a test reads what moved.
"""

from pathlib import Path

import pytest
from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from support import asgi_client

from sentinel.config import Settings
from sentinel.core.errors import ClientError, Unavailable
from sentinel.serving import metrics
from sentinel.serving.function import Function, Reply
from sentinel.serving.http_handler import LIVENESS_PATH, READINESS_PATH, http_handler


class Answering(Function):
    """Answers 202, or raises what it is told to."""

    name = "answering"
    accepts = ("t",)

    def __init__(self) -> None:
        self.error: Exception | None = None

    def handle(self, events, caller=None):
        if self.error is not None:
            raise self.error
        return Reply.of_document({"ok": True}, 202)


@pytest.fixture
def served():
    function = Answering()
    client = asgi_client(http_handler(lambda _settings: function, settings=Settings.from_env))
    client.function = function
    return client


def post(client):
    headers, body = to_binary(CloudEvent({"type": "t", "source": "/tests", "id": "e-1"}, {"a": 1}))
    return client.post("/", content=body, headers=headers)


def value(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_each_answer_is_counted_by_function_and_status_code(served):
    before = value("sentinel_function_requests_total", function="answering", code="202")
    for _ in range(3):
        assert post(served).status_code == 202
    assert value("sentinel_function_requests_total", function="answering", code="202") == before + 3


def test_each_answer_is_timed(served):
    before = value("sentinel_function_request_duration_seconds_count", function="answering")
    post(served)
    assert value("sentinel_function_request_duration_seconds_count", function="answering") == before + 1
    assert value("sentinel_function_request_duration_seconds_sum", function="answering") > 0


@pytest.mark.parametrize(
    ("error", "status", "kind"),
    [
        (ClientError("no"), 400, "client"),
        (Unavailable("later"), 503, "unavailable"),
        (RuntimeError("bug"), 500, "internal"),
    ],
)
def test_errors_are_counted_by_kind(served, error, status, kind):
    served.function.error = error
    before = value("sentinel_function_errors_total", function="answering", kind=kind)
    assert post(served).status_code == status
    assert value("sentinel_function_errors_total", function="answering", kind=kind) == before + 1


def test_no_request_stays_in_flight_once_answered(served):
    post(served)
    post(served)
    assert value("sentinel_function_in_flight_requests", function="answering") == 0


def test_probes_and_scrapes_are_not_requests_to_the_function(served):
    post(served)
    before = value("sentinel_function_request_duration_seconds_count", function="answering")
    served.get(LIVENESS_PATH)
    served.get(READINESS_PATH)
    served.get(metrics.METRICS_PATH)
    assert value("sentinel_function_request_duration_seconds_count", function="answering") == before


def test_get_metrics_answers_the_prometheus_text_format(served):
    post(served)
    response = served.get(metrics.METRICS_PATH)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    names = {family.name for family in text_string_to_metric_families(response.text)}
    assert {"sentinel_function_requests", "sentinel_function_request_duration_seconds"} <= names


@pytest.mark.parametrize("header", ["X-Forwarded-For", "Forwarded"])
def test_metrics_are_not_served_through_a_proxy_to_the_public_route(served, header):
    response = served.get(metrics.METRICS_PATH, headers={header: "203.0.113.7"})
    assert response.status_code == 404
    assert "sentinel_" not in response.text


@pytest.mark.parametrize(
    ("status", "kind"),
    [(200, None), (202, None), (400, "client"), (401, "client"), (409, "client"), (413, "client")]
    + [(422, "unprocessable"), (429, "rate_limited"), (500, "internal"), (503, "unavailable")],
)
def test_an_answers_status_names_the_kind_of_error(status, kind):
    assert metrics.error_kind(status) == kind


def test_forgetting_a_dead_process_drops_its_live_gauges_and_keeps_its_counts(tmp_path: Path):
    for name in ("gauge_livesum_101.db", "gauge_livemax_101.db", "counter_101.db", "histogram_101.db"):
        (tmp_path / name).touch()
    (tmp_path / "gauge_livesum_202.db").touch()
    forgotten = metrics.forget_dead_processes(str(tmp_path), alive=lambda pid: pid == 202)
    assert forgotten == [101]
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "counter_101.db",
        "gauge_livesum_202.db",
        "histogram_101.db",
    ]
