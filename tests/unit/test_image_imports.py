"""Each image's smoke test, without Docker: its modules import and its servers start with only what it installs.

For each image this lays out what its Dockerfile copies into its WORKDIR, builds a
virtual environment with the very `uv sync` the Dockerfile runs (uv.lock, the same
extras, no dev group, not the project itself), and imports every copied module with
that environment's Python and only the laid-out directory on its path, as the image
runs it; then every module named by an import inside a function, which a first
import does not reach. So a module that imports what its image neither copies nor
installs fails here, as it would in the cluster. Each image that serves HTTP (the
functions and the UI) is then started as its Knative Service or Deployment starts
it, with that manifest's environment (generated secrets; databases that do not
answer), and must listen on its port. The training image's Prefect server and worker
start the same way, the worker told the server's local address in place of the
cluster's, and must pass their readiness probes and serve the deployments `sentinel up
--with-prefect` serves; its prepare Job, whose work is all in PostgreSQL, must get as
far as connecting to it. uv links the environments from its cache
(about a second each), and the four function images, which install the same, share one.

The environments use the interpreter .venv was made from; the images use Python of
the same minor version (python:3.11-slim).
"""

from __future__ import annotations

import ast
import base64
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from dockerfiles import FUNCTIONS, IMAGES, copies, image_command, image_env, uv_sync_arguments, workdir

from sentinel.config import METRICS_DIR_VARIABLE, PROJECT_ROOT
from training import prefect_service
from training.settings import TrainingSettings

UV = Path(sys.executable).parent / "uv"
BASE_PYTHON = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
# Imports each module named on the command line; prints {module: why it failed} as its last line.
IMPORT_EACH = """
import importlib, json, os, sys, traceback

app = os.environ["PYTHONPATH"]
failures = {}
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except BaseException as error:
        shipped = [f for f in traceback.extract_tb(error.__traceback__) if f.filename.startswith(app + os.sep)]
        where = f" (at {os.path.relpath(shipped[-1].filename, app)}:{shipped[-1].lineno})" if shipped else ""
        failures[name] = f"{type(error).__name__}: {error}{where}"
print(json.dumps(failures))
"""


@pytest.fixture(scope="session")
def environment_for(tmp_path_factory) -> Iterator[Callable[[tuple[str, ...]], Path]]:
    """The virtual environment `uv sync <arguments>` makes, built once per test session for each argument list."""
    if not UV.exists():
        pytest.skip(f"{UV} is missing: run `python3 dev.py setup` (uv is in the dev group)")
    built: dict[tuple[str, ...], Path] = {}

    def environment(arguments: tuple[str, ...]) -> Path:
        if arguments not in built:
            target = tmp_path_factory.mktemp("image-environment") / "venv"
            env = {name: value for name, value in os.environ.items() if name != "VIRTUAL_ENV"}
            env |= {"UV_PROJECT_ENVIRONMENT": str(target), "UV_PYTHON_DOWNLOADS": "never"}
            result = subprocess.run(
                [str(UV), "sync", *arguments, "--python", str(BASE_PYTHON)],
                cwd=PROJECT_ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert result.returncode == 0, f"uv sync {' '.join(arguments)} failed:\n{result.stderr}"
            built[arguments] = target
        return built[arguments]

    yield environment
    for target in built.values():
        shutil.rmtree(target)


def lay_out(image: str, app: Path) -> None:
    """Copy into `app` what the image copies into its WORKDIR, as `docker build` does."""
    assert image_env(image)["PYTHONPATH"] == workdir(image), f"{image} does not run its code from its WORKDIR"
    for copy in copies(image):
        destination = app / copy.destination
        for source in copy.sources:
            origin = PROJECT_ROOT / source
            if origin.is_dir():
                shutil.copytree(origin, destination, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                into_directory = copy.destination.endswith("/") or len(copy.sources) > 1
                target = destination / origin.name if into_directory else destination
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, target)


def shipped_modules(app: Path) -> list[str]:
    """Every module under `app` by dotted name; a package's __main__ (which would start it) counts as the package."""
    names = set()
    for path in app.rglob("*.py"):
        parts = path.relative_to(app).with_suffix("").parts
        if parts[-1] in ("__init__", "__main__"):
            parts = parts[:-1]
        if parts:
            names.add(".".join(parts))
    return sorted(names)


def import_each(python: Path, modules: list[str], app: Path, env: dict[str, str]) -> dict[str, str]:
    """{module: why it does not import} for `modules`, imported by `python` from `app` alone."""
    result = subprocess.run(
        [str(python), "-c", IMPORT_EACH, *modules], cwd=app, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0 and result.stdout.strip(), f"the imports did not finish:\n{result.stderr}"
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("image", IMAGES)
def test_every_module_an_image_ships_imports_with_only_the_images_dependencies(image, environment_for, tmp_path):
    app, home = tmp_path / "app", tmp_path / "home"
    home.mkdir()
    lay_out(image, app)
    modules = shipped_modules(app)
    assert modules, f"{image} ships no Python module"
    environment = environment_for(tuple(uv_sync_arguments(image)))
    env = image_env(image) | {"PATH": f"{environment / 'bin'}:/usr/bin:/bin", "PYTHONPATH": str(app), "HOME": str(home)}
    failures = import_each(environment / "bin" / "python", modules, app, env)
    assert not failures, f"{image}: {len(failures)} of its {len(modules)} modules do not import:\n" + "\n".join(
        f"  {module}: {why}" for module, why in failures.items()
    )


def imports_inside_functions(app: Path) -> list[str]:
    """Every absolute module an import statement inside a function of a shipped file names (not TYPE_CHECKING)."""
    names = set()
    for path in app.rglob("*.py"):
        for function in ast.walk(ast.parse(path.read_text())):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.Import):
                    names.update(alias.name for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names.add(node.module)
    return sorted(names)


@pytest.mark.parametrize("image", IMAGES)
def test_every_import_inside_a_function_of_an_image_resolves_with_only_the_images_dependencies(
    image, environment_for, tmp_path
):
    """A deferred import fails only when its function first runs: in the cluster, on a request."""
    app, home = tmp_path / "app", tmp_path / "home"
    home.mkdir()
    lay_out(image, app)
    modules = imports_inside_functions(app)
    environment = environment_for(tuple(uv_sync_arguments(image)))
    env = image_env(image) | {"PATH": f"{environment / 'bin'}:/usr/bin:/bin", "PYTHONPATH": str(app), "HOME": str(home)}
    failures = import_each(environment / "bin" / "python", modules, app, env)
    assert not failures, f"{image}: {len(failures)} of the {len(modules)} modules its functions import do not:\n" + (
        "\n".join(f"  {module}: {why}" for module, why in failures.items())
    )


# The manifest that runs each image that serves HTTP, and its container there.
SERVERS = {
    **{function: (f"knative/functions/{function}.yaml", "Service", function) for function in FUNCTIONS},
    "ui": ("knative/infra/ui.yaml", "Deployment", "ui"),
}
NOWHERE = "127.0.0.1:9"  # the discard port: nothing answers there


def manifest_container(path: str, kind: str, name: str) -> dict[str, Any]:
    documents = yaml.safe_load_all((PROJECT_ROOT / path).read_text())
    (document,) = [d for d in documents if d and d["kind"] == kind and d["metadata"]["name"] == name]
    (container,) = document["spec"]["template"]["spec"]["containers"]
    return container


def cluster_env(container: dict[str, Any], generated: dict[tuple[str, str], str] | None = None) -> dict[str, str]:
    """The container's environment as the cluster gives it: secrets generated, connection URLs to no server.

    `generated` holds each Secret key's value, so containers that share a key (Prefect's server and worker)
    are given the same one."""
    generated = {} if generated is None else generated
    env = {}
    for entry in container.get("env", []):
        if "value" in entry:
            env[entry["name"]] = entry["value"]
        elif "secretKeyRef" in entry.get("valueFrom", {}) and not entry["valueFrom"]["secretKeyRef"].get("optional"):
            ref = entry["valueFrom"]["secretKeyRef"]
            if ref["key"] == "redis-url":
                value = f"redis://:{secrets.token_hex(8)}@{NOWHERE}/0"
            elif ref["key"].endswith("url"):
                value = f"postgresql://sentinel:{secrets.token_hex(8)}@{NOWHERE}/sentinel"
            else:
                value = secrets.token_hex(32)
            env[entry["name"]] = generated.setdefault((ref["name"], ref["key"]), value)
    return env


def on_volumes(env: dict[str, str], container: dict[str, Any], home: Path) -> dict[str, str]:
    """`env` with every path on one of the container's volumes moved under `home`, where this test may write."""
    mounts = [mount["mountPath"] for mount in container.get("volumeMounts", [])]
    return {
        name: f"{home}{value}" if any(value.startswith(mount + "/") for mount in mounts) else value
        for name, value in env.items()
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.parametrize("image", sorted(SERVERS))
def test_each_server_image_starts_with_the_clusters_environment(image, environment_for, tmp_path):
    """Started as its manifest starts it, with its manifest's environment, it listens within 60 seconds."""
    app, home = tmp_path / "app", tmp_path / "home"
    home.mkdir()
    lay_out(image, app)
    container = manifest_container(*SERVERS[image])
    command = [*container.get("command", image_command(image)), *container.get("args", [])]
    port = free_port()
    if image == "ui":  # its Deployment names the port on the command line
        command = [str(port) if word == "8080" else word for word in command]
    environment = environment_for(tuple(uv_sync_arguments(image)))
    env = image_env(image) | cluster_env(container)
    env |= {
        "PATH": f"{environment / 'bin'}:/usr/bin:/bin",
        "PYTHONPATH": str(app),
        "HOME": str(home),
        "PORT": str(port),
    }
    env |= {"SENTINEL_STATE_DIR": str(home / "state"), "TMPDIR": str(home)}
    if METRICS_DIR_VARIABLE in env:  # under the container's /tmp volume there; under this test's directory here
        env[METRICS_DIR_VARIABLE] = str(home / "metrics")
    if image in FUNCTIONS:
        env["K_SINK"] = f"http://{NOWHERE}/"  # what the SinkBinding injects
    log = tmp_path / "log"
    with running(command, app, env, log) as server:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and server.poll() is None and not listening(port):
            time.sleep(0.2)
        started = server.poll() is None and listening(port)
    assert started, f"{image} did not listen on {port} (exit status {server.returncode}):\n{log.read_text()[-3000:]}"


@contextmanager
def running(command: list[str], cwd: Path, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """`command` started with its output in `log`, and stopped at the end."""
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def until(ready: Callable[[], bool], process: subprocess.Popen, timeout: float = 120) -> bool:
    """Whether `ready()` holds within `timeout` seconds while `process` runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if ready():
            return True
        time.sleep(0.5)
    return False


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def test_the_training_images_prefect_server_and_worker_start_with_the_clusters_environment(environment_for, tmp_path):
    """The server answers its probe; the worker, given the server's address in place of the cluster's, passes its
    readiness probe and serves retrain and drift on the cron and evaluate on demand, as `sentinel up` does."""
    app, home = tmp_path / "app", tmp_path / "home"
    home.mkdir()
    lay_out("training", app)
    environment = environment_for(tuple(uv_sync_arguments("training")))
    base = image_env("training") | {"PATH": f"{environment / 'bin'}:/usr/bin:/bin", "PYTHONPATH": str(app)}
    generated: dict[tuple[str, str], str] = {}
    server = manifest_container("knative/infra/prefect.yaml", "Deployment", "prefect-server")
    port = free_port()
    server_command = [str(port) if word == "4200" else word for word in server["command"]]
    server_env = base | on_volumes(cluster_env(server, generated), server, home) | {"HOME": str(home / "server")}
    worker = manifest_container("knative/infra/prefect.yaml", "Deployment", "prefect-worker")
    runner_port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    worker_env = base | on_volumes(cluster_env(worker, generated), worker, home) | {"HOME": str(home / "worker")}
    worker_env |= {"PREFECT_API_URL": api, "PREFECT_RUNNER_SERVER_PORT": str(runner_port)}
    probe = [
        str(environment / "bin" / "python") if word == "python" else word
        for word in worker["readinessProbe"]["exec"]["command"]
    ]
    probe = [word.replace("127.0.0.1:8080", f"127.0.0.1:{runner_port}") for word in probe]

    def worker_ready() -> bool:
        return subprocess.run(probe, env=worker_env, capture_output=True, timeout=10).returncode == 0

    with running(server_command, app, server_env, tmp_path / "server.log") as process:
        health = f"http://127.0.0.1:{port}{server['readinessProbe']['httpGet']['path']}"
        assert until(lambda: answers(health), process), (tmp_path / "server.log").read_text()[-3000:]
        with running(worker["command"], app, worker_env, tmp_path / "worker.log") as serving:
            assert until(worker_ready, serving), (tmp_path / "worker.log").read_text()[-3000:]
        request = urllib.request.Request(f"{api}/deployments/filter", data=b"{}", method="POST")
        request.add_header("Content-Type", "application/json")
        auth = server_env["PREFECT_SERVER_API_AUTH_STRING"]
        request.add_header("Authorization", f"Basic {base64.b64encode(auth.encode()).decode()}")
        with urllib.request.urlopen(request, timeout=10) as response:
            deployments = json.load(response)
    served = {
        deployment["name"]: [each["schedule"].get("cron") for each in deployment["schedules"]]
        for deployment in deployments
    }
    assert served == {
        prefect_service.RETRAIN_DEPLOYMENT: [TrainingSettings.retrain_cron],
        prefect_service.DRIFT_DEPLOYMENT: [TrainingSettings.retrain_cron],
        prefect_service.EVALUATE_DEPLOYMENT: [],
    }


def test_the_prepare_job_starts_with_the_clusters_environment_and_stops_only_at_the_database(environment_for, tmp_path):
    """Its work is all in PostgreSQL, so without one it must get as far as connecting, and fail there."""
    app, home = tmp_path / "app", tmp_path / "home"
    home.mkdir()
    lay_out("training", app)
    job = manifest_container("knative/prepare/job.yaml", "Job", "sentinel-prepare")
    environment = environment_for(tuple(uv_sync_arguments("training")))
    env = image_env("training") | on_volumes(cluster_env(job), job, home)
    env |= {"PATH": f"{environment / 'bin'}:/usr/bin:/bin", "PYTHONPATH": str(app), "HOME": str(home)}
    result = subprocess.run(job["command"], cwd=app, env=env, capture_output=True, text=True, timeout=120)
    host, port = NOWHERE.split(":")
    assert result.returncode != 0
    assert re.search(
        rf'^psycopg\.OperationalError: connection failed: .*"{host}", port {port} failed', result.stderr, re.M
    ), result.stderr[-3000:]
