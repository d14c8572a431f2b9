"""The UI's Pipeline page in a cluster: the Knative resources, read from the Kubernetes API.

A fake API server on 127.0.0.1 answers the three list requests with what a real one
returns for Knative Services, KafkaSources and KafkaSinks, and records what it was asked.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from ui_login import FakeAccounts, fake_login

from sentinel.config import Settings
from ui import create_app
from ui.kubernetes_status import KubernetesStatus
from ui.pipeline import NoPipelineStatus
from ui.server import default_status

NAMESPACE = "sentinel"
TOKEN = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImZha2UifQ.service-account.signature"
NOWHERE = "postgresql://nobody@127.0.0.1:9/nothing"
SERVICES = f"/apis/serving.knative.dev/v1/namespaces/{NAMESPACE}/services"
SOURCES = f"/apis/sources.knative.dev/v1/namespaces/{NAMESPACE}/kafkasources"
SINKS = f"/apis/eventing.knative.dev/v1alpha1/namespaces/{NAMESPACE}/kafkasinks"


def condition(kind: str, status: str, reason: str | None = None, message: str | None = None) -> dict[str, Any]:
    found = {"type": kind, "status": status, "lastTransitionTime": "2026-05-04T09:12:31Z"}
    return found | ({"reason": reason} if reason else {}) | ({"message": message} if message else {})


def resource(api_version: str, kind: str, name: str, spec: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
    metadata = {"name": name, "namespace": NAMESPACE, "generation": 1, "uid": f"uid-{name}"}
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, "spec": spec, "status": status}


def knative_service(name: str, ready: dict[str, Any]) -> dict[str, Any]:
    status = {
        "observedGeneration": 1,
        "conditions": [condition("ConfigurationsReady", ready["status"]), ready, condition("RoutesReady", "True")],
        "url": f"http://{name}.{NAMESPACE}.127.0.0.1.sslip.io",
        "address": {"url": f"http://{name}.{NAMESPACE}.svc.cluster.local"},
        "latestCreatedRevisionName": f"{name}-00001",
        "traffic": [{"revisionName": f"{name}-00001", "latestRevision": True, "percent": 100}],
    }
    container = {"image": f"dev.local/sentinel-{name}:latest"}
    return resource(
        "serving.knative.dev/v1", "Service", name, {"template": {"spec": {"containers": [container]}}}, status
    )


def kafka_source(name: str, topic: str, group: str, function: str, ready: dict[str, Any]) -> dict[str, Any]:
    spec = {
        "bootstrapServers": ["redpanda.sentinel.svc.cluster.local:9092"],
        "topics": [topic],
        "consumerGroup": group,
        "delivery": {"deadLetterSink": {"ref": {"kind": "KafkaSink", "name": "sentinel-dlq"}}},
        "sink": {"ref": {"apiVersion": "serving.knative.dev/v1", "kind": "Service", "name": function}},
    }
    status = {
        "conditions": [condition("ConsumerGroup", ready["status"]), ready, condition("SinkProvided", "True")],
        "sinkUri": f"http://{function}.{NAMESPACE}.svc.cluster.local",
        "consumers": 1,
        "placements": [{"podName": "kafka-source-dispatcher-0", "vreplicas": 1}],
    }
    return resource("sources.knative.dev/v1", "KafkaSource", name, spec, status)


def kafka_sink(name: str, topic: str) -> dict[str, Any]:
    address = f"http://kafka-sink-ingress.knative-eventing.svc.cluster.local/{NAMESPACE}/{name}"
    status = {
        "address": {"url": address},
        "conditions": [condition("Addressable", "True"), condition("Ready", "True"), condition("TopicReady", "True")],
    }
    return resource("eventing.knative.dev/v1alpha1", "KafkaSink", name, {"topic": topic, "numPartitions": 6}, status)


def listing(kind: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": items[0]["apiVersion"], "kind": f"{kind}List", "metadata": {}, "items": items}


CLUSTER = {
    SERVICES: listing(
        "Service",
        [
            knative_service("score", condition("Ready", "True")),
            knative_service(
                "persist",
                condition("Ready", "False", "RevisionFailed", 'Revision "persist-00001" failed: ImagePullBackOff'),
            ),
            knative_service(
                "alert",
                condition("Ready", "Unknown", "RevisionMissing", 'Configuration "alert" is waiting for a Revision'),
            ),
        ],
    ),
    SOURCES: listing(
        "KafkaSource",
        [kafka_source("score-source", "sentinel.transactions", "sentinel-score", "score", condition("Ready", "True"))],
    ),
    SINKS: listing(
        "KafkaSink",
        [kafka_sink("sentinel-scored", "sentinel.scored"), kafka_sink("sentinel-dlq", "sentinel.dlq")],
    ),
}
FORBIDDEN = {
    "kind": "Status",
    "apiVersion": "v1",
    "status": "Failure",
    "message": f'kafkasources.sources.knative.dev is forbidden: User "system:serviceaccount:{NAMESPACE}:ui"'
    f' cannot list resource "kafkasources" in API group "sources.knative.dev" in the namespace "{NAMESPACE}"',
    "reason": "Forbidden",
    "code": 403,
}


class FakeKubernetesApi:
    """Answers GETs from `answers` (path -> (status, JSON)), 404 otherwise; records each request's Authorization."""

    def __init__(self) -> None:
        self.answers: dict[str, tuple[int, dict[str, Any]]] = {path: (200, body) for path, body in CLUSTER.items()}
        self.authorizations: list[str | None] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                api.authorizations.append(self.headers.get("Authorization"))
                status, body = api.answers.get(self.path, (404, {"kind": "Status", "code": 404}))
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def api() -> Iterator[FakeKubernetesApi]:
    fake = FakeKubernetesApi()
    thread = threading.Thread(target=fake.server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    return path


@pytest.fixture
def status(api: FakeKubernetesApi, token_file: Path) -> KubernetesStatus:
    return KubernetesStatus(api.url, token_file, NAMESPACE)


def rows(status: KubernetesStatus) -> dict[str, dict[str, Any]]:
    snapshot = status.snapshot()
    assert snapshot.error is None
    return {row["name"]: row for row in snapshot.components}


def test_each_resource_is_a_row_eventing_first_then_the_functions(status):
    snapshot = status.snapshot()
    assert [(row["kind"], row["name"]) for row in snapshot.components] == [
        ("eventing", "sentinel-dlq"),
        ("eventing", "sentinel-scored"),
        ("eventing", "score-source"),
        ("function", "alert"),
        ("function", "persist"),
        ("function", "score"),
    ]


def test_a_resource_is_healthy_only_while_its_ready_condition_is_true(status):
    found = rows(status)
    assert (found["score"]["healthy"], found["score"]["reason"]) == (True, None)
    assert (found["persist"]["healthy"], found["persist"]["reason"]) == (
        False,
        'not ready: RevisionFailed: Revision "persist-00001" failed: ImagePullBackOff',
    )
    assert (found["alert"]["healthy"], found["alert"]["reason"]) == (
        False,
        'readiness unknown: RevisionMissing: Configuration "alert" is waiting for a Revision',
    )


def test_a_resource_not_yet_reconciled_is_not_healthy(api, status):
    unreconciled = knative_service("ingest", condition("Ready", "True"))
    unreconciled["status"] = {}
    api.answers[SERVICES] = (200, listing("Service", [unreconciled]))
    ingest = rows(status)["ingest"]
    assert (ingest["healthy"], ingest["reason"]) == (False, "no Ready condition yet: not reconciled")


def test_functions_and_sinks_are_at_their_cluster_address(status):
    found = rows(status)
    assert found["score"]["address"] == f"http://score.{NAMESPACE}.svc.cluster.local"
    assert found["sentinel-dlq"]["address"].endswith(f"/{NAMESPACE}/sentinel-dlq")


def test_a_kafka_source_shows_its_consumer_group_and_topics_and_no_lag_the_api_does_not_report(status):
    source = rows(status)["score-source"]
    assert (source["consumer_group"], source["topics"]) == ("sentinel-score", ["sentinel.transactions"])
    assert (source["lag"], source["lag_by_partition"], source["counters"]) == (None, {}, None)


def test_the_topics_are_the_sinks_and_the_dead_letter_topic_is_the_sources_dead_letter_sinks(status):
    snapshot = status.snapshot()
    assert snapshot.topics == {"sentinel.dlq": None, "sentinel.scored": None}
    assert snapshot.dead_letter_topics == ("sentinel.dlq",)
    assert snapshot.dead_letters is None


def test_every_request_carries_the_service_account_token_read_afresh_each_time(api, status, token_file):
    status.snapshot()
    token_file.write_text("rotated-token")
    status.snapshot()
    assert api.authorizations == [f"Bearer {TOKEN}"] * 3 + ["Bearer rotated-token"] * 3


def test_a_forbidden_list_says_which_permission_the_role_lacks(api, status):
    api.answers[SOURCES] = (403, FORBIDDEN)
    snapshot = status.snapshot()
    assert snapshot.components == []
    assert snapshot.error == (
        f"the UI's service account may not list KafkaSources (kafkasources.sources.knative.dev) in the namespace"
        f" {NAMESPACE} (403 Forbidden): its Role must let it get, list and watch them (knative/infra/ui.yaml)"
    )


def test_a_kind_the_cluster_does_not_serve_asks_whether_its_provider_is_installed(api, status):
    del api.answers[SINKS]
    assert "is eventing-kafka-broker installed?" in status.snapshot().error


def test_an_unreachable_api_says_it_cannot_be_reached(token_file):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{unused.getsockname()[1]}"
    snapshot = KubernetesStatus(url, token_file, NAMESPACE).snapshot()
    assert snapshot.error == f"the Kubernetes API at {url} could not be reached: Connection refused"


def test_a_missing_token_is_an_error_that_names_its_file(api, tmp_path):
    snapshot = KubernetesStatus(api.url, tmp_path / "token", NAMESPACE).snapshot()
    assert (
        snapshot.error
        == f"the service account token could not be read from {tmp_path / 'token'}: No such file or directory"
    )
    assert api.authorizations == []


@pytest.mark.parametrize("answer", [(401, {"kind": "Status", "code": 401}), (403, FORBIDDEN), (500, {})])
def test_no_error_shows_the_token(api, status, answer):
    api.answers[SERVICES] = answer
    error = status.snapshot().error
    assert error and TOKEN not in error and "Traceback" not in error


def service_account(tmp_path: Path) -> Path:
    for name, content in (("token", TOKEN), ("ca.crt", "-----BEGIN CERTIFICATE-----\n"), ("namespace", NAMESPACE)):
        (tmp_path / name).write_text(content)
    return tmp_path


def test_in_a_pod_the_api_namespace_and_credentials_come_from_the_environment_and_service_account(tmp_path):
    environ = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    status = KubernetesStatus.in_cluster(environ, service_account(tmp_path))
    assert (status.api_url, status.namespace) == ("https://10.96.0.1:443", NAMESPACE)


def test_an_ipv6_api_host_is_bracketed_in_the_url(tmp_path):
    environ = {"KUBERNETES_SERVICE_HOST": "fd00:10:96::1", "KUBERNETES_SERVICE_PORT": "443"}
    assert KubernetesStatus.in_cluster(environ, service_account(tmp_path)).api_url == "https://[fd00:10:96::1]:443"


def test_the_ui_reads_the_cluster_when_it_runs_in_a_pod(tmp_path):
    environ = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    assert isinstance(default_status(environ, service_account(tmp_path)), KubernetesStatus)


def test_outside_a_pod_the_ui_knows_no_pipeline(tmp_path):
    assert isinstance(default_status({}, service_account(tmp_path)), NoPipelineStatus)
    assert isinstance(default_status({"KUBERNETES_SERVICE_HOST": "10.96.0.1"}, tmp_path / "none"), NoPipelineStatus)


@pytest.fixture
def page(status, tmp_path):
    accounts = FakeAccounts()
    settings = replace(Settings.from_env(), database_url=NOWHERE, state_dir=tmp_path)
    return fake_login(create_app(settings, status=status, accounts=accounts), accounts)


def test_the_pipeline_page_shows_each_resource_and_why_it_is_down(page):
    body = page.get("/partials/pipeline").get_data(as_text=True)
    for name in ("sentinel-dlq", "sentinel-scored", "score-source", "score", "persist", "alert"):
        assert f'data-component="{name}"' in body, name
    assert "ImagePullBackOff" in body
    assert "4 of 6 healthy" in body


def test_the_pipeline_page_says_why_the_api_could_not_be_read(api, page):
    api.answers[SOURCES] = (403, FORBIDDEN)
    body = page.get("/partials/pipeline").get_data(as_text=True)
    assert "403 Forbidden" in body and "knative/infra/ui.yaml" in body
    assert TOKEN not in body


def test_the_pipeline_api_reports_the_resources_as_json(page):
    document = page.get("/api/pipeline").json
    assert document["healthy"] is False and document["error"] is None
    assert {row["name"]: row["healthy"] for row in document["components"]}["score"] is True
