"""A Prefect server and the flow server, started from training.prefect_service as
`sentinel up --with-prefect` starts them, for the tests that drive retraining through
Prefect's API (tests/integration/test_retrain_prefect_server.py, tests/security/test_retraining.py)."""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests
from support import free_port, wait_for

from sentinel.config import PROJECT_ROOT
from training import prefect_service

BASE_ENV = {"PATH": str(Path(sys.executable).parent), "HOME": "/nonexistent"}
FINISHED = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")


@dataclass(frozen=True)
class PrefectApi:
    """Prefect's API as the holder of its auth string calls it."""

    url: str
    auth: tuple[str, str]

    def call(self, method: str, path: str, *, auth: tuple[str, str] | None = None, **kwargs) -> requests.Response:
        """One call, repeated while the server answers 503 (its SQLite database is busy on a loaded
        machine), as Prefect's own client does."""
        for _ in range(20):
            response = requests.request(method, f"{self.url}{path}", timeout=10, auth=auth or self.auth, **kwargs)
            if response.status_code != 503:
                return response
            time.sleep(0.5)
        return response

    def deployment(self, name: str) -> dict:
        found = self.call("POST", "/deployments/filter", json={"deployments": {"name": {"any_": [name]}}}).json()
        assert len(found) == 1, found
        return found[0]

    def run(self, deployment: str, parameters: dict, *, timeout: float = 300) -> dict:
        """Ask for a run of `deployment` with `parameters`; the run once it has finished."""
        response = self.call(
            "POST", f"/deployments/{self.deployment(deployment)['id']}/create_flow_run", json={"parameters": parameters}
        )
        assert response.status_code == 201, response.text
        run_id = response.json()["id"]

        def finished() -> dict | None:
            run = self.call("GET", f"/flow_runs/{run_id}").json()
            return run if run["state"]["type"] in FINISHED else None

        return wait_for(finished, timeout=timeout, every=1, what=f"the {deployment} run to finish")


@contextmanager
def prefect_with_flows(state: Path, database_url: str) -> Iterator[PrefectApi]:
    """Both processes running on `state`, the flows training into the registry at `database_url`."""
    password = secrets.token_urlsafe(16)
    port, runner_port = free_port(), free_port()
    logs = state / "logs"
    logs.mkdir(exist_ok=True)
    processes = [
        subprocess.Popen(
            prefect_service.server_command(port),
            env={**BASE_ENV, **prefect_service.server_env(state, port, password)},
            stdout=(logs / "server.log").open("w"),
            stderr=subprocess.STDOUT,
        )
    ]
    try:
        wait_for(lambda: _healthy(prefect_service.server_health_url(port)), timeout=180, what="the Prefect server")
        processes.append(
            subprocess.Popen(
                prefect_service.serve_command(),
                cwd=PROJECT_ROOT,
                env={
                    **BASE_ENV,
                    **prefect_service.serve_env(state, port, runner_port, password),
                    "DATABASE_URL": database_url,
                    "SENTINEL_STATE_DIR": str(state),
                    "SENTINEL_TRAINING_ROWS": "20000",
                    # Pick up a run asked for within two seconds rather than ten.
                    "PREFECT_RUNNER_POLL_FREQUENCY": "2",
                },
                stdout=(logs / "serve.log").open("w"),
                stderr=subprocess.STDOUT,
            )
        )
        wait_for(lambda: _healthy(prefect_service.serve_health_url(runner_port)), timeout=180, what="the flow server")
        user, _, secret = prefect_service.auth_string(password).partition(":")
        yield PrefectApi(prefect_service.api_url(port), (user, secret))
    finally:
        for process in reversed(processes):
            _stop(process)


def _healthy(url: str) -> bool:
    try:
        return requests.get(url, timeout=3).status_code == 200
    except requests.RequestException:
        return False


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
