"""The OpenTelemetry Collector configuration shipped beside the manifests fits what the functions send."""

import yaml

from sentinel.config import PROJECT_ROOT

MANIFEST = PROJECT_ROOT / "knative" / "observability" / "otel-collector.yaml"
POLICIES = PROJECT_ROOT / "knative" / "infra" / "network-policies.yaml"


def collector_config() -> dict:
    return yaml.safe_load(yaml.safe_load(MANIFEST.read_text())["data"]["config.yaml"])


def test_the_collector_takes_otlp_over_http_on_the_port_the_functions_may_reach():
    endpoint = collector_config()["receivers"]["otlp"]["protocols"]["http"]["endpoint"]
    [policy] = [
        document
        for document in yaml.safe_load_all(POLICIES.read_text())
        if document["metadata"]["name"] == "functions-to-trace-collector"
    ]
    assert int(endpoint.rsplit(":", 1)[1]) in {port["port"] for port in policy["spec"]["egress"][0]["ports"]}


def test_every_component_of_the_traces_pipeline_is_defined():
    config = collector_config()
    pipeline = config["service"]["pipelines"]["traces"]
    for kind in ("receivers", "processors", "exporters"):
        assert set(pipeline[kind]) <= set(config[kind]), kind
