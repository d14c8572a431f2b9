"""The model runtime: a registered ONNX model, checked and loaded once, scoring rows.

The score function builds one OnnxModel per process (DESIGN.md §2) and calls
`predict` for every event. Loading refuses any model that could score wrongly in
silence: bytes that do not match the registered sha256, or a model whose features
are not sentinel.core.transaction.FEATURE_NAMES in that order.

One intra-op and one inter-op thread, run sequentially: a single row takes
microseconds, less than handing work to a thread pool costs, and the functions
scale by processes, not threads.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import onnxruntime as ort

from sentinel.core.transaction import FEATURE_NAMES

# What export writes into every model, and what loading reads back.
INPUT_NAME = "features"
PROBABILITIES_OUTPUT = "probabilities"
FEATURE_NAMES_METADATA_KEY = "sentinel.feature_names"


class ModelRejected(Exception):
    """The model cannot be served as it is."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class ModelRecord:
    """One registered model. `onnx` is empty when the record was read without its bytes."""

    version: str
    sha256: str
    onnx: bytes = field(repr=False)
    feature_names: tuple[str, ...]
    thresholds: dict[str, float]
    metrics: dict[str, Any]
    data_fingerprint: str
    status: str  # candidate | champion | retired
    created_at: datetime
    promoted_at: datetime | None
    promoted_by: str | None
    reason: str | None


class OnnxModel:
    """A registered fraud classifier with one onnxruntime session; safe to call from many threads."""

    def __init__(self, record: ModelRecord) -> None:
        self.record = record
        self._session = load_session(
            record.onnx, sha256=record.sha256, feature_names=record.feature_names, name=f"model {record.version}"
        )

    @property
    def version(self) -> str:
        return self.record.version

    def features_of(self, transaction: Mapping[str, Any]) -> np.ndarray:
        """The (30,) float32 input vector of a validated transaction: the only place one is built."""
        return np.array([transaction[name] for name in FEATURE_NAMES], dtype=np.float32)

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Fraud probabilities (class 1): one per row of an (n, 30) array, or one for a single (30,) vector."""
        return predict_probabilities(self._session, features)


def load_session(onnx: bytes, *, sha256: str, feature_names: Sequence[str], name: str) -> ort.InferenceSession:
    """An inference session for checked model bytes; raises ModelRejected when they cannot be served."""
    actual = sha256_hex(onnx)
    if actual != sha256:
        raise ModelRejected(f"{name}: its bytes hash to {actual}, not the registered {sha256}")
    _require_feature_names(f"{name}'s record", feature_names)
    try:
        session = ort.InferenceSession(onnx, sess_options=_session_options(), providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own error types for unreadable models
        raise ModelRejected(f"{name} is not a model onnxruntime can load: {error}") from error
    _require_feature_names(f"{name}'s ONNX metadata", _embedded_feature_names(session))
    _require_signature(name, session)
    return session


def predict_probabilities(session: ort.InferenceSession, features: np.ndarray) -> np.ndarray:
    rows = np.atleast_2d(np.ascontiguousarray(features, dtype=np.float32))
    if rows.ndim != 2 or rows.shape[1] != len(FEATURE_NAMES):
        raise ValueError(f"expected rows of {len(FEATURE_NAMES)} features, got an array of shape {rows.shape}")
    (probabilities,) = session.run([PROBABILITIES_OUTPUT], {INPUT_NAME: rows})
    return probabilities[:, 1].astype(np.float64)


def _session_options() -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return options


def _embedded_feature_names(session: ort.InferenceSession) -> list[str] | None:
    raw = session.get_modelmeta().custom_metadata_map.get(FEATURE_NAMES_METADATA_KEY)
    return json.loads(raw) if raw is not None else None


def _require_feature_names(source: str, names: Sequence[str] | None) -> None:
    if names is None:
        raise ModelRejected(f"{source} does not declare its feature names")
    if tuple(names) != FEATURE_NAMES:
        differences = [
            f"#{position} is {got!r}, not {expected!r}"
            for position, (got, expected) in enumerate(zip(names, FEATURE_NAMES, strict=False))
            if got != expected
        ]
        if len(names) != len(FEATURE_NAMES):
            differences.append(f"{len(names)} features instead of {len(FEATURE_NAMES)}")
        raise ModelRejected(f"{source} has other features than Sentinel sends: {'; '.join(differences)}")


def _require_signature(name: str, session: ort.InferenceSession) -> None:
    inputs = session.get_inputs()
    outputs = {output.name: output for output in session.get_outputs()}
    if len(inputs) != 1 or inputs[0].name != INPUT_NAME or inputs[0].shape[-1] != len(FEATURE_NAMES):
        raise ModelRejected(f"{name} does not take one {INPUT_NAME!r} input of {len(FEATURE_NAMES)} features")
    if PROBABILITIES_OUTPUT not in outputs or outputs[PROBABILITIES_OUTPUT].shape[-1] != 2:
        raise ModelRejected(f"{name} has no {PROBABILITIES_OUTPUT!r} output for two classes")
