"""The Grafana dashboard in knative/observability/: it reads only what the components serve, and covers the pipeline."""

import json
import re

import pytest
from prometheus_client import REGISTRY

import eventing.metrics  # noqa: F401 (defines the ingress's and dispatchers' metrics)
import sentinel.serving.metrics  # noqa: F401 (defines the functions' metrics)
from eventing.metrics import DispatcherCollector
from sentinel.config import PROJECT_ROOT

DASHBOARD = PROJECT_ROOT / "knative" / "observability" / "grafana-dashboard.json"
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


@pytest.fixture(scope="module")
def dashboard():
    return json.loads(DASHBOARD.read_text())


def served_names() -> set[str]:
    """Every series name the functions, the ingress and a dispatcher serve."""
    dispatcher = DispatcherCollector(lambda: pytest.fail("describing a dispatcher's metrics needs no status"))
    families = [*REGISTRY.collect(), *dispatcher.describe()]
    return {family.name + suffix for family in families for suffix in SUFFIXES.get(family.type, ("",))}


def queried_names(dashboard) -> set[str]:
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    return {name for expression in expressions for name in re.findall(r"\bsentinel_\w+", expression)}


def test_every_metric_the_dashboard_queries_is_one_a_component_serves(dashboard):
    assert queried_names(dashboard) - served_names() == set()


def test_the_dashboard_covers_rates_errors_latency_decisions_risk_dead_letters_lag_duplicates_and_reloads(dashboard):
    assert {
        "sentinel_function_requests_total",
        "sentinel_function_errors_total",
        "sentinel_function_request_duration_seconds_bucket",
        "sentinel_score_decisions_total",
        "sentinel_score_risk_score_bucket",
        "sentinel_dispatcher_deliveries_total",
        "sentinel_dispatcher_retries_total",
        "sentinel_dispatcher_consumer_lag",
        "sentinel_function_duplicates_total",
        "sentinel_score_setup_changes_total",
    } <= queried_names(dashboard)


def test_every_panel_says_what_it_shows_and_reads_the_chosen_prometheus(dashboard):
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["title"] and panel["description"], panel["title"]
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
