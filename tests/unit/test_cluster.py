"""The cluster path without a cluster: kind-config.yaml, the k8s tasks, and the images.

The tasks are checked through the real `task` binary (go-task-bin in the dev group):
`task --list`, and `task --dry k8s:up`, which prints every command `k8s:up` would run
with its variables filled in. Stand-ins for docker and kind come first on PATH, so the
dry run never touches a real Docker or cluster. The images are checked from their
Dockerfiles and from the import graph of the code each one runs.
"""

from __future__ import annotations

import ast
import importlib.metadata
import inspect
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from dockerfiles import (
    FUNCTIONS,
    IMAGES_DIR,
    copied_paths,
    dockerfile,
    dockerfile_of,
    extras_installed,
    image_command,
    image_env,
    instructions,
)

from eventing import topology
from sentinel.config import PROJECT_ROOT

TASK = Path(sys.executable).parent / "task"
KNATIVE_DIR = PROJECT_ROOT / "knative"
RELEASE_URL = re.compile(r"https://github\.com/(knative(?:-extensions)?/[\w-]+)/releases/download/([^/\s]+)/([\w.-]+)")
# Every Knative piece the cluster needs, by repository and release asset.
RELEASE_ASSETS = {
    ("knative/serving", "serving-crds.yaml"),
    ("knative/serving", "serving-core.yaml"),
    ("knative-extensions/net-kourier", "kourier.yaml"),
    ("knative/eventing", "eventing-crds.yaml"),
    ("knative/eventing", "eventing-core.yaml"),
    ("knative-extensions/eventing-kafka-broker", "eventing-kafka-controller.yaml"),
    ("knative-extensions/eventing-kafka-broker", "eventing-kafka-source.yaml"),
    ("knative-extensions/eventing-kafka-broker", "eventing-kafka-sink.yaml"),
}
PUBLIC_TASKS = {"k8s:doctor", "k8s:up", "k8s:status", "k8s:watch", "k8s:send", "k8s:prefect", "k8s:retrain", "k8s:down"}
WEBHOOK = "http://hooks.example/sentinel"


@pytest.fixture(scope="module")
def kind_config() -> dict[str, Any]:
    return yaml.safe_load((PROJECT_ROOT / "kind-config.yaml").read_text())


@pytest.fixture(scope="module")
def taskfile_vars() -> dict[str, str]:
    return yaml.safe_load((PROJECT_ROOT / "taskfiles" / "k8s.yml").read_text())["vars"]


def dry_run_up(stand_ins: Path, variables: dict[str, str]) -> list[str]:
    """The commands `task k8s:up` runs, in order, as `task --dry` prints them with `variables` in its environment."""
    for tool in ("docker", "kind"):
        (stand_ins / tool).write_text("#!/bin/sh\nexit 0\n")
        (stand_ins / tool).chmod(0o755)
    env = {"PATH": f"{stand_ins}:/usr/bin:/bin", "HOME": str(stand_ins), **variables}
    result = subprocess.run(
        [str(TASK), "--dry", "k8s:up"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    commands = re.split(r"^task: \[[\w:-]+\] ", result.stderr, flags=re.MULTILINE)
    return [command.strip() for command in commands if command.strip()]


@pytest.fixture(scope="module")
def up_plan(tmp_path_factory) -> list[str]:
    """The plan of `task k8s:up` with ALERT_WEBHOOK_URL set."""
    return dry_run_up(tmp_path_factory.mktemp("bin"), {"ALERT_WEBHOOK_URL": WEBHOOK})


def manifests() -> list[dict[str, Any]]:
    """Every resource under knative/, as written (kustomize adds only the namespace and labels)."""
    documents = []
    for path in sorted(KNATIVE_DIR.rglob("*.yaml")):
        if path.name != "kustomization.yaml":
            documents += [document for document in yaml.safe_load_all(path.read_text()) if document]
    return documents


def resource(kind: str, name: str) -> dict[str, Any]:
    (document,) = [d for d in manifests() if d["kind"] == kind and d["metadata"]["name"] == name]
    return document


def containers(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The containers of a workload: a Deployment, StatefulSet, Job or Knative Service."""
    template = document.get("spec", {}).get("template", {})
    return template.get("spec", {}).get("containers", [])


def node_port(service: str) -> int:
    (port,) = resource("Service", service)["spec"]["ports"]
    return port["nodePort"]


# -- kind-config.yaml ------------------------------------------------------------


def test_kind_config_is_one_control_plane_and_at_most_one_worker_on_a_pinned_node_image(kind_config, taskfile_vars):
    assert (kind_config["kind"], kind_config["apiVersion"]) == ("Cluster", "kind.x-k8s.io/v1alpha4")
    assert kind_config["name"] == taskfile_vars["CLUSTER"]
    roles = [node["role"] for node in kind_config["nodes"]]
    assert roles in (["control-plane"], ["control-plane", "worker"])
    (image,) = {node["image"] for node in kind_config["nodes"]}
    assert re.fullmatch(r"kindest/node:v\d+\.\d+\.\d+@sha256:[0-9a-f]{64}", image)


def test_kind_maps_kourier_and_the_ui_to_the_same_ports_on_the_hosts_loopback(kind_config, taskfile_vars):
    mappings = [mapping for node in kind_config["nodes"] for mapping in node.get("extraPortMappings", [])]
    assert all(m["hostPort"] == m["containerPort"] and m["listenAddress"] == "127.0.0.1" for m in mappings)
    ports = {m["hostPort"] for m in mappings}
    assert ports == {int(taskfile_vars[name]) for name in ("KOURIER_PORT", "UI_PORT")}
    assert node_port("ui") == int(taskfile_vars["UI_PORT"])


def test_prefects_api_has_no_host_port_and_is_reached_by_port_forward_alone(kind_config, taskfile_vars, up_plan):
    (port,) = resource("Service", "prefect-server")["spec"]["ports"]
    assert resource("Service", "prefect-server")["spec"]["type"] == "ClusterIP" and "nodePort" not in port
    result = subprocess.run(
        [str(TASK), "--dry", "k8s:prefect"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert f"port-forward --address 127.0.0.1 service/prefect-server {taskfile_vars['PREFECT_PORT']}:4200" in (
        result.stderr
    )


# -- the tasks -------------------------------------------------------------------


def test_task_lists_the_k8s_tasks():
    result = subprocess.run(
        [str(TASK), "--list", "--color=false"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    listed = set(re.findall(r"^\* ([\w:-]+):", result.stdout, flags=re.MULTILINE))
    assert PUBLIC_TASKS <= listed


def test_every_knative_release_url_is_of_one_pinned_1_23_release(up_plan):
    downloads = [match for command in up_plan for match in RELEASE_URL.findall(command)]
    assert {(repository, asset) for repository, _, asset in downloads} == RELEASE_ASSETS
    (release,) = {release for _, release, _ in downloads}
    assert re.fullmatch(r"knative-v1\.23\.\d+", release)


def test_k8s_up_installs_then_deploys_infrastructure_then_prepares_then_deploys_the_functions(up_plan):
    def position(fragment: str) -> int:
        return next(index for index, command in enumerate(up_plan) if fragment in command)

    steps = [
        "kind create cluster",
        "eventing-kafka-sink.yaml",
        "docker build -f images/function.Dockerfile",
        "kind load image-archive",
        "create secret generic sentinel-services",
        "apply -k build/k8s/infra",
        "delete job sentinel-prepare",
        "apply -k build/k8s/prepare",
        "apply -k build/k8s/functions",
        "wait --for=condition=Ready ksvc",
    ]
    assert [position(step) for step in steps] == sorted(position(step) for step in steps)


def position_of(up_plan: list[str], fragment: str) -> int:
    (index,) = [index for index, command in enumerate(up_plan) if fragment in command]
    return index


def test_k8s_up_checks_for_cgroup_v2_before_it_creates_the_cluster(up_plan, tmp_path):
    """kind's Kubernetes 1.35 node image needs cgroup v2: the check runs first, and fails on v1."""
    check = position_of(up_plan, ".CgroupVersion")
    assert check < position_of(up_plan, "kind create cluster")
    for version, status in (("2", 0), ("1", 1)):
        (tmp_path / "docker").write_text(f"#!/bin/sh\necho {version}\n")
        (tmp_path / "docker").chmod(0o755)
        result = subprocess.run(
            ["sh", "-c", up_plan[check]], env={"PATH": f"{tmp_path}:/usr/bin:/bin"}, capture_output=True, text=True
        )
        assert result.returncode == status, (version, result.stderr)
    assert "cgroup v2" in result.stderr and "k8s:doctor" in result.stderr


def test_the_cgroup_check_says_when_docker_does_not_answer_rather_than_blaming_cgroups(up_plan, tmp_path):
    (tmp_path / "docker").write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n")
    (tmp_path / "docker").chmod(0o755)
    result = subprocess.run(
        ["sh", "-c", up_plan[position_of(up_plan, ".CgroupVersion")]],
        env={"PATH": f"{tmp_path}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "does not answer" in result.stderr and "cgroup v" not in result.stderr


def test_images_are_loaded_from_archives_of_one_platform_not_with_kind_load_docker_image(up_plan, taskfile_vars):
    """`kind load docker-image` fails on Docker's containerd image store (kind issue 3795)."""
    plan = "\n".join(up_plan)
    assert "kind load docker-image" not in plan
    for image in taskfile_vars["IMAGES"].split():
        (command,) = [
            command for command in up_plan if f"docker save $platform -o build/images/sentinel-{image}.tar" in command
        ]
        archive = f"build/images/sentinel-{image}.tar"
        save = command.index(f"docker save $platform -o {archive} dev.local/sentinel-{image}:$id")
        assert command.index(f"kind load image-archive --name sentinel {archive}") > save
        assert "--platform=$(docker version --format '{{.Server.Os}}/{{.Server.Arch}}')" in command
    assert "build/" in (PROJECT_ROOT / ".gitignore").read_text().split()


def test_the_sinks_and_bindings_are_applied_and_their_webhook_ready_before_the_services(up_plan):
    """Else ingest's and score's first revisions are made without K_SINK and never become ready."""
    (services,) = [index for index, command in enumerate(up_plan) if command.endswith("apply -k build/k8s/functions")]
    first = position_of(up_plan, "-f knative/eventing/")
    applied = re.findall(r"-f (\S+)", up_plan[first])
    kinds = {d["kind"] for path in applied for d in yaml.safe_load_all((PROJECT_ROOT / path).read_text()) if d}
    assert kinds == {"KafkaSink", "SinkBinding"}
    # Every KafkaSink and SinkBinding of the topology is among them.
    assert {d["metadata"]["name"] for d in manifests() if d["kind"] in kinds} == {
        d["metadata"]["name"] for path in applied for d in yaml.safe_load_all((PROJECT_ROOT / path).read_text()) if d
    }
    sinks_ready = position_of(up_plan, "wait --for=condition=Ready kafkasinks")
    injected = position_of(up_plan, "--dry-run=server")
    assert "K_SINK" in up_plan[injected] and "get sinkbindings" in up_plan[injected]
    assert first < sinks_ready < injected < services < position_of(up_plan, "wait --for=condition=Ready ksvc")


def test_the_prepare_wait_ends_when_the_job_fails_and_shows_its_logs(up_plan, tmp_path):
    """`kubectl wait --for=condition=Complete` alone reports a failed Job only after its whole timeout."""
    (command,) = [command for command in up_plan if "get job/sentinel-prepare" in command]
    kubectl = f"{PROJECT_ROOT}/.venv/bin/kubectl"
    assert kubectl in command
    for conditions, status in (("Failed", 1), ("SuccessCriteriaMet Complete", 0), ("FailureTarget Failed", 1)):
        stand_in = tmp_path / f"kubectl-{status}-{len(conditions)}"
        stand_in.write_text(
            f'#!/bin/sh\ncase "$*" in *logs*) echo "the prepare log";; *get*) printf "{conditions}";; esac\n'
        )
        stand_in.chmod(0o755)
        result = subprocess.run(
            ["sh", "-c", command.replace(kubectl, str(stand_in))], capture_output=True, text=True, timeout=20
        )
        assert result.returncode == status, (conditions, result.stdout, result.stderr)
        assert ("the prepare log" in result.stdout) == (status == 1)


def test_the_services_wait_until_the_binding_webhook_has_injected_k_sink_into_every_bound_one(up_plan, tmp_path):
    """The dry run repeats until each SinkBinding's Service carries K_SINK; it fails if one never does."""
    (command,) = [command for command in up_plan if "--dry-run=server" in command]
    kubectl = f"{PROJECT_ROOT}/.venv/bin/kubectl"
    assert kubectl in command
    (tmp_path / "sleep").write_text("#!/bin/sh\nexit 0\n")  # no real pause between attempts
    (tmp_path / "sleep").chmod(0o755)
    bindings = "".join(
        f"sinkbinding.sources.knative.dev/{d['metadata']['name']}\\n" for d in manifests() if d["kind"] == "SinkBinding"
    )
    for injected, from_attempt, status, attempts in ((2, 3, 0, 3), (1, 1, 1, 60)):
        case = tmp_path / f"case-{injected}"
        case.mkdir()
        (case / "injected.yaml").write_text("kind: List\n" + "            - name: K_SINK\n" * injected)
        stand_in = case / "kubectl"
        stand_in.write_text(
            "#!/bin/sh\n"
            'case "$*" in\n'
            f"  *'get sinkbindings'*) printf '{bindings}' ;;\n"
            f"  *--dry-run=server*) echo attempt >> {case / 'attempts'}\n"
            f"    if [ $(wc -l < {case / 'attempts'}) -ge {from_attempt} ]; then cat {case / 'injected.yaml'};"
            " else echo 'kind: List'; fi ;;\n"
            "esac\n"
        )
        stand_in.chmod(0o755)
        result = subprocess.run(
            ["sh", "-c", command.replace(kubectl, str(stand_in))],
            env={"PATH": f"{tmp_path}:/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=20,
        )
        assert result.returncode == status, (injected, result.stdout, result.stderr)
        assert len((case / "attempts").read_text().splitlines()) == attempts
    assert "injected K_SINK into 1 of 2 Services" in result.stderr


def test_kourier_is_the_ingress_on_the_mapped_port_and_ingest_is_reached_through_it(up_plan, taskfile_vars):
    plan = "\n".join(up_plan)
    assert '"ingress-class":"kourier.ingress.networking.knative.dev"' in plan
    assert f'"nodePort":{taskfile_vars["KOURIER_PORT"]}' in plan
    assert '"kubernetes.podspec-volumes-emptydir":"enabled"' in plan
    domain = re.search(r"patch configmap config-domain --type merge -p '\{\"data\":\{\"([\w.-]+)\":\"\"\}\}'", plan)
    assert domain, "k8s:up sets no domain for the Knative Services"
    # k8s:status prints the URL k8s:send posts to: the ingest Service's host, at Kourier's host port.
    url = f"http://ingest.sentinel.{domain.group(1)}:{taskfile_vars['KOURIER_PORT']}/"
    assert url in plan
    assert "networking.knative.dev/visibility" not in resource("Service", "ingest")["metadata"]["labels"]


def created_keys(up_plan: list[str], kind: str, name: str) -> set[str]:
    (command,) = [command for command in up_plan if f"create {kind} {name}" in command]
    return set(re.findall(r"--from-literal=([\w.-]+)=", command))


def created_secrets(up_plan: list[str]) -> dict[tuple[str, str], set[str]]:
    """Every generic Secret `task k8s:up` creates, with its keys."""
    names = {name for command in up_plan for name in re.findall(r"create secret generic ([\w.-]+)", command)}
    return {("Secret", name): created_keys(up_plan, "secret generic", name) for name in names}


def test_every_secret_and_config_map_reference_resolves_to_what_k8s_up_creates(up_plan):
    created = {
        **created_secrets(up_plan),
        ("ConfigMap", "sentinel-config"): created_keys(up_plan, "configmap", "sentinel-config"),
    }
    references = []
    for document in manifests():
        for container in containers(document):
            for entry in container.get("env", []):
                for kind, ref in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
                    if ref in entry.get("valueFrom", {}):
                        references.append((kind, entry["valueFrom"][ref]))
    assert references
    for kind, ref in references:
        # An optional key may be added later (a rotation's `previous`); its Secret must exist.
        assert ref["key"] in created[(kind, ref["name"])] or ref.get("optional"), (kind, ref)
        # Without ALERT_WEBHOOK_URL the ConfigMap has no keys: only optional references may use it.
        assert kind == "Secret" or ref.get("optional"), ref


def test_each_setting_given_to_k8s_up_reaches_the_containers_that_read_it(tmp_path):
    """`NAME=value task k8s:up` stores the value in sentinel-config under the key each container reads NAME from."""
    readers = {
        (entry["name"], entry["valueFrom"]["configMapKeyRef"]["key"])
        for document in manifests()
        for container in containers(document)
        for entry in container.get("env", [])
        if entry.get("valueFrom", {}).get("configMapKeyRef", {}).get("name") == "sentinel-config"
    }
    assert {name for name, _ in readers} >= {"ALERT_WEBHOOK_URL", "SENTINEL_RETRAIN_CRON"}
    values = {name: f"value of {name}" for name, _ in readers}
    plan = dry_run_up(tmp_path, values)
    (command,) = [command for command in plan if "create configmap sentinel-config" in command]
    words = shlex.split(command.split("|")[0])
    stored = dict(word.removeprefix("--from-literal=").split("=", 1) for word in words if word.startswith("--from-"))
    for name, key in readers:
        assert stored.get(key) == values[name], (name, key, stored)


def test_no_credential_is_committed():
    for document in manifests():
        assert document["kind"] != "Secret"
        for container in containers(document):
            for entry in container.get("env", []):
                if "value" in entry:
                    assert not re.search(r"PASSWORD|SECRET|TOKEN", entry["name"]), entry
                    assert not re.search(r"://[^/@]*:[^/@]*@", entry["value"]), entry


def test_the_generated_connection_urls_name_the_infrastructures_services_and_database(up_plan):
    (command,) = [command for command in up_plan if "create secret generic sentinel-services" in command]
    database = re.search(
        r'database-url="postgresql://(\w+):\$\w+@postgres\.sentinel\.svc\.cluster\.local:(\d+)/(\w+)"', command
    )
    redis = re.search(r'redis-url="redis://:\$\w+@redis\.sentinel\.svc\.cluster\.local:(\d+)/\d+"', command)
    assert database and redis, command
    user, port, name = database.groups()
    assert int(port) == resource("Service", "postgres")["spec"]["ports"][0]["port"]
    (postgres,) = containers(resource("StatefulSet", "postgres"))
    env = {entry["name"]: entry.get("value") for entry in postgres["env"]}
    assert (env["POSTGRES_USER"], env["POSTGRES_DB"]) == (user, name)
    assert int(redis.group(1)) == resource("Service", "redis")["spec"]["ports"][0]["port"]


# -- the images ------------------------------------------------------------------


def shipped(path: Path, copied: set[str]) -> bool:
    relative = path.relative_to(PROJECT_ROOT).as_posix()
    return any(relative == source or relative.startswith(source + "/") for source in copied)


def deployed_images() -> set[str]:
    """The names of the project's images the manifests run (dev.local/sentinel-<name>)."""
    return {
        container["image"].split(":")[0].removeprefix("dev.local/sentinel-")
        for document in manifests()
        for container in containers(document)
        if container["image"].startswith("dev.local/")
    }


def test_every_deployed_image_is_built_by_k8s_up(up_plan, taskfile_vars):
    built = taskfile_vars["IMAGES"].split()
    assert set(deployed_images()) <= set(built)
    assert taskfile_vars["FUNCTIONS"].split() == list(topology.load().functions)
    for image in built:
        name, build_args = dockerfile_of(image)
        arguments = "".join(f"--build-arg {key}={value} " for key, value in build_args.items())
        expected = f"docker build -f images/{name}.Dockerfile {arguments}-t dev.local/sentinel-{image}:latest"
        assert any(expected in command for command in up_plan), expected


def test_every_image_builds_from_public_images_and_its_own_stages_alone():
    """An image built here (dev.local/...) as a base is seen only by Docker's default build driver, which reads
    the engine's images: BuildKit's docker-container driver, or a remote builder, tries to pull it and fails."""
    for path in sorted(IMAGES_DIR.glob("*.Dockerfile")):
        stages: set[str] = set()
        for kind, arguments in dockerfile(path.name.removesuffix(".Dockerfile")):
            words = [word for word in arguments.split() if not word.startswith("--platform")]
            if kind == "FROM":
                assert words[0] in stages or not words[0].startswith("dev.local/"), (path.name, arguments)
                if len(words) == 3 and words[1].upper() == "AS":
                    stages.add(words[2])
            elif kind == "COPY" and words[0].startswith("--from="):
                assert words[0].removeprefix("--from=") in stages, (path.name, arguments)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_function_image_runs_what_the_local_stack_runs(function):
    """functions-framework takes --target and --source from FUNCTION_TARGET and FUNCTION_SOURCE."""
    env = image_env(function)
    executable, *flags = image_command(function)
    command = [executable, "--target", env["FUNCTION_TARGET"], "--source", env["FUNCTION_SOURCE"], *flags]
    assert command == list(topology.load().functions[function].command)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_function_image_holds_its_own_function_and_no_other(function):
    copied = copied_paths(function)
    assert f"functions/{function}" in copied
    assert not copied & {f"functions/{other}" for other in FUNCTIONS if other != function}
    assert extras_installed(function) == set()


def test_the_ui_and_training_images_run_what_their_deployments_run():
    assert image_command("ui") == containers(resource("Deployment", "ui"))[0]["command"]
    assert image_command("training") == containers(resource("Deployment", "prefect-server"))[0]["command"]
    assert extras_installed("ui") == {"ui"} and extras_installed("training") == {"training"}


def test_every_image_that_installs_dependencies_uses_the_uv_that_uv_lock_pins():
    lock = tomllib.loads((PROJECT_ROOT / "uv.lock").read_text())
    (locked,) = [package["version"] for package in lock["package"] if package["name"] == "uv"]
    for path in sorted(IMAGES_DIR.glob("*.Dockerfile")):
        assert "uv sync" in path.read_text(), path.name
        assert re.findall(r"uv==([\w.]+)", path.read_text()) == [locked], path.name


# The code each image runs.
IMAGE_ENTRY_POINTS = {
    **{name: [f"functions/{name}/main.py"] for name in FUNCTIONS},
    "ui": ["ui/__main__.py"],
    "training": ["images/prepare_database.py", "training/flows.py", "training/prefect_service.py"],
}


@pytest.mark.parametrize("image", sorted(IMAGE_ENTRY_POINTS))
def test_an_image_holds_every_module_its_code_imports(image):
    """Module-level imports, followed through the project: each is copied, installed, or the standard library."""
    installed = locked_distributions(extras_installed(image))
    copied = copied_paths(image)
    project, third_party = import_closure([PROJECT_ROOT / entry for entry in IMAGE_ENTRY_POINTS[image]])
    missing = sorted(module for module in project if not shipped(_project_file(module.split(".")), copied))
    assert not missing, f"{image} imports modules it does not copy: {missing}"
    distributions = importlib.metadata.packages_distributions()
    for module in sorted(third_party):
        providers = {_normal(name) for name in distributions.get(module, [])}
        assert providers & installed, f"{image} imports {module}, which its image does not install"


def test_function_images_install_neither_the_trainer_nor_prefect_nor_a_kafka_client():
    installed = locked_distributions(set())
    assert not installed & {"xgboost", "xgboost-cpu", "prefect", "scikit-learn", "confluent-kafka", "onnxmltools"}
    assert {"functions-framework", "onnxruntime"} <= installed


def test_the_prepare_job_runs_the_script_the_training_image_copies_with_the_bootstrap_it_calls():
    from sentinel.stores import database
    from training.bootstrap import ensure_champion

    (container,) = containers(resource("Job", "sentinel-prepare"))
    assert container["command"] == ["python", "prepare_database.py"]
    assert "images/prepare_database.py ./" in instructions("training", "COPY")
    inspect.signature(ensure_champion).bind("postgresql://x", rows=1, progress=print)
    inspect.signature(database.migrate).bind("postgresql://x")


def test_the_worker_serves_the_deployments_sentinel_up_serves_from_the_same_definition(taskfile_vars):
    """The cluster's worker runs the local flow server's entry point: retrain, evaluate and drift, on one cron."""
    from training import prefect_env, prefect_service

    (worker,) = containers(resource("Deployment", "prefect-worker"))
    local = prefect_service.serve_command()
    assert Path(local[0]).name == worker["command"][0] == "python"
    assert worker["command"][1:] == local[1:]
    assert taskfile_vars["RETRAIN_DEPLOYMENT"] == f"retrain/{prefect_service.RETRAIN_DEPLOYMENT}"
    # The flow server's own settings, as the local stack gives them, are set in the cluster too
    # (those of training.prefect_env the entry point sets itself, unless they are set).
    env = {entry["name"]: entry for entry in worker["env"]}
    local_env = set(prefect_service.serve_env(Path("/state"), 4200, 4201, "password"))
    assert local_env - set(prefect_env.settings_for(Path("/state"))) <= set(env)
    # The runner's health endpoint stays on loopback, where the readiness probe asks it.
    port = env["PREFECT_RUNNER_SERVER_PORT"]["value"]
    assert env["PREFECT_RUNNER_SERVER_HOST"]["value"] == "127.0.0.1"
    assert f"http://127.0.0.1:{port}/health" in " ".join(worker["readinessProbe"]["exec"]["command"])
    # The schedule comes from the same variable the local stack reads (optional: else the same default).
    assert env["SENTINEL_RETRAIN_CRON"]["valueFrom"]["configMapKeyRef"]["optional"] is True


def test_the_worker_is_given_no_redis_as_its_flows_use_none():
    """A variable naming a service the code does not use misleads, and widens what a leak exposes."""
    _, third_party = import_closure(
        [PROJECT_ROOT / "training" / "prefect_service.py", PROJECT_ROOT / "training" / "flows.py"]
    )
    (worker,) = containers(resource("Deployment", "prefect-worker"))
    assert "redis" not in third_party
    assert "REDIS_URL" not in {entry["name"] for entry in worker["env"]}


def test_every_statefulset_is_governed_by_a_headless_service_selecting_its_pods():
    for document in manifests():
        if document["kind"] == "StatefulSet":
            service = resource("Service", document["spec"]["serviceName"])
            assert service["spec"].get("clusterIP") == "None", document["metadata"]["name"]
            labels = document["spec"]["template"]["metadata"]["labels"]
            assert service["spec"]["selector"].items() <= labels.items(), document["metadata"]["name"]


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_distributions(extras: set[str]) -> set[str]:
    """The distributions uv.lock installs for the project's main dependencies plus `extras`."""
    lock = tomllib.loads((PROJECT_ROOT / "uv.lock").read_text())
    packages = {package["name"]: package for package in lock["package"]}
    seen: set[tuple[str, tuple[str, ...]]] = set()
    pending = [("sentinel", tuple(sorted(extras)))]
    while pending:
        key = pending.pop()
        if key in seen:
            continue
        seen.add(key)
        name, wanted = key
        package = packages[name]
        dependencies = list(package.get("dependencies", []))
        for extra in wanted:
            dependencies += package.get("optional-dependencies", {}).get(extra, [])
        pending += [(dependency["name"], tuple(sorted(dependency.get("extra", [])))) for dependency in dependencies]
    return {name for name, _ in seen} - {"sentinel"}


def import_closure(entry_points: list[Path]) -> tuple[set[str], set[str]]:
    """(project modules, third-party top-level modules) imported when the entry points are loaded."""
    project_packages = {path.name for path in PROJECT_ROOT.iterdir() if (path / "__init__.py").exists()}
    project: set[str] = set()
    third_party: set[str] = set()
    pending = list(entry_points)
    seen: set[Path] = set()
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        for module in _module_level_imports(path):
            top = module.split(".")[0]
            if top in project_packages:
                parts = module.split(".")
                for depth in range(1, len(parts) + 1):
                    file = _project_file(parts[:depth])
                    if file:
                        project.add(".".join(parts[:depth]))
                        pending.append(file)
            elif top not in sys.stdlib_module_names:
                third_party.add(top)
    return project, third_party


def _project_file(parts: list[str]) -> Path | None:
    base = PROJECT_ROOT.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _module_level_imports(path: Path) -> set[str]:
    """Modules a file imports as it loads: top-level statements, inside if/try too, but not TYPE_CHECKING."""
    names: set[str] = set()

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.If) and not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                for block in (node.body, node.orelse, node.finalbody, *(handler.body for handler in node.handlers)):
                    visit(block)

    visit(ast.parse(path.read_text()).body)
    return names


# -- hardening -------------------------------------------------------------------


KAFKA_AUTH_KEYS = {"protocol", "sasl.mechanism", "user", "password"}  # what eventing-kafka reads


def test_kafka_sources_and_sinks_log_in_with_the_sasl_secret_k8s_up_creates(up_plan):
    created = created_secrets(up_plan)
    for document in manifests():
        if document["kind"] == "KafkaSource":
            sasl = document["spec"]["net"]["sasl"]
            assert sasl["enable"] is True, document["metadata"]["name"]
            for field in ("type", "user", "password"):
                ref = sasl[field]["secretKeyRef"]
                assert ref["key"] in created[("Secret", ref["name"])], (document["metadata"]["name"], field)
        if document["kind"] == "KafkaSink":
            name = document["spec"]["auth"]["secret"]["ref"]["name"]
            assert KAFKA_AUTH_KEYS <= created[("Secret", name)], document["metadata"]["name"]


def test_the_kafka_secret_asks_for_sasl_scram_without_tls_inside_the_cluster(up_plan):
    (command,) = [command for command in up_plan if "create secret generic sentinel-kafka-auth" in command]
    assert "--from-literal=protocol=SASL_PLAINTEXT" in command
    assert re.search(r"--from-literal=sasl\.mechanism=SCRAM-SHA-(256|512)\b", command)


def test_prefects_auth_string_is_generated_as_user_and_password(up_plan):
    (command,) = [command for command in up_plan if "create secret generic sentinel-prefect" in command]
    assert re.search(r"--from-literal=auth-string=\"sentinel:\$\(.*secrets\.token_hex", command)


# BLOCKED: this machine reaches no container registry and no GitHub release, so no digest or
# checksum could be read here, and none may be invented. Once the digests are filled in, this
# test passes, and strict xfail turns that into a failure that says to remove the marker.
PINS_BLOCKED = pytest.mark.xfail(
    strict=True, reason="BLOCKED: third-party image digests and Knative release checksums not yet filled in"
)


@PINS_BLOCKED
def test_every_third_party_image_is_pinned_by_digest():
    unpinned = [
        container["image"]
        for document in manifests()
        for container in containers(document)
        if not container["image"].startswith("dev.local/")
        and not re.search(r"@sha256:[0-9a-f]{64}$", container["image"])
    ]
    assert unpinned == []


@PINS_BLOCKED
def test_every_knative_release_file_is_verified_by_checksum_before_it_is_applied(up_plan):
    applied = [url for command in up_plan if " apply " in command for url in RELEASE_URL.findall(command)]
    assert applied
    assert all("sha256sum" in command for command in up_plan if RELEASE_URL.search(command) and " apply " in command)
