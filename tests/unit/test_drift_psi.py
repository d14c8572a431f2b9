"""The population stability index and the training profile it is measured against (sentinel.core.drift)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from sentinel.core import drift

END = datetime(2026, 1, 2, tzinfo=UTC)
WINDOW = (END - timedelta(hours=24), END)


def _compare(profile: drift.Profile, samples: dict[str, np.ndarray], *, rows: int | None = None) -> drift.Report:
    rows = max(len(sample) for sample in samples.values()) if rows is None else rows
    return drift.compare(
        profile, samples, champion_version="v0001", window=WINDOW, rows=rows, threshold=0.2, min_rows=500
    )


def test_a_distribution_against_itself_has_a_psi_of_zero():
    values = np.random.default_rng(1).normal(size=10_000)
    reference = drift.reference_of(values)
    assert drift.psi(reference.shares, reference.shares_of(values)) == 0.0


def test_a_fresh_sample_of_the_same_distribution_is_stable():
    rng = np.random.default_rng(2)
    reference = drift.reference_of(rng.normal(size=20_000))
    value = drift.psi(reference.shares, reference.shares_of(rng.normal(size=5_000)))
    assert value < 0.01 and drift.reading(value) == "stable"


def test_a_known_shift_has_the_psi_computed_by_hand():
    # (0.8 - 0.5) ln(0.8 / 0.5) + (0.2 - 0.5) ln(0.2 / 0.5) = 0.3 ln 1.6 + 0.3 ln 2.5 = 0.3 ln 4
    assert drift.psi([0.5, 0.5], [0.8, 0.2]) == pytest.approx(0.3 * math.log(4), abs=1e-12)


def test_an_empty_bin_counts_as_epsilon_so_the_psi_stays_finite():
    # (0.05 - 1e-4) ln(0.05 / 1e-4) + (0.95 - 1) ln(0.95 / 1)
    expected = (0.05 - 1e-4) * math.log(0.05 / 1e-4) + (0.95 - 1) * math.log(0.95)
    assert drift.EPSILON == 1e-4
    assert drift.psi([0.0, 1.0], [0.05, 0.95]) == pytest.approx(expected, abs=1e-12)


def test_the_reference_bins_are_the_deciles_of_the_training_values():
    reference = drift.reference_of(np.arange(100, dtype=float))
    assert reference.edges == pytest.approx([9, 19, 29, 39, 49, 59, 69, 79, 89])
    assert reference.shares == pytest.approx([0.1] * 10)


def test_repeated_deciles_are_merged_into_one_edge():
    flags = np.array([0.0] * 70 + [1.0] * 30)
    reference = drift.reference_of(flags)
    assert reference.edges == (0.0, 1.0)
    assert reference.shares == pytest.approx([0.7, 0.3, 0.0])


def test_the_first_and_last_bins_are_open_ended():
    reference = drift.reference_of(np.arange(100, dtype=float))
    assert reference.shares_of(np.array([-1e9, 1e9])) == pytest.approx([0.5] + [0.0] * 8 + [0.5])


def test_values_that_are_not_finite_are_left_out():
    reference = drift.reference_of(np.arange(100, dtype=float))
    assert reference.shares_of(np.array([np.nan, np.inf, 5.0])) == pytest.approx([1.0] + [0.0] * 9)


def test_a_profile_reads_back_from_its_json():
    profile = drift.Profile({"Amount": drift.reference_of(np.arange(50.0))}, rows=50)
    assert drift.Profile.from_json(profile.to_json()) == profile


def test_a_shifted_column_alerts_and_is_named():
    rng = np.random.default_rng(3)
    profile = drift.Profile({"a": drift.reference_of(rng.normal(size=20_000)),
                             "b": drift.reference_of(rng.normal(size=20_000))}, rows=20_000)  # fmt: skip
    report = _compare(profile, {"a": rng.normal(size=5_000), "b": rng.normal(size=5_000) + 2})
    assert report.status == drift.COMPARED and report.alerting
    assert [name for name, _ in report.drifted] == ["b"]
    assert report.max_psi == report.psi["b"] > 1
    assert report.message.startswith("drift above 0.2 in b (")


def test_an_unshifted_sample_stays_quiet_and_says_which_column_moved_most():
    rng = np.random.default_rng(4)
    profile = drift.Profile({"a": drift.reference_of(rng.normal(size=20_000))}, rows=20_000)
    report = _compare(profile, {"a": rng.normal(size=5_000)})
    assert not report.alerting and report.drifted == []
    assert report.message.startswith("no drift above 0.2: the largest is a at 0.0")


def test_the_threshold_decides_whether_a_moderate_shift_alerts():
    rng = np.random.default_rng(5)
    profile = drift.Profile({"a": drift.reference_of(rng.normal(size=20_000))}, rows=20_000)
    traffic = {"a": rng.normal(size=5_000) + 0.4}

    def checked(threshold: float) -> drift.Report:
        return drift.compare(
            profile, traffic, champion_version="v0001", window=WINDOW, rows=5_000, threshold=threshold, min_rows=500
        )

    assert 0.1 < checked(0.2).max_psi < 0.2
    assert checked(0.1).alerting and not checked(0.2).alerting


def test_too_few_rows_compare_nothing_and_raise_no_alert():
    profile = drift.Profile({"a": drift.reference_of(np.arange(100.0))}, rows=100)
    report = _compare(profile, {"a": np.arange(100.0) + 1000}, rows=100)
    assert report.status == drift.TOO_FEW_ROWS and not report.alerting and report.psi == {}
    assert report.message == "only 100 transactions in the window; at least 500 are needed to compare"


def test_a_column_with_too_few_values_is_left_out_and_named():
    rng = np.random.default_rng(5)
    profile = drift.Profile({"a": drift.reference_of(rng.normal(size=1_000)),
                             drift.RISK_SCORE: drift.reference_of(rng.random(1_000))}, rows=1_000)  # fmt: skip
    report = _compare(profile, {"a": rng.normal(size=1_000), drift.RISK_SCORE: rng.random(20)})
    assert set(report.psi) == {"a"}
    assert report.message.endswith(f"; too few values to compare {drift.RISK_SCORE}")


@pytest.mark.parametrize(
    ("value", "expected"), [(0.05, "stable"), (0.15, "moderate"), (0.2, "moderate"), (0.25, "significant")]
)
def test_the_usual_reading_of_a_psi(value, expected):
    assert drift.reading(value) == expected


def test_columns_that_count_from_a_start_are_not_compared():
    rng = np.random.default_rng(6)
    profile = drift.Profile({"Time": drift.reference_of(np.arange(10_000.0)),
                             "a": drift.reference_of(rng.normal(size=10_000))}, rows=10_000)  # fmt: skip
    report = _compare(profile, {"Time": np.arange(10_000.0) + 50_000, "a": rng.normal(size=5_000)})
    assert set(report.psi) == {"a"} and not report.alerting
