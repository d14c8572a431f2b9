"""Training, threshold choice, evaluation and ONNX export on small synthetic data."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from sentinel.core.transaction import FEATURE_NAMES
from training.export import PARITY_TOLERANCE, ParityError, check_parity, to_onnx
from training.synthetic import generate
from training.train import (
    DEFAULT_TARGETS,
    PrecisionTargets,
    choose_thresholds,
    held_out_metrics,
    predict,
    split_rows,
    train,
)


@pytest.fixture(scope="module")
def dataset():
    return generate(40_000, seed=21)


@pytest.fixture(scope="module")
def split(dataset):
    return split_rows(dataset, seed=21)


@pytest.fixture(scope="module")
def trained(dataset, split):
    return train(dataset, split, seed=21)


@pytest.fixture(scope="module")
def metrics(trained, dataset, split):
    return held_out_metrics(trained, dataset, split)


@pytest.fixture(scope="module")
def held_out_features(dataset, split):
    return dataset.features[split.test]


@pytest.fixture(scope="module")
def fresh_rows():
    """Rows the model never saw, enough of them that AUPRC is measured to about ±0.03."""
    return generate(200_000, seed=1_001)


def test_thresholds_are_ordered_and_strictly_between_zero_and_one(trained):
    assert 0 < trained.thresholds["review"] <= trained.thresholds["block"] < 1


def test_metrics_report_ranking_quality_on_the_test_split(metrics, split):
    assert 0 < metrics["auprc"] <= 1
    assert 0.5 < metrics["roc_auc"] <= 1
    assert 0 < metrics["best_achievable_auprc"] <= 1
    assert metrics["trees"] >= 1
    assert metrics["rows"] == len(split.test)


def test_recall_is_reported_at_each_target_precision(metrics):
    assert metrics["precision_targets"] == {"review": 0.5, "block": 0.9}
    recall = metrics["recall_at_precision"]
    assert 0 <= recall["block"] <= recall["review"] <= 1


def test_confusion_matrices_at_the_thresholds_cover_every_test_row(metrics):
    test_rows = metrics["split_rows"]["test"]
    for name in ("review", "block"):
        outcome = metrics["at_thresholds"][name]
        assert (
            outcome["true_positive"] + outcome["false_positive"] + outcome["false_negative"] + outcome["true_negative"]
            == test_rows["rows"]
        )
        assert outcome["true_positive"] + outcome["false_negative"] == test_rows["fraud"]


def test_blocking_flags_no_more_rows_than_review(metrics):
    review, block = (metrics["at_thresholds"][name] for name in ("review", "block"))
    assert block["true_positive"] + block["false_positive"] <= review["true_positive"] + review["false_positive"]


def test_the_model_ranks_fraud_better_than_any_single_feature(trained, fresh_rows):
    model_auprc = average_precision_score(fresh_rows.labels, predict(trained.booster, fresh_rows.features))
    best_single_feature = max(
        average_precision_score(fresh_rows.labels, sign * fresh_rows.features[:, column])
        for column in range(len(FEATURE_NAMES))
        for sign in (-1, 1)
    )
    assert model_auprc > best_single_feature + 0.1


def test_the_model_does_not_beat_the_best_achievable_auprc(trained, fresh_rows):
    model_auprc = average_precision_score(fresh_rows.labels, predict(trained.booster, fresh_rows.features))
    best_achievable = average_precision_score(fresh_rows.labels, fresh_rows.true_probability)
    assert model_auprc <= best_achievable + 0.03


def test_time_ordered_split_trains_on_the_past_and_tests_on_the_future(dataset):
    split = split_rows(dataset, seed=1)
    assert split.method == "time"
    assert dataset.event_times[split.train].max() <= dataset.event_times[split.validation].min()
    assert dataset.event_times[split.validation].max() <= dataset.event_times[split.test].min()
    assert len(split.train) + len(split.validation) + len(split.test) == len(dataset)


def test_without_event_times_the_split_is_stratified(dataset):
    split = split_rows(replace(dataset, event_times=None), seed=1)
    assert split.method == "stratified"
    assert len(np.intersect1d(split.train, split.test)) == 0
    for part in (split.train, split.validation, split.test):
        assert dataset.labels[part].mean() == pytest.approx(dataset.fraud_rate, rel=0.25)


def test_too_few_rows_for_fraud_in_every_split_is_a_clear_error():
    with pytest.raises(ValueError, match="no fraud rows"):
        split_rows(generate(300, seed=1), seed=1)


def test_each_threshold_catches_the_most_fraud_its_precision_target_allows():
    assert DEFAULT_TARGETS == PrecisionTargets(review=0.5, block=0.9)
    scores = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95])
    labels = np.array([0, 0, 0, 1, 0, 1, 1, 0, 1, 1])
    # Review: flagging >= 0.1 and >= 0.4 both catch all 5 frauds at precision >= 0.5;
    # 0.4 flags 7 rows instead of 10. Block: >= 0.9 catches 2 of 2; >= 0.8 has precision 2/3.
    thresholds, rules = choose_thresholds(labels, scores)
    assert thresholds == {"review": 0.4, "block": 0.9}
    assert rules == {"review": "precision >= 0.5", "block": "precision >= 0.9"}


def test_unreachable_precision_targets_fall_back_without_inverting_the_thresholds():
    scores = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    labels = np.array([1, 0, 1, 0, 0])
    # Precision never reaches 0.5: the best F1 flags everything (p 0.4, r 1), the best precision is there too.
    thresholds, rules = choose_thresholds(labels, scores)
    assert thresholds == {"review": 0.1, "block": 0.1}
    assert rules["review"].startswith("fallback") and rules["block"].startswith("fallback")


def test_other_precision_targets_move_the_thresholds():
    scores = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95])
    labels = np.array([0, 0, 0, 1, 0, 1, 1, 0, 1, 1])
    # Review at precision 0.75: >= 0.6 catches 4 of 5 with precision 4/5. Block at 1.0: >= 0.9.
    thresholds, _ = choose_thresholds(labels, scores, PrecisionTargets(review=0.75, block=1.0))
    assert thresholds == {"review": 0.6, "block": 0.9}


def test_precision_targets_out_of_order_are_refused():
    with pytest.raises(ValueError, match="review <= block"):
        PrecisionTargets(review=0.9, block=0.5)


def test_the_thresholds_follow_the_targets_they_were_trained_for(dataset, split):
    strict = train(dataset, split, seed=21, targets=PrecisionTargets(review=0.8, block=0.95))
    assert strict.targets.to_json() == {"review": 0.8, "block": 0.95}
    assert strict.details["threshold_rules"]["review"] in ("precision >= 0.8", "fallback: best F1")


def test_the_onnx_export_scores_like_xgboost(trained, held_out_features):
    exported = to_onnx(trained.booster, trained.feature_names)
    assert check_parity(trained.booster, exported, held_out_features) <= PARITY_TOLERANCE


def test_an_export_that_scores_differently_is_rejected(trained, held_out_features):
    other_model = to_onnx(trained.booster[:1], trained.feature_names)
    with pytest.raises(ParityError, match="rejected"):
        check_parity(trained.booster, other_model, held_out_features)
