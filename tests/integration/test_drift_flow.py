"""The drift check against the real PostgreSQL: synthetic traffic stored as persist stores it,
compared with the champion's training profile.

A champion is trained once on 20,000 synthetic rows. Each test stores 3,000 fresh
synthetic transactions (another seed) in the `transactions` table, with their
behavioural features and the champion's risk score, shifted or not, and runs the check.
The steps run directly, except in the last tests, where `sentinel drift` runs the
Prefect flow as a user does.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg
import pytest
from psycopg.types.json import Jsonb

from sentinel.core import drift
from sentinel.core.model import OnnxModel
from sentinel.core.transaction import FEATURE_NAMES
from sentinel.stores import drift as drift_store
from sentinel.stores import registry
from training import pipeline
from training.behaviour import with_behaviour
from training.dataset import check
from training.drift import DriftRequest, check_drift
from training.loader import Source
from training.settings import TrainingSettings
from training.synthetic import generate
from training.train import DEFAULT_TARGETS

pytestmark = pytest.mark.stack

TRAINING_ROWS = 20_000
TRAFFIC_ROWS = 3_000
SENTINEL = str(Path(sys.executable).parent / "sentinel")


@pytest.fixture(scope="module")
def settings(stack, tmp_path_factory) -> TrainingSettings:
    """A registry of its own, with a champion trained (and profiled) by the retrain steps."""
    settings = TrainingSettings(
        database_url=stack.fresh_database("drift_tests"),
        state_dir=tmp_path_factory.mktemp("state"),
        gdrive_id=None,
        dataset_sha256=None,
    )
    request = pipeline.RetrainRequest(
        source=Source("synthetic"), rows=TRAINING_ROWS, seed=3, targets=DEFAULT_TARGETS, gate_margin=0.01, by="test"
    )
    assert pipeline.retrain(request, settings).promoted
    return settings


@pytest.fixture
def conn(settings) -> Iterator[psycopg.Connection]:
    with psycopg.connect(settings.database_url, autocommit=True) as connection:
        connection.execute("TRUNCATE transactions, drift_reports")
        yield connection


def store_traffic(
    conn: psycopg.Connection,
    *,
    shift: tuple[str, float] | None = None,
    scale: tuple[str, float] | None = None,
    rows: int = TRAFFIC_ROWS,
) -> None:
    """The first `rows` of fresh synthetic transactions, scored by the champion half an hour ago; `shift`
    moves one column by that many of its standard deviations, `scale` multiplies one."""
    traffic = with_behaviour(check(generate(TRAFFIC_ROWS, seed=11), origin="traffic"))
    features = traffic.features.astype(np.float64)
    if shift is not None:
        column = traffic.feature_names.index(shift[0])
        features[:, column] += shift[1] * features[:, column].std()
    if scale is not None:
        features[:, traffic.feature_names.index(scale[0])] *= scale[1]
    champion = registry.champion(conn)
    risk = OnnxModel(champion).predict_table(features, traffic.feature_names)
    now = datetime.now(UTC)
    own = len(FEATURE_NAMES)
    conn.cursor().executemany(
        "INSERT INTO transactions (client_id, transaction_id, user_id, amount, payload, risk_score, decision,"
        " model_version, thresholds, received_at, scored_at, behaviour)"
        " VALUES ('drift-tests', %s, %s, %s, %s, %s, 'approve', %s, '{}', %s, %s, %s)",
        [
            (
                f"t{row}",
                str(traffic.user_ids[row]),
                round(float(features[row, own - 1]), 2),
                Jsonb(dict(zip(FEATURE_NAMES, features[row, :own].tolist(), strict=True))),
                float(risk[row]),
                champion.version,
                now - timedelta(minutes=30),
                now - timedelta(minutes=30) + timedelta(milliseconds=row),
                Jsonb(dict(zip(traffic.feature_names[own:], features[row, own:].tolist(), strict=True))),
            )
            for row in range(rows)
        ],
    )


def run_check(settings: TrainingSettings) -> drift.Report:
    return check_drift(DriftRequest.from_settings(settings), settings)


def test_the_champion_keeps_a_training_profile_of_every_feature_and_its_risk_score(conn):
    champion = registry.champion(conn)
    profile = drift_store.profile_of(conn, champion.version)
    assert list(profile.columns) == [*champion.feature_names, drift.RISK_SCORE]
    assert profile.rows == TRAINING_ROWS * 0.6


def test_traffic_like_the_training_data_raises_no_alert(conn, settings):
    store_traffic(conn)
    report = run_check(settings)
    assert report.status == drift.COMPARED and report.rows == TRAFFIC_ROWS
    assert not report.alerting, report.ranked[:5]
    assert report.max_psi < 0.1, report.ranked[:5]
    assert report.message.startswith("no drift above 0.2")


def test_v14_shifted_by_two_deviations_alerts_and_names_v14(conn, settings):
    store_traffic(conn, shift=("V14", 2.0))
    report = run_check(settings)
    assert report.alerting and report.ranked[0][0] == "V14"
    assert {name for name, _ in report.drifted} <= {"V14", drift.RISK_SCORE}
    assert "drift above 0.2 in V14" in report.message


def test_every_check_is_stored_with_its_numbers(conn, settings):
    store_traffic(conn, shift=("V14", 2.0))
    checked = run_check(settings)
    (stored,) = drift_store.latest_reports(conn)
    assert stored == checked
    row = conn.execute("SELECT alerting, max_psi, risk_score_psi FROM drift_reports").fetchone()
    assert row == (True, checked.max_psi, checked.psi[drift.RISK_SCORE])


def test_too_few_transactions_in_the_window_say_so_and_raise_no_alert(conn, settings):
    store_traffic(conn, shift=("V14", 2.0), rows=100)
    report = run_check(settings)
    assert report.status == drift.TOO_FEW_ROWS and not report.alerting
    assert report.message == "only 100 transactions in the window; at least 500 are needed to compare"


def test_traffic_older_than_the_window_is_left_out(conn, settings):
    store_traffic(conn)
    request = replace(DriftRequest.from_settings(settings), window_hours=0.25)
    assert check_drift(request, settings).status == drift.TOO_FEW_ROWS


def test_a_champion_without_a_training_profile_is_told_to_retrain(conn, settings):
    version = registry.champion_version(conn)
    kept = conn.execute("SELECT training_profile FROM models WHERE version = %s", (version,)).fetchone()[0]
    conn.execute("UPDATE models SET training_profile = NULL WHERE version = %s", (version,))
    try:
        report = run_check(settings)
    finally:
        conn.execute("UPDATE models SET training_profile = %s WHERE version = %s", (Jsonb(kept), version))
    assert report.status == drift.NO_PROFILE and not report.alerting
    assert report.message == f"champion {version} has no training profile: retrain to get a training profile"


@pytest.fixture(scope="module")
def sentinel(stack, settings):
    """`sentinel ...` against the test's registry, as a user runs it without a Prefect server."""
    env = {name: value for name, value in stack.env.items() if name != "PREFECT_API_URL"}
    env |= {"DATABASE_URL": settings.database_url, "SENTINEL_STATE_DIR": str(settings.state_dir)}

    def run(*arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [SENTINEL, *arguments], env={**env, "COLUMNS": "200"}, capture_output=True, text=True, timeout=300
        )

    return run


def test_sentinel_drift_runs_the_prefect_flow_in_the_ephemeral_mode_shows_the_psi_table_and_exits_3_on_an_alert(
    conn, sentinel
):
    store_traffic(conn, scale=("Amount", 3.0))
    result = sentinel("drift")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "Running the drift flow (Prefect's ephemeral API" in result.stdout
    assert "read 3,000 transactions scored in the last 24 hours" in result.stdout
    assert "drift alert against v0001: drift above 0.2 in " in result.stdout and "Amount (" in result.stdout
    assert "significant ✗" in result.stdout
    assert conn.execute("SELECT alerting FROM drift_reports").fetchone() == (True,)
