"""The promotion gate's measurement: candidate and champion scored on the same labelled rows.

Each model's own test metrics come from different data and cannot be compared;
so both registered ONNX models score the very same rows here, through the same
runtime the score function uses, and the registry decides with their AUPRCs.
Those rows are the registry's fixed holdout (training.holdout): a candidate's own
test split was chosen by whoever trained it.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score

from sentinel.core.model import ModelRecord, OnnxModel
from sentinel.core.promotion import GateResult
from sentinel.stores import registry
from sentinel.stores.database import Database
from sentinel.stores.holdout import Holdout


def auprc(record: ModelRecord, table: np.ndarray, columns: tuple[str, ...], labels: np.ndarray) -> float:
    """The AUPRC of a registered model (loaded with its bytes) on labelled rows whose columns are named `columns`."""
    return float(average_precision_score(labels, OnnxModel(record).predict_table(table, columns)))


def measure(
    db: Database,
    candidate: ModelRecord,
    table: np.ndarray,
    columns: tuple[str, ...],
    labels: np.ndarray,
    *,
    margin: float,
    evaluated_on: str,
) -> GateResult:
    """The candidate's AUPRC next to the current champion's, on the same labelled rows."""
    champion = registry.champion(db)
    return GateResult(
        candidate_version=candidate.version,
        candidate_auprc=auprc(candidate, table, columns, labels),
        champion_version=champion.version if champion else None,
        champion_auprc=auprc(champion, table, columns, labels) if champion else None,
        margin=margin,
        evaluated_on=evaluated_on,
    )


def on_holdout(db: Database, candidate: ModelRecord, holdout: Holdout, *, margin: float) -> GateResult:
    """The gate's verdict on `candidate`, measured on the registry's holdout."""
    return measure(
        db,
        candidate,
        holdout.features,
        holdout.feature_names,
        holdout.labels,
        margin=margin,
        evaluated_on=holdout.describe(),
    )
