"""What a retrain or a drift check may be asked for: the data source allow-list, bounded parameters, and who
promotes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sentinel.core.promotion import MAX_GATE_MARGIN, GateMarginError, GateResult, bounded_margin
from training import caller
from training.drift import DriftRequest
from training.loader import Source, SourceError, allowed_csv, load
from training.parameters import MAX_REASON_CHARS, MAX_ROWS, MIN_ROWS, ParameterError, checked_reason, checked_rows
from training.settings import TrainingSettings

SHA = "0123456789abcdef" * 4


@pytest.fixture
def settings(tmp_path: Path) -> TrainingSettings:
    data = tmp_path / "data"
    data.mkdir()
    return TrainingSettings(
        database_url="postgresql://nobody@127.0.0.1:1/none",
        state_dir=tmp_path,
        gdrive_id=None,
        dataset_sha256=None,
        data_dir=data,
    )


def test_a_csv_inside_the_data_directory_is_allowed(settings):
    assert Source.parse("csv:creditcard.csv", settings) == Source("csv", str(settings.csv_dir / "creditcard.csv"))


def test_an_absolute_path_outside_the_data_directory_is_refused(settings):
    with pytest.raises(SourceError, match="is outside the data directory"):
        Source.parse("csv:/etc/passwd.csv", settings)


def test_climbing_out_of_the_data_directory_is_refused(settings):
    with pytest.raises(SourceError, match="is outside the data directory"):
        Source.parse("csv:../secrets/prefect-api-password.csv", settings)


def test_a_symbolic_link_out_of_the_data_directory_is_refused(settings, tmp_path):
    outside = tmp_path / "outside.csv"
    outside.write_text("secret first line\n")
    (settings.csv_dir / "link.csv").symlink_to(outside)
    with pytest.raises(SourceError, match="is outside the data directory"):
        Source.parse("csv:link.csv", settings)


def test_a_file_that_is_not_a_csv_is_refused_even_inside_the_data_directory(settings):
    (settings.csv_dir / "notes.txt").write_text("secret first line\n")
    with pytest.raises(SourceError, match="is not a .csv file"):
        Source.parse("csv:notes.txt", settings)


def test_loading_checks_the_allow_list_again_for_a_source_built_directly(settings):
    with pytest.raises(SourceError, match="is outside the data directory"):
        load(Source("csv", "/etc/hostname.csv"), settings, rows=0, seed=0)


def test_the_data_directory_comes_from_sentinel_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("SENTINEL_DATA_DIR", str(tmp_path / "elsewhere"))
    assert TrainingSettings.from_env().csv_dir == tmp_path / "elsewhere"


def test_the_data_directory_defaults_to_data_under_the_state_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("SENTINEL_DATA_DIR", raising=False)
    monkeypatch.setenv("SENTINEL_STATE_DIR", str(tmp_path))
    assert TrainingSettings.from_env().csv_dir == tmp_path / "data"


def test_the_drift_threshold_is_0_2_unless_sentinel_drift_threshold_sets_it(monkeypatch):
    monkeypatch.delenv("SENTINEL_DRIFT_THRESHOLD", raising=False)
    assert DriftRequest.from_settings(TrainingSettings.from_env()).threshold == 0.2
    monkeypatch.setenv("SENTINEL_DRIFT_THRESHOLD", "0.35")
    assert DriftRequest.from_settings(TrainingSettings.from_env()).threshold == 0.35


def test_a_threshold_given_to_the_drift_check_overrides_the_setting(settings):
    assert DriftRequest.from_settings(settings, threshold=0.1).threshold == 0.1


@pytest.mark.parametrize("threshold", [0.0, -0.2, 10.5])
def test_a_drift_threshold_out_of_range_is_refused(settings, threshold):
    with pytest.raises(ParameterError, match="the drift threshold must lie above 0"):
        DriftRequest.from_settings(settings, threshold=threshold)


def test_a_drive_file_without_a_sha256_is_refused(settings):
    with pytest.raises(SourceError, match="has no sha256 to check it against"):
        Source.parse("gdrive:1AbCdEfGhIjKlMnOp", settings)


def test_a_drive_file_with_a_malformed_sha256_is_refused(settings):
    with pytest.raises(SourceError, match="is not 64 hexadecimal digits"):
        Source.parse("gdrive:1AbCdEfGhIjKlMnOp@abc", settings)


def test_the_configured_sha256_applies_only_to_the_configured_drive_file(settings):
    configured = TrainingSettings(**{**settings.__dict__, "gdrive_id": "1Configured0000", "dataset_sha256": SHA})
    assert Source.parse("gdrive:1Configured0000", configured).sha256 == SHA
    with pytest.raises(SourceError, match="has no sha256"):
        Source.parse("gdrive:1SomeoneElses000", configured)


def test_a_drive_source_built_without_a_sha256_is_not_downloaded(settings):
    def fetch(file_id, destination):
        raise AssertionError("nothing may be downloaded")

    with pytest.raises(SourceError, match="has no sha256"):
        load(Source("gdrive", "1AbCdEfGhIjKlMnOp"), settings, rows=0, seed=0, fetch=fetch)


@pytest.mark.parametrize("margin", [0.0, 0.01, MAX_GATE_MARGIN, -MAX_GATE_MARGIN])
def test_a_gate_margin_within_the_bound_is_kept(margin):
    assert bounded_margin(margin) == margin


@pytest.mark.parametrize("margin", [1.0, 0.11, -0.5, float("nan"), float("inf")])
def test_a_gate_margin_beyond_the_bound_is_refused(margin):
    with pytest.raises(GateMarginError, match="out of range"):
        bounded_margin(margin)


def test_no_gate_verdict_can_carry_a_margin_that_passes_anything():
    with pytest.raises(GateMarginError):
        GateResult("v0002", 0.1, "v0001", 0.9, margin=1.0, evaluated_on="rows")


def test_the_environment_cannot_set_a_margin_beyond_the_bound(monkeypatch):
    monkeypatch.setenv("SENTINEL_GATE_MARGIN", "1")
    with pytest.raises(GateMarginError):
        TrainingSettings.from_env()


@pytest.mark.parametrize("rows", [MIN_ROWS - 1, MAX_ROWS + 1, -5])
def test_synthetic_rows_are_bounded(rows):
    with pytest.raises(ParameterError, match="rows must lie between"):
        checked_rows(rows)


def test_a_reason_is_bounded_in_length():
    with pytest.raises(ParameterError, match=f"at most {MAX_REASON_CHARS} characters"):
        checked_reason("x" * (MAX_REASON_CHARS + 1))


def test_a_run_outside_prefect_and_the_cli_is_a_direct_call():
    assert caller.promoter() == caller.DIRECT


def test_the_cli_user_is_the_promoter_while_the_cli_runs_a_flow():
    with caller.acting_as("alice via sentinel retrain"):
        assert caller.promoter() == "alice via sentinel retrain"
    assert caller.promoter() == caller.DIRECT


def test_an_allowed_csv_path_is_resolved(settings):
    assert allowed_csv(os.path.join(str(settings.csv_dir), "a", "..", "b.csv"), settings) == settings.csv_dir / "b.csv"
