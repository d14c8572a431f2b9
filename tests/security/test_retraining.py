"""Attacks on retraining through Prefect's API, against a real Prefect server and flow server: each now fails.

Before, the API answered anyone; a flow run's parameters chose any file to read (and a
failed read echoed its first line into the run's state), a gate margin of 1.0 passed
any model, and the promoter was whatever name the caller typed. The gate compared the
models on the candidate's own test split. The two processes are started from
training.prefect_service as `sentinel up --with-prefect` starts them, on a registry of
their own on the test stack's PostgreSQL.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import requests
from support import free_port, wait_for

from sentinel.config import PROJECT_ROOT
from sentinel.stores import holdout, registry
from training import prefect_service

pytestmark = pytest.mark.stack

BASE_ENV = {"PATH": str(Path(sys.executable).parent), "HOME": "/nonexistent"}
SECRET_LINE = "TOP-SECRET-first-line-of-a-private-file"
FINISHED = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")


@dataclass(frozen=True)
class Prefect:
    api: str
    auth: tuple[str, str]
    database_url: str
    state: Path

    def call(self, method: str, path: str, *, auth: tuple[str, str] | None = None, **kwargs) -> requests.Response:
        """One API call as the holder of the auth string, repeated while the busy server answers 503."""
        for _ in range(20):
            response = requests.request(method, f"{self.api}{path}", timeout=10, auth=auth or self.auth, **kwargs)
            if response.status_code != 503:
                return response
            time.sleep(0.5)
        return response

    def run_retrain(self, parameters: dict) -> dict:
        """Ask for a retrain run with `parameters`; the finished run."""
        wanted = {"deployments": {"name": {"any_": [prefect_service.RETRAIN_DEPLOYMENT]}}}
        (deployment,) = self.call("POST", "/deployments/filter", json=wanted).json()
        response = self.call(
            "POST", f"/deployments/{deployment['id']}/create_flow_run", json={"parameters": parameters}
        )
        assert response.status_code == 201, response.text
        run_id = response.json()["id"]

        def finished() -> dict | None:
            run = self.call("GET", f"/flow_runs/{run_id}").json()
            return run if run["state"]["type"] in FINISHED else None

        return wait_for(finished, timeout=300, every=1, what="the retrain run to finish")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def healthy(url: str) -> bool:
    try:
        return requests.get(url, timeout=3).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture(scope="module")
def prefect(stack, tmp_path_factory) -> Iterator[Prefect]:
    state = tmp_path_factory.mktemp("state")
    (state / "data").mkdir()
    password = secrets.token_urlsafe(16)
    database_url = stack.fresh_database("retraining_security_tests")
    port, runner_port = free_port(), free_port()
    logs = state / "logs"
    logs.mkdir()
    processes = [
        subprocess.Popen(
            prefect_service.server_command(port),
            env={**BASE_ENV, **prefect_service.server_env(state, port, password)},
            stdout=(logs / "server.log").open("w"),
            stderr=subprocess.STDOUT,
        )
    ]
    try:
        wait_for(lambda: healthy(prefect_service.server_health_url(port)), timeout=180, what="the Prefect server")
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
                    "PREFECT_RUNNER_POLL_FREQUENCY": "2",
                },
                stdout=(logs / "serve.log").open("w"),
                stderr=subprocess.STDOUT,
            )
        )
        wait_for(lambda: healthy(prefect_service.serve_health_url(runner_port)), timeout=180, what="the flow server")
        user, _, secret = prefect_service.auth_string(password).partition(":")
        yield Prefect(prefect_service.api_url(port), (user, secret), database_url, state)
    finally:
        for process in reversed(processes):
            stop(process)


def registered(prefect: Prefect) -> list[str]:
    with psycopg.connect(prefect.database_url) as conn:
        return [record.version for record in registry.models(conn)]


def refused(run: dict) -> str:
    """The message of a run that failed; asserts that it failed."""
    assert run["state"]["type"] == "FAILED", run["state"]
    return run["state"]["message"]


def test_the_api_refuses_a_caller_without_the_auth_string(prefect):
    """Attack: start a flow run through Prefect's API without credentials."""
    response = requests.post(f"{prefect.api}/deployments/filter", json={}, timeout=10)
    assert response.status_code == 401


def test_the_api_refuses_a_wrong_auth_string(prefect):
    """Attack: guess Prefect's credentials."""
    assert prefect.call("POST", "/deployments/filter", json={}, auth=("sentinel", "guess")).status_code == 401


def test_a_file_outside_the_data_directory_is_refused_without_echoing_it(prefect, tmp_path):
    """Attack: a flow run whose `source` names a private file, to read its first line from the error."""
    private = tmp_path / "private.csv"
    private.write_text(f"{SECRET_LINE}\n1,2,3\n")
    message = refused(prefect.run_retrain({"source": f"csv:{private}"}))
    assert "outside the data directory" in message and SECRET_LINE not in message
    assert registered(prefect) == []


def test_climbing_out_of_the_data_directory_is_refused(prefect):
    """Attack: a relative path that climbs out of the data directory to the stack's secrets."""
    message = refused(prefect.run_retrain({"source": "csv:../secrets/prefect-api-password.csv"}))
    assert "outside the data directory" in message


def test_a_file_that_is_not_a_csv_is_refused(prefect):
    """Attack: a non-CSV file inside the data directory."""
    (prefect.state / "data" / "notes.txt").write_text(f"{SECRET_LINE}\n")
    message = refused(prefect.run_retrain({"source": "csv:notes.txt"}))
    assert "is not a .csv file" in message and SECRET_LINE not in message


def test_a_csv_that_fails_its_checks_is_refused_without_quoting_it(prefect):
    """Attack: read a file's header through the schema check's error message."""
    (prefect.state / "data" / "leak.csv").write_text(f"{SECRET_LINE},x\n1,2\n")
    message = refused(prefect.run_retrain({"source": "csv:leak.csv"}))
    assert "is missing 31 columns" in message and SECRET_LINE not in message


def test_a_drive_file_without_a_sha256_is_refused(prefect):
    """Attack: train on a Google Drive file of unknown content."""
    message = refused(prefect.run_retrain({"source": "gdrive:1AttackerControlledFile"}))
    assert "has no sha256" in message


def test_a_gate_margin_that_passes_anything_is_refused(prefect):
    """Attack: gate_margin 1.0, so that any candidate replaces the champion."""
    message = refused(prefect.run_retrain({"gate_margin": 1.0}))
    assert "out of range" in message
    assert registered(prefect) == []


def test_a_claimed_promoter_is_refused(prefect):
    """Attack: record the promotion under someone else's name with a `by` parameter."""
    run = prefect.run_retrain({"by": "alice"})
    assert run["state"]["type"] in ("FAILED", "CRASHED"), run["state"]
    assert registered(prefect) == []


def test_a_valid_run_promotes_as_the_api_caller_and_is_gated_on_the_fixed_holdout(prefect):
    """The positive path: a valid run through the API still trains, registers and promotes."""
    run = prefect.run_retrain({"seed": 5})
    assert run["state"]["type"] == "COMPLETED", run["state"]
    with psycopg.connect(prefect.database_url) as conn:
        champion = registry.champion(conn)
        kept = holdout.get(conn)
    assert champion.promoted_by == f"prefect-api (flow run {run['name']})"
    assert champion.metrics["gate"]["evaluated_on"] == kept.describe()
