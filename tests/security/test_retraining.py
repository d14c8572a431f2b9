"""Attacks on retraining through Prefect's API, against a real Prefect server and flow server: each now fails.

Before, the API answered anyone; a flow run's parameters chose any file to read (and a
failed read echoed its first line into the run's state), a gate margin of 1.0 passed
any model, and the promoter was whatever name the caller typed. The gate compared the
models on the candidate's own test split. The two processes are started from
training.prefect_service as `sentinel up --with-prefect` starts them, on a registry of
their own on the test stack's PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import requests
from prefect_servers import PrefectApi, prefect_with_flows

from sentinel.stores import holdout, registry
from training import prefect_service

pytestmark = pytest.mark.stack

SECRET_LINE = "TOP-SECRET-first-line-of-a-private-file"


@dataclass(frozen=True)
class Retraining:
    """Prefect's API, the registry the flows train into, and the flow server's state directory."""

    api: PrefectApi
    database_url: str
    state: Path

    def run_retrain(self, parameters: dict) -> dict:
        """Ask for a retrain run with `parameters`; the finished run."""
        return self.api.run(prefect_service.RETRAIN_DEPLOYMENT, parameters)


@pytest.fixture(scope="module")
def prefect(stack, tmp_path_factory) -> Iterator[Retraining]:
    state = tmp_path_factory.mktemp("state")
    (state / "data").mkdir()
    database_url = stack.fresh_database("retraining_security_tests")
    with prefect_with_flows(state, database_url) as api:
        yield Retraining(api, database_url, state)


def registered(prefect: Retraining) -> list[str]:
    with psycopg.connect(prefect.database_url) as conn:
        return [record.version for record in registry.models(conn)]


def refused(run: dict) -> str:
    """The message of a run that failed; asserts that it failed."""
    assert run["state"]["type"] == "FAILED", run["state"]
    return run["state"]["message"]


def test_the_api_refuses_a_caller_without_the_auth_string(prefect):
    """Attack: start a flow run through Prefect's API without credentials."""
    response = requests.post(f"{prefect.api.url}/deployments/filter", json={}, timeout=10)
    assert response.status_code == 401


def test_the_api_refuses_a_wrong_auth_string(prefect):
    """Attack: guess Prefect's credentials."""
    assert prefect.api.call("POST", "/deployments/filter", json={}, auth=("sentinel", "guess")).status_code == 401


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
