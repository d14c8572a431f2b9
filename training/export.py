"""Export a trained booster to ONNX, and refuse it unless ONNX scores exactly as XGBoost does.

The score function runs the ONNX model through onnxruntime (tens of microseconds a
row, no XGBoost in the image), so the model that was evaluated (XGBoost) and the
model that serves (ONNX) must agree. The parity check scores every held-out row
both ways and rejects the export when any probability differs by more than 1e-5.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import xgboost as xgb
from onnxmltools import convert_xgboost
from onnxmltools.convert.common.data_types import FloatTensorType

from sentinel.core.model import (
    FEATURE_NAMES_METADATA_KEY,
    INPUT_NAME,
    load_session,
    predict_probabilities,
    sha256_hex,
)
from sentinel.core.transaction import FEATURE_NAMES
from training.train import predict

PARITY_TOLERANCE = 1e-5


class ParityError(Exception):
    """ONNX and XGBoost disagree: the export is rejected."""


@dataclass(frozen=True)
class ExportedModel:
    """ONNX bytes ready for the registry."""

    onnx: bytes
    sha256: str
    feature_names: tuple[str, ...] = FEATURE_NAMES


def to_onnx(booster: xgb.Booster) -> ExportedModel:
    """The booster as an ONNX classifier taking `features` [n, 30] and declaring its feature names."""
    model = convert_xgboost(
        booster,
        name="sentinel_fraud",
        initial_types=[(INPUT_NAME, FloatTensorType([None, len(FEATURE_NAMES)]))],
    )
    entry = model.metadata_props.add()
    entry.key = FEATURE_NAMES_METADATA_KEY
    entry.value = json.dumps(list(FEATURE_NAMES))
    onnx = model.SerializeToString()
    return ExportedModel(onnx=onnx, sha256=sha256_hex(onnx))


def check_parity(booster: xgb.Booster, exported: ExportedModel, features: np.ndarray) -> float:
    """The largest |p_onnx - p_xgboost| over `features`; raises ParityError above PARITY_TOLERANCE.

    ONNX scores through the same loading checks and session settings the score function uses.
    """
    if len(features) == 0:
        raise ValueError("the parity check needs at least one row")
    session = load_session(
        exported.onnx, sha256=exported.sha256, feature_names=exported.feature_names, name="the exported model"
    )
    onnx_probability = predict_probabilities(session, features)
    xgboost_probability = predict(booster, features)
    differences = np.abs(onnx_probability - xgboost_probability)
    worst = int(np.argmax(differences))
    max_delta = float(differences[worst])
    if not max_delta <= PARITY_TOLERANCE:
        raise ParityError(
            f"ONNX and XGBoost disagree by up to {max_delta:.2e} (limit {PARITY_TOLERANCE:.0e}) over"
            f" {len(features):,} rows; worst is row {worst}: ONNX {onnx_probability[worst]:.6f},"
            f" XGBoost {xgboost_probability[worst]:.6f}. The model is rejected."
        )
    return max_delta
