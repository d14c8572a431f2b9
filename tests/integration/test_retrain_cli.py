"""The model lifecycle from the command line: sentinel retrain, models, models promote and rollback.

Each command runs as the user runs it, against a registry of its own on the
test stack's PostgreSQL. The tests share that registry and run in file order.
"""

from __future__ import annotations

import getpass
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from sentinel.stores import registry

pytestmark = pytest.mark.stack

ROWS = "20000"
SENTINEL = str(Path(sys.executable).parent / "sentinel")


@pytest.fixture(scope="module")
def run(stack, tmp_path_factory):
    """Run `sentinel ...` against the test's registry; the completed process."""
    env = {
        **stack.env,
        "DATABASE_URL": stack.fresh_database("retrain_cli_tests"),
        "SENTINEL_STATE_DIR": str(tmp_path_factory.mktemp("state")),
        "SENTINEL_TRAINING_ROWS": ROWS,
        "COLUMNS": "200",  # tables one row per line
    }

    def sentinel(*arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([SENTINEL, *arguments], env=env, capture_output=True, text=True, timeout=300)

    sentinel.database_url = env["DATABASE_URL"]
    sentinel.state_dir = env["SENTINEL_STATE_DIR"]
    return sentinel


def test_retrain_shows_each_step_and_promotes_the_first_model(run):
    result = run("retrain")
    assert result.returncode == 0, result.stdout + result.stderr
    for step in ("loaded 20,000 rows", "validated: time-ordered split", "trained", "evaluated on the test split",
                 "exported to ONNX", "parity check passed", "registered v0001", "no champion to beat",
                 "v0001 is the champion now"):  # fmt: skip
        assert step in result.stdout, f"{step!r} missing from:\n{result.stdout}"
    assert "prefect" in (result.stdout + result.stderr).lower()


def test_prefect_keeps_its_state_under_the_state_dir(run):
    assert (Path(run.state_dir) / "prefect" / "prefect.db").is_file()


def test_models_lists_the_versions_with_their_metrics(run):
    result = run("models")
    assert result.returncode == 0, result.stderr
    assert "v0001" in result.stdout and "champion" in result.stdout
    assert f"synthetic:rows={ROWS}:seed=7" in result.stdout
    assert f"promote - → v0001 by {getpass.getuser()} via sentinel retrain" in result.stdout


def test_retrain_without_promotion_registers_a_candidate(run):
    result = run("retrain", "--seed", "4", "--no-promote")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "v0002 is registered as a candidate; the champion is still v0001" in result.stdout


def test_promote_measures_both_models_on_the_registrys_holdout(run):
    result = run("models", "promote", "v0002", "--gate-margin", "0.1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "on the registry's holdout" in result.stdout and "test split" not in result.stdout
    assert "v0002 is the champion now (was v0001)" in result.stdout


def test_a_gate_margin_beyond_the_bound_is_refused_before_measuring(run):
    result = run("models", "promote", "v0001", "--gate-margin", "1")
    assert result.returncode == 1
    assert "out of range" in result.stdout and "--force" in result.stdout


def test_a_promotion_the_gate_refuses_exits_1_and_says_how_to_force_it(run):
    result = run("models", "promote", "v0001", "--gate-margin", "-0.1")
    assert result.returncode == 1
    assert "fails the gate" in result.stdout and "--force --reason" in result.stdout
    with psycopg.connect(run.database_url) as conn:
        assert registry.champion_version(conn) == "v0002"


def test_force_needs_a_reason(run):
    result = run("models", "promote", "v0001", "--force")
    assert result.returncode == 1 and "--force needs --reason" in result.stdout


def test_a_forced_promotion_is_recorded_with_who_and_why(run):
    result = run("models", "promote", "v0001", "--gate-margin", "-0.1", "--force", "--reason", "drill")
    assert result.returncode == 0, result.stdout + result.stderr
    with psycopg.connect(run.database_url) as conn:
        latest = registry.promotions(conn)[0]
    who = f"{getpass.getuser()} via sentinel models promote"
    assert (latest.version, latest.forced, latest.promoted_by, latest.reason) == ("v0001", True, who, "drill")


def test_rollback_returns_to_the_champion_before(run):
    result = run("models", "rollback")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "v0002 is the champion again (was v0001)" in result.stdout


def test_bad_data_is_an_error_message_not_a_traceback(run):
    data = Path(run.state_dir) / "data"
    data.mkdir(exist_ok=True)
    (data / "bad.csv").write_text("Time,V1\n0,1\n")
    result = run("retrain", "--source", "csv:bad.csv")
    assert result.returncode == 1
    assert "is missing 29 columns" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
