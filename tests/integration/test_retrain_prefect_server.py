"""`sentinel up --with-prefect`'s two processes, started from training.prefect_service as the stack starts them.

A Prefect server with its UI, and a process serving the flows: the `retrain`
deployment is there with its schedule, and a run asked for through the API (what
the UI's "Run" button does) trains and registers a model and leaves its artifacts.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest
from prefect_servers import PrefectApi, prefect_with_flows

from sentinel.stores import registry
from training import prefect_service

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def prefect(stack, tmp_path_factory) -> Iterator[tuple[PrefectApi, str]]:
    """A Prefect server and the flow server, running; its API and the registry's URL."""
    database_url = stack.fresh_database("prefect_service_tests")
    with prefect_with_flows(tmp_path_factory.mktemp("state"), database_url) as api:
        yield api, database_url


def test_the_retrain_deployment_is_served_on_its_schedule(prefect):
    api, _ = prefect
    retrain = api.deployment(prefect_service.RETRAIN_DEPLOYMENT)
    assert [schedule["schedule"]["cron"] for schedule in retrain["schedules"]] == ["0 3 * * *"]
    assert all(schedule["active"] for schedule in retrain["schedules"])
    assert api.deployment(prefect_service.EVALUATE_DEPLOYMENT)["schedules"] == []


def test_a_retrain_run_asked_for_through_the_api_registers_a_champion_and_leaves_artifacts(prefect):
    api, database_url = prefect
    started = time.monotonic()
    run = api.run(prefect_service.RETRAIN_DEPLOYMENT, {"seed": 5}, timeout=240)
    print(f"\nretrain run from the API finished in {time.monotonic() - started:.0f}s")
    assert run["state"]["type"] == "COMPLETED", run["state"]
    with psycopg.connect(database_url) as conn:
        champion = registry.champion(conn)
    assert champion is not None and champion.promoted_by == f"prefect-api (flow run {run['name']})"
    artifacts = api.call("POST", "/artifacts/filter", json={"artifacts": {"flow_run_id": {"any_": [run["id"]]}}}).json()
    assert {artifact["key"] for artifact in artifacts} == {"retrain-metrics", "retrain-thresholds", "retrain-summary"}


def test_the_drift_deployment_is_served_on_the_retrain_schedule(prefect):
    api, _ = prefect
    drift = api.deployment(prefect_service.DRIFT_DEPLOYMENT)
    assert [schedule["schedule"]["cron"] for schedule in drift["schedules"]] == ["0 3 * * *"]
    assert all(schedule["active"] for schedule in drift["schedules"])


def test_a_drift_run_asked_for_through_the_api_stores_a_report(prefect):
    api, database_url = prefect
    run = api.run(prefect_service.DRIFT_DEPLOYMENT, {"window_hours": 6}, timeout=120)
    assert run["state"]["type"] == "COMPLETED", run["state"]
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT status, alerting, window_end - window_start FROM drift_reports").fetchone()
    assert row[:2] in {("too_few_rows", False), ("no_champion", False)} and row[2].total_seconds() == 6 * 3600
    artifacts = api.call("POST", "/artifacts/filter", json={"artifacts": {"flow_run_id": {"any_": [run["id"]]}}}).json()
    assert {artifact["key"] for artifact in artifacts} == {"drift-summary"}
