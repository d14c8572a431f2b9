"""`sentinel up --with-prefect`'s two processes, started from training.prefect_service as the stack starts them.

A Prefect server with its UI, and a process serving the flows: the `retrain`
deployment is there with its schedule, and a run asked for through the API (what
the UI's "Run" button does) trains and registers a model and leaves its artifacts.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import requests
from support import free_port, wait_for

from sentinel.config import PROJECT_ROOT
from sentinel.stores import registry
from training import prefect_service

pytestmark = pytest.mark.stack

BASE_ENV = {"PATH": str(Path(sys.executable).parent), "HOME": "/nonexistent"}
PASSWORD = secrets.token_urlsafe(16)
AUTH = tuple(prefect_service.auth_string(PASSWORD).split(":", 1))


def healthy(url: str) -> bool:
    try:
        return requests.get(url, timeout=3).status_code == 200
    except requests.RequestException:
        return False


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def prefect(stack, tmp_path_factory) -> Iterator[tuple[str, str]]:
    """A Prefect server and the flow server, running; the API URL and the registry's URL."""
    state = tmp_path_factory.mktemp("state")
    database_url = stack.fresh_database("prefect_service_tests")
    port, runner_port = free_port(), free_port()
    logs = state / "logs"
    logs.mkdir()
    server = subprocess.Popen(
        prefect_service.server_command(port),
        env={**BASE_ENV, **prefect_service.server_env(state, port, PASSWORD)},
        stdout=(logs / "server.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    processes = [server]
    try:
        wait_for(lambda: healthy(prefect_service.server_health_url(port)), timeout=180, what="the Prefect server")
        served = subprocess.Popen(
            prefect_service.serve_command(),
            cwd=PROJECT_ROOT,
            env={
                **BASE_ENV,
                **prefect_service.serve_env(state, port, runner_port, PASSWORD),
                "DATABASE_URL": database_url,
                "SENTINEL_STATE_DIR": str(state),
                "SENTINEL_TRAINING_ROWS": "20000",
                # Pick up a run asked for within two seconds rather than ten.
                "PREFECT_RUNNER_POLL_FREQUENCY": "2",
            },
            stdout=(logs / "serve.log").open("w"),
            stderr=subprocess.STDOUT,
        )
        processes.append(served)
        wait_for(lambda: healthy(prefect_service.serve_health_url(runner_port)), timeout=180, what="the flow server")
        yield prefect_service.api_url(port), database_url
    finally:
        for process in reversed(processes):
            stop(process)


def call(method: str, url: str, **kwargs) -> requests.Response:
    """One API call, repeated while the server answers 503, as Prefect's own client does.

    The server answers 503 while its SQLite database is busy, which happens on a loaded machine.
    """
    for _ in range(20):
        response = requests.request(method, url, timeout=10, auth=AUTH, **kwargs)
        if response.status_code != 503:
            return response
        time.sleep(0.5)
    return response


def deployment(api: str, name: str) -> dict:
    found = call("POST", f"{api}/deployments/filter", json={"deployments": {"name": {"any_": [name]}}}).json()
    assert len(found) == 1, found
    return found[0]


def test_the_retrain_deployment_is_served_on_its_schedule(prefect):
    api, _ = prefect
    retrain = deployment(api, prefect_service.RETRAIN_DEPLOYMENT)
    assert [schedule["schedule"]["cron"] for schedule in retrain["schedules"]] == ["0 3 * * *"]
    assert all(schedule["active"] for schedule in retrain["schedules"])
    assert deployment(api, prefect_service.EVALUATE_DEPLOYMENT)["schedules"] == []


def test_a_retrain_run_asked_for_through_the_api_registers_a_champion_and_leaves_artifacts(prefect):
    api, database_url = prefect
    retrain = deployment(api, prefect_service.RETRAIN_DEPLOYMENT)
    response = call("POST", f"{api}/deployments/{retrain['id']}/create_flow_run", json={"parameters": {"seed": 5}})
    assert response.status_code == 201, response.text
    run = response.json()

    def finished() -> dict | None:
        state = call("GET", f"{api}/flow_runs/{run['id']}").json()["state"]
        return state if state["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") else None

    started = time.monotonic()
    state = wait_for(finished, timeout=240, every=1, what="the retrain run to finish")
    print(f"\nretrain run from the API finished in {time.monotonic() - started:.0f}s")
    assert state["type"] == "COMPLETED", state
    with psycopg.connect(database_url) as conn:
        champion = registry.champion(conn)
    assert champion is not None and champion.promoted_by == f"prefect-api (flow run {run['name']})"
    artifacts = call(
        "POST", f"{api}/artifacts/filter", json={"artifacts": {"flow_run_id": {"any_": [run["id"]]}}}
    ).json()
    assert {artifact["key"] for artifact in artifacts} == {"retrain-metrics", "retrain-thresholds", "retrain-summary"}
