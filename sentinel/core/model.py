"""The model runtime: a registered ONNX model, checked and loaded once, scoring rows.

The score function builds one OnnxModel per process (DESIGN.md §2) and calls
`predict` for every event. Loading refuses any model that could score wrongly in
silence: bytes that do not match the registered sha256, or a model whose features
are not a set score computes, in its order: the transaction's own
(sentinel.core.transaction.FEATURE_NAMES), alone or followed by the behavioural
features (sentinel.core.behaviour.FEATURES) of the version score computes.

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

from sentinel.core import behaviour
from sentinel.core.explain import TreeEnsemble, UnexplainableModel
from sentinel.core.reasons import reasons
from sentinel.core.transaction import FEATURE_NAMES

# What export writes into every model, and what loading reads back.
INPUT_NAME = "features"
PROBABILITIES_OUTPUT = "probabilities"
FEATURE_NAMES_METADATA_KEY = "sentinel.feature_names"
BEHAVIOUR_VERSION_METADATA_KEY = "sentinel.behaviour_version"

WITH_BEHAVIOUR: tuple[str, ...] = (*FEATURE_NAMES, *behaviour.FEATURES)
FEATURE_SETS = (FEATURE_NAMES, WITH_BEHAVIOUR)  # what a model may take, in this order


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
        try:
            self._trees: TreeEnsemble | None = TreeEnsemble.from_onnx(record.onnx)
        except UnexplainableModel:  # exported before covers were kept: it scores, but gives no reasons
            self._trees = None

    @property
    def version(self) -> str:
        return self.record.version

    @property
    def uses_behaviour(self) -> bool:
        return self.record.feature_names == WITH_BEHAVIOUR

    def features_of(self, transaction: Mapping[str, Any], behavioural: Sequence[float] = ()) -> list[float]:
        """The input row of a validated transaction and its behavioural features: the only place one is built."""
        row = [transaction[name] for name in FEATURE_NAMES]
        return [*row, *behavioural] if self.uses_behaviour else row

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Fraud probabilities (class 1): one per row of an (n, features) array, or one for a single vector."""
        return predict_probabilities(self._session, features)

    def reasons(self, row: Sequence[float]) -> list[str]:
        """Why the model scored one input row as it did, in words: its features that pushed most towards fraud."""
        if self._trees is None:
            return []
        contributions = self._trees.contributions(np.asarray(row, dtype=np.float32))
        return reasons(self.record.feature_names, row, contributions)

    def predict_table(self, table: np.ndarray, columns: Sequence[str]) -> np.ndarray:
        """Fraud probabilities for the rows of a table whose columns are named `columns`: the model takes its own."""
        missing = [name for name in self.record.feature_names if name not in columns]
        if missing:
            raise ValueError(f"model {self.version} needs columns the data lacks: {', '.join(missing)}")
        position = {name: index for index, name in enumerate(columns)}
        return self.predict(table[:, [position[name] for name in self.record.feature_names]])


def load_session(onnx: bytes, *, sha256: str, feature_names: Sequence[str], name: str) -> ort.InferenceSession:
    """An inference session for checked model bytes; raises ModelRejected when they cannot be served."""
    actual = sha256_hex(onnx)
    if actual != sha256:
        raise ModelRejected(f"{name}: its bytes hash to {actual}, not the registered {sha256}")
    _require_feature_set(f"{name}'s record", feature_names)
    try:
        session = ort.InferenceSession(onnx, sess_options=_session_options(), providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own error types for unreadable models
        raise ModelRejected(f"{name} is not a model onnxruntime can load: {error}") from error
    metadata = session.get_modelmeta().custom_metadata_map
    raw = metadata.get(FEATURE_NAMES_METADATA_KEY)
    embedded = json.loads(raw) if raw is not None else None
    _require_feature_set(f"{name}'s ONNX metadata", embedded)
    if tuple(embedded) != tuple(feature_names):
        raise ModelRejected(f"{name}'s ONNX metadata declares other features than its record")
    if tuple(feature_names) == WITH_BEHAVIOUR:
        _require_behaviour_version(name, metadata.get(BEHAVIOUR_VERSION_METADATA_KEY))
    _require_signature(name, session, len(feature_names))
    return session


def predict_probabilities(session: ort.InferenceSession, features: np.ndarray) -> np.ndarray:
    rows = np.atleast_2d(np.ascontiguousarray(features, dtype=np.float32))
    width = session.get_inputs()[0].shape[-1]
    if rows.ndim != 2 or rows.shape[1] != width:
        raise ValueError(f"expected rows of {width} features, got an array of shape {rows.shape}")
    (probabilities,) = session.run([PROBABILITIES_OUTPUT], {INPUT_NAME: rows})
    return probabilities[:, 1].astype(np.float64)


def _session_options() -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return options


def _require_feature_set(source: str, names: Sequence[str] | None) -> None:
    if names is None:
        raise ModelRejected(f"{source} does not declare its feature names")
    if tuple(names) in FEATURE_SETS:
        return
    expected = WITH_BEHAVIOUR if len(names) > len(FEATURE_NAMES) else FEATURE_NAMES
    differences = [
        f"#{position} is {got!r}, not {wanted!r}"
        for position, (got, wanted) in enumerate(zip(names, expected, strict=False))
        if got != wanted
    ]
    if len(names) != len(expected):
        differences.append(f"{len(names)} features instead of {len(expected)}")
    raise ModelRejected(
        f"{source} has other features than Sentinel sends: {'; '.join(differences)}. A model takes the"
        f" transaction's {len(FEATURE_NAMES)} features, alone or followed by the {len(behaviour.FEATURES)}"
        " behavioural ones"
    )


def _require_behaviour_version(name: str, version: str | None) -> None:
    if version != str(behaviour.VERSION):
        raise ModelRejected(
            f"{name} was trained on behavioural features of version {version or 'unknown'};"
            f" score computes version {behaviour.VERSION}, and the same names may mean other values"
        )


def _require_signature(name: str, session: ort.InferenceSession, width: int) -> None:
    inputs = session.get_inputs()
    outputs = {output.name: output for output in session.get_outputs()}
    if len(inputs) != 1 or inputs[0].name != INPUT_NAME or inputs[0].shape[-1] != width:
        raise ModelRejected(f"{name} does not take one {INPUT_NAME!r} input of {width} features")
    if PROBABILITIES_OUTPUT not in outputs or outputs[PROBABILITIES_OUTPUT].shape[-1] != 2:
        raise ModelRejected(f"{name} has no {PROBABILITIES_OUTPUT!r} output for two classes")
