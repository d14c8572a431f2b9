"""The ingress's and the dispatchers' metrics: what they count, and a dispatcher's status read as metrics."""

import contextlib
import threading

import pytest
import requests
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from support import RecordingSink, Reply

from eventing.delivery import DeliverySpec
from eventing.metrics import DeliveryMetrics, DispatcherCollector, metrics_document, producing
from eventing.producer import BrokerUnavailable, RecordTooLarge
from eventing.sender import EventSender
from eventing.status_server import serve_status
from sentinel.codec.event import json_event
from sentinel.serving.metrics import exposition


def value(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


def a_status(**changes):
    status = {
        "healthy": True,
        "source": "score-source",
        "consumer_group": "sentinel-score",
        "counters": {"delivered": 7, "retried": 2, "dead_lettered": 1, "failed": 0},
        "partitions": [
            {"topic": "sentinel.transactions", "partition": 0, "committed": 5, "lag": 3, "in_flight": 1},
            {"topic": "sentinel.transactions", "partition": 1, "committed": None, "lag": None, "in_flight": 0},
        ],
    }
    return {**status, **changes}


def families_of(status):
    registry = CollectorRegistry()
    registry.register(DispatcherCollector(lambda: status))
    body, _ = exposition(registry)
    return {family.name: family for family in text_string_to_metric_families(body.decode())}


def samples(family):
    return {tuple(sorted(sample.labels.items())): sample.value for sample in family.samples}


def test_a_dispatchers_deliveries_are_read_from_its_counters_by_outcome():
    families = families_of(a_status())
    deliveries = samples(families["sentinel_dispatcher_deliveries"])
    assert deliveries == {
        (("outcome", "delivered"), ("source", "score-source")): 7,
        (("outcome", "dead_lettered"), ("source", "score-source")): 1,
    }
    assert samples(families["sentinel_dispatcher_retries"]) == {(("source", "score-source"),): 2}


def test_consumer_lag_is_one_gauge_per_partition_and_unknown_lag_is_left_out():
    lag = samples(families_of(a_status())["sentinel_dispatcher_consumer_lag"])
    labels = (
        ("consumer_group", "sentinel-score"),
        ("partition", "0"),
        ("source", "score-source"),
        ("topic", "sentinel.transactions"),
    )
    assert lag == {labels: 3}


def test_registering_a_dispatchers_metrics_does_not_read_its_status_before_it_runs():
    CollectorRegistry().register(DispatcherCollector(lambda: pytest.fail("the status was read at registration")))


def test_a_stalled_dispatcher_reports_itself_unhealthy():
    healthy = samples(families_of(a_status(healthy=False))["sentinel_dispatcher_healthy"])
    assert healthy == {(("source", "score-source"),): 0}


@pytest.mark.parametrize(
    ("error", "outcome"),
    [(None, "acknowledged"), (RecordTooLarge("big"), "refused"), (BrokerUnavailable("down"), "unavailable")],
)
def test_each_record_through_the_ingress_is_counted_by_outcome_and_timed(error, outcome):
    before = value("sentinel_ingress_records_total", topic="t-metrics", outcome=outcome)
    timed = value("sentinel_ingress_produce_seconds_count", topic="t-metrics")
    with pytest.raises(type(error)) if error else contextlib.nullcontext():
        with producing("t-metrics"):
            if error:
                raise error
    assert value("sentinel_ingress_records_total", topic="t-metrics", outcome=outcome) == before + 1
    assert value("sentinel_ingress_produce_seconds_count", topic="t-metrics") == timed + 1


def test_each_delivery_attempt_is_timed_by_target():
    sink = RecordingSink()
    sink.script(Reply(status=500), Reply(status=200))
    spec = DeliverySpec(retry=1, backoff_policy="linear", backoff_delay=0.01, timeout=5, dead_letter_sink=None)
    counters = DeliveryMetrics(source="timed-source")
    sender = EventSender(sink.url, None, spec, namespace="sentinel", concurrency=1, counters=counters)
    labels = {"source": "timed-source", "target": "sink"}
    try:
        sender.send(json_event({"type": "t", "source": "/s", "id": "e-1"}, {"a": 1}), threading.Event())
    finally:
        sender.close()
        sink.stop()
    assert value("sentinel_dispatcher_delivery_attempt_seconds_count", **labels) == 2
    assert counters.snapshot()["delivered"] == 1


def test_the_status_server_answers_metrics_beside_healthz():
    server = serve_status(lambda: {"healthy": True}, "127.0.0.1", 0, metrics=metrics_document)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        response = requests.get(f"{url}/metrics", timeout=5)
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        assert any(family.name == "process_cpu_seconds" for family in text_string_to_metric_families(response.text))
        assert requests.get(f"{url}/healthz", timeout=5).json() == {"healthy": True}
    finally:
        server.shutdown()
