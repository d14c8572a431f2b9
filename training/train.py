"""Train the fraud classifier, choose its decision thresholds, and measure it on held-out data.

Fraud is rare (about 0.17% of rows), so the choices here are about imbalance:
- XGBoost weighs fraud rows up with scale_pos_weight = sqrt(legitimate / fraud).
  The full ratio ranked worse on held-out synthetic data and squeezes the
  probabilities towards 1; the square root keeps them spread out for the thresholds.
- Early stopping watches the validation log loss. AUPRC is the metric that
  matters (ROC-AUC looks excellent even for weak fraud models) and is what we
  report, but a validation split holds only a dozen or two fraud rows, and AUPRC
  over so few jumps by chance: it stopped some runs after three trees. Log loss
  uses every row and moves smoothly.
- The split is time-ordered when rows have event times (train on the past, test
  on the future, as in production), otherwise stratified so each part has fraud.
- Thresholds come from the validation precision-recall curve: by default review
  where half of the flagged rows are fraud, block where nine in ten are
  (PrecisionTargets; SENTINEL_REVIEW_PRECISION / SENTINEL_BLOCK_PRECISION).
- Metrics are computed on the test split only, which took no part in any choice.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import xgboost as xgb
from sklearn.metrics import (
    average_precision_score,
    precision_recall_curve,
    roc_auc_score,
)
from sklearn.model_selection import train_test_split

from training.dataset import DataError, Dataset

VALIDATION_SHARE = 0.2
TEST_SHARE = 0.2
MAX_TREES = 400
EARLY_STOPPING_ROUNDS = 40
# Two threads: the build machines have two cores, and more would only contend.
TRAINING_THREADS = 2
# Thresholds stay strictly inside (0, 1) so every decision remains reachable.
_THRESHOLD_FLOOR, _THRESHOLD_CEILING = 1e-6, 1 - 1e-6


@dataclass(frozen=True)
class PrecisionTargets:
    """The share of flagged rows that must be fraud at the review and at the block threshold."""

    review: float = 0.5
    block: float = 0.9

    def __post_init__(self) -> None:
        if not 0 < self.review <= self.block <= 1:
            raise ValueError(
                f"precision targets must satisfy 0 < review <= block <= 1, got review={self.review}, block={self.block}"
            )

    def to_json(self) -> dict[str, float]:
        return {"review": self.review, "block": self.block}


DEFAULT_TARGETS = PrecisionTargets()


@dataclass(frozen=True)
class Split:
    """Row indices of each part of the data."""

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    method: str  # "time" or "stratified"


@dataclass(frozen=True)
class TrainedModel:
    booster: xgb.Booster  # cut to its best iteration
    feature_names: tuple[str, ...]  # of the columns it was trained on, in order
    thresholds: dict[str, float]  # {"review": ..., "block": ...}
    targets: PrecisionTargets  # what the thresholds were chosen for
    details: dict[str, Any]  # JSON-ready: how it was trained


def train(
    dataset: Dataset, split: Split, *, seed: int = 7, targets: PrecisionTargets = DEFAULT_TARGETS
) -> TrainedModel:
    """Fit on the train split and choose thresholds on validation; the test split stays untouched."""
    started = time.perf_counter()
    features, labels = dataset.features, dataset.labels
    booster, scale_pos_weight = _fit(features, labels, split, seed=seed)
    validation_scores = predict(booster, features[split.validation])
    thresholds, threshold_rules = choose_thresholds(labels[split.validation], validation_scores, targets)
    details = {
        "split": split.method,
        "split_rows": {
            name: {"rows": int(len(part)), "fraud": int(labels[part].sum())}
            for name, part in (("train", split.train), ("validation", split.validation), ("test", split.test))
        },
        "threshold_rules": threshold_rules,
        "trees": booster.num_boosted_rounds(),
        "scale_pos_weight": round(scale_pos_weight, 3),
        "training_seconds": round(time.perf_counter() - started, 3),
    }
    return TrainedModel(
        booster=booster,
        feature_names=dataset.feature_names,
        thresholds=thresholds,
        targets=targets,
        details=details,
    )


def held_out_metrics(trained: TrainedModel, dataset: Dataset, split: Split) -> dict[str, Any]:
    """How the model does on the test split, which took no part in any choice, plus how it was trained."""
    true_probability = None if dataset.true_probability is None else dataset.true_probability[split.test]
    scores = predict(trained.booster, dataset.features[split.test])
    metrics = evaluate(
        dataset.labels[split.test], scores, trained.thresholds, trained.targets, true_probability=true_probability
    )
    return {**metrics, **trained.details}


def _fit(features: np.ndarray, labels: np.ndarray, split: Split, *, seed: int) -> tuple[xgb.Booster, float]:
    """The booster cut to its best iteration on validation, and the fraud weight it was trained with."""
    train_labels = labels[split.train]
    fraud = int(train_labels.sum())
    scale_pos_weight = math.sqrt((len(train_labels) - fraud) / fraud)
    params = {
        "objective": "binary:logistic",
        "eval_metric": "logloss",
        "tree_method": "hist",
        # Fraud lives in the far tails of a few features; finer histograms resolve them.
        "max_bin": 1024,
        "max_depth": 4,
        "eta": 0.1,
        "subsample": 0.8,
        "colsample_bytree": 0.8,
        "scale_pos_weight": scale_pos_weight,
        "nthread": TRAINING_THREADS,
        "seed": seed,
    }
    training = xgb.DMatrix(features[split.train], label=train_labels, nthread=TRAINING_THREADS)
    validation = xgb.DMatrix(features[split.validation], label=labels[split.validation], nthread=TRAINING_THREADS)
    booster = xgb.train(
        params,
        training,
        num_boost_round=MAX_TREES,
        evals=[(validation, "validation")],
        early_stopping_rounds=EARLY_STOPPING_ROUNDS,
        verbose_eval=False,
    )
    return booster[: booster.best_iteration + 1], scale_pos_weight


def predict(booster: xgb.Booster, features: np.ndarray) -> np.ndarray:
    """XGBoost's own fraud probabilities: the reference the ONNX export must match."""
    return booster.inplace_predict(features).astype(np.float64)


def split_rows(dataset: Dataset, *, seed: int) -> Split:
    """Train / validation / test: by event time when known, else stratified by label."""
    count = len(dataset)
    if dataset.event_times is not None:
        order = np.argsort(dataset.event_times, kind="stable")
        train_end = round(count * (1 - VALIDATION_SHARE - TEST_SHARE))
        validation_end = round(count * (1 - TEST_SHARE))
        split = Split(order[:train_end], order[train_end:validation_end], order[validation_end:], "time")
    else:
        indices = np.arange(count)
        train_part, rest = train_test_split(
            indices, test_size=VALIDATION_SHARE + TEST_SHARE, stratify=dataset.labels, random_state=seed
        )
        validation_part, test_part = train_test_split(
            rest,
            test_size=TEST_SHARE / (VALIDATION_SHARE + TEST_SHARE),
            stratify=dataset.labels[rest],
            random_state=seed,
        )
        split = Split(train_part, validation_part, test_part, "stratified")
    for name, part in (("training", split.train), ("validation", split.validation), ("test", split.test)):
        if not dataset.labels[part].any():
            raise DataError(f"the {name} split has no fraud rows; train on more rows")
    return split


def choose_thresholds(
    labels: np.ndarray, scores: np.ndarray, targets: PrecisionTargets = DEFAULT_TARGETS
) -> tuple[dict[str, float], dict[str, str]]:
    """Review and block thresholds from a precision-recall curve, and the rule that chose each.

    Each is the score that catches the most fraud while the rows it flags reach the
    precision target; of several that catch as much, the highest, which flags fewest.
    When the curve never gets there, review falls back to the best F1 and block to
    the best precision, and block is never below review.
    """
    precision, recall, cuts = precision_recall_curve(labels, scores)
    # precision[i] and recall[i] hold when flagging scores >= cuts[i]; the curve's last point has no cut.
    precision, recall = precision[:-1], recall[:-1]

    review, review_rule = _cut_reaching(precision, recall, cuts, targets.review)
    if review is None:
        f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
        review, review_rule = float(cuts[int(np.argmax(f1))]), "fallback: best F1"
    block, block_rule = _cut_reaching(precision, recall, cuts, targets.block)
    if block is None:
        block, block_rule = float(cuts[int(np.argmax(precision))]), "fallback: best precision"
    if block < review:
        block, block_rule = review, f"{block_rule}, raised to the review threshold"

    thresholds = {
        "review": float(np.clip(review, _THRESHOLD_FLOOR, _THRESHOLD_CEILING)),
        "block": float(np.clip(block, _THRESHOLD_FLOOR, _THRESHOLD_CEILING)),
    }
    return thresholds, {"review": review_rule, "block": block_rule}


def _cut_reaching(
    precision: np.ndarray, recall: np.ndarray, cuts: np.ndarray, target: float
) -> tuple[float | None, str]:
    reaching = precision >= target
    if not reaching.any():
        return None, ""
    most_caught = np.flatnonzero(reaching & (recall == recall[reaching].max()))
    return float(cuts[most_caught[-1]]), f"precision >= {target}"


def evaluate(
    labels: np.ndarray,
    scores: np.ndarray,
    thresholds: dict[str, float],
    targets: PrecisionTargets = DEFAULT_TARGETS,
    *,
    true_probability: np.ndarray | None = None,
) -> dict[str, Any]:
    """Ranking quality and the outcome of each threshold on one labelled set of rows.

    `recall_at_precision` is the most fraud any threshold could catch while reaching
    each precision target on these rows; `at_thresholds` is what the chosen
    thresholds (picked on other rows) actually did here.
    """
    precision, recall, _ = precision_recall_curve(labels, scores)
    metrics: dict[str, Any] = {
        "rows": int(len(labels)),
        "fraud": int(labels.sum()),
        "auprc": float(average_precision_score(labels, scores)),
        "roc_auc": float(roc_auc_score(labels, scores)),
        "fraud_rate": float(labels.mean()),
        "precision_targets": targets.to_json(),
        "recall_at_precision": {
            name: float(recall[precision >= target].max(initial=0.0)) for name, target in targets.to_json().items()
        },
        "at_thresholds": {name: _confusion(labels, scores >= cut) for name, cut in thresholds.items()},
    }
    if true_probability is not None:
        metrics["best_achievable_auprc"] = float(average_precision_score(labels, true_probability))
    return metrics


def _confusion(labels: np.ndarray, flagged: np.ndarray) -> dict[str, float | int]:
    fraud = labels.astype(bool)
    true_positive = int(np.sum(flagged & fraud))
    false_positive = int(np.sum(flagged & ~fraud))
    false_negative = int(np.sum(~flagged & fraud))
    true_negative = int(np.sum(~flagged & ~fraud))
    return {
        "true_positive": true_positive,
        "false_positive": false_positive,
        "false_negative": false_negative,
        "true_negative": true_negative,
        "precision": true_positive / (true_positive + false_positive) if true_positive + false_positive else 0.0,
        "recall": true_positive / (true_positive + false_negative) if true_positive + false_negative else 0.0,
    }
