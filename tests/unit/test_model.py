"""The model runtime (OnnxModel) and the decision rule (sentinel.core.decision)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import onnx
import pytest

from sentinel.core.decision import ThresholdOverrides, Thresholds, decide, thresholds_for
from sentinel.core.model import FEATURE_NAMES_METADATA_KEY, ModelRecord, ModelRejected, OnnxModel, sha256_hex
from sentinel.core.transaction import FEATURE_NAMES
from training.export import to_onnx
from training.synthetic import demo_transactions, generate
from training.train import predict, split_rows, train


@pytest.fixture(scope="module")
def dataset():
    return generate(30_000, seed=5)


@pytest.fixture(scope="module")
def split(dataset):
    return split_rows(dataset, seed=5)


@pytest.fixture(scope="module")
def trained(dataset, split):
    return train(dataset, split, seed=5)


@pytest.fixture(scope="module")
def held_out_features(dataset, split):
    return dataset.features[split.test]


@pytest.fixture(scope="module")
def record(trained) -> ModelRecord:
    exported = to_onnx(trained.booster, trained.feature_names)
    return ModelRecord(
        version="v0042",
        sha256=exported.sha256,
        onnx=exported.onnx,
        feature_names=FEATURE_NAMES,
        thresholds=trained.thresholds,
        metrics=trained.details,
        data_fingerprint="test",
        status="champion",
        created_at=datetime.now(UTC),
        promoted_at=None,
        promoted_by=None,
        reason=None,
    )


def with_onnx(record: ModelRecord, onnx_bytes: bytes) -> ModelRecord:
    return replace(record, onnx=onnx_bytes, sha256=sha256_hex(onnx_bytes))


def test_onnx_probabilities_match_xgboost_within_1e_5(trained, record, held_out_features):
    onnx_probability = OnnxModel(record).predict(held_out_features)
    assert np.max(np.abs(onnx_probability - predict(trained.booster, held_out_features))) <= 1e-5


def test_predict_gives_one_probability_per_row(record, held_out_features):
    probabilities = OnnxModel(record).predict(held_out_features[:7])
    assert probabilities.shape == (7,)
    assert np.all((probabilities >= 0) & (probabilities <= 1))


def test_a_transaction_is_scored_through_its_feature_vector(trained, record):
    model = OnnxModel(record)
    transaction = demo_transactions(1, seed=3, fraud_share=0.0)[0]
    vector = np.array(model.features_of(transaction), dtype=np.float32)
    assert vector.tolist() == pytest.approx([transaction[name] for name in FEATURE_NAMES], rel=1e-6)
    assert model.predict(vector)[0] == pytest.approx(predict(trained.booster, vector[np.newaxis])[0], abs=1e-5)


def test_the_feature_vector_follows_feature_names_order(record):
    transaction = {name: float(position) for position, name in enumerate(FEATURE_NAMES)}
    assert OnnxModel(record).features_of(transaction) == list(range(len(FEATURE_NAMES)))


def test_predict_refuses_rows_of_the_wrong_width(record):
    with pytest.raises(ValueError, match="30 features"):
        OnnxModel(record).predict(np.zeros((2, 29), dtype=np.float32))


def test_bytes_that_do_not_match_the_registered_sha256_are_rejected(record):
    tampered = replace(record, onnx=record.onnx + b"\0")
    with pytest.raises(ModelRejected, match="hash"):
        OnnxModel(tampered)


def test_a_record_with_other_feature_names_is_rejected(record):
    swapped = ("Time", "V2", "V1", *FEATURE_NAMES[3:])
    with pytest.raises(ModelRejected, match="'V2', not 'V1'"):
        OnnxModel(replace(record, feature_names=swapped))


def test_onnx_declaring_other_feature_names_is_rejected(record):
    model = onnx.load_model_from_string(record.onnx)
    for entry in model.metadata_props:
        if entry.key == FEATURE_NAMES_METADATA_KEY:
            entry.value = json.dumps([*FEATURE_NAMES[:-1], "amount_eur"])
    with pytest.raises(ModelRejected, match="ONNX metadata.*amount_eur"):
        OnnxModel(with_onnx(record, model.SerializeToString()))


def test_onnx_without_declared_feature_names_is_rejected(record):
    model = onnx.load_model_from_string(record.onnx)
    del model.metadata_props[:]
    with pytest.raises(ModelRejected, match="does not declare"):
        OnnxModel(with_onnx(record, model.SerializeToString()))


def test_bytes_that_are_not_onnx_are_rejected(record):
    with pytest.raises(ModelRejected, match="not a model onnxruntime can load"):
        OnnxModel(with_onnx(record, b"not a model"))


THRESHOLDS = Thresholds(review=0.3, block=0.8)


@pytest.mark.parametrize(
    ("risk", "decision"),
    [
        (0.0, "approve"),
        (np.nextafter(0.3, 0), "approve"),
        (0.3, "review"),
        (np.nextafter(0.8, 0), "review"),
        (0.8, "block"),
        (1.0, "block"),
    ],
)
def test_decide_reviews_from_the_review_threshold_and_blocks_from_the_block_threshold(risk, decision):
    assert decide(risk, THRESHOLDS) == decision


def test_equal_thresholds_block_without_reviewing():
    assert decide(0.5, Thresholds(review=0.5, block=0.5)) == "block"


@pytest.mark.parametrize(("review", "block"), [(0.9, 0.8), (-0.1, 0.5), (0.5, 1.5), (float("nan"), 0.5)])
def test_thresholds_out_of_order_or_range_are_refused(review, block):
    with pytest.raises(ValueError):
        Thresholds(review=review, block=block)


def test_without_overrides_the_model_thresholds_apply():
    assert thresholds_for({"review": 0.3, "block": 0.8}, ThresholdOverrides(None, None)) == THRESHOLDS


def test_an_environment_override_replaces_only_its_own_threshold():
    assert thresholds_for({"review": 0.3, "block": 0.8}, ThresholdOverrides(None, 0.6)) == Thresholds(0.3, 0.6)
    assert thresholds_for({"review": 0.3, "block": 0.8}, ThresholdOverrides(0.1, None)) == Thresholds(0.1, 0.8)


def test_an_override_that_inverts_the_thresholds_names_the_variable():
    with pytest.raises(ValueError, match="SENTINEL_BLOCK_THRESHOLD"):
        thresholds_for({"review": 0.3, "block": 0.8}, ThresholdOverrides(None, 0.2))
