"""The offline executor of the behavioural features (sentinel.core.behaviour).

Runs the definitions over a labelled dataset in time order, one in-memory history per
user, so each row's features come from strictly earlier rows of the same user: no
row sees its own label's future. Score runs the same definitions online, against
histories in Redis; the parity test holds the two equal.
"""

from __future__ import annotations

import numpy as np

from sentinel.core import behaviour
from sentinel.core.transaction import FEATURE_NAMES
from training.dataset import DataError, Dataset

_AMOUNT = FEATURE_NAMES.index("Amount")
_MICROSECOND = np.timedelta64(1, "us")
_EPOCH = np.datetime64(0, "us")


def can_compute(dataset: Dataset) -> bool:
    """Whether the dataset says whose each row is and when it happened, which the features need."""
    return dataset.user_ids is not None and dataset.event_times is not None


def with_behaviour(dataset: Dataset) -> Dataset:
    """The dataset with the behavioural features appended to its columns (behaviour.FEATURES, after FEATURE_NAMES)."""
    if dataset.feature_names != FEATURE_NAMES:
        raise DataError("behavioural features go after the transaction's own features, once")
    columns = behavioural_features(dataset).astype(np.float32)
    return dataset.with_features(np.hstack([dataset.features, columns]), (*FEATURE_NAMES, *behaviour.FEATURES))


def behavioural_features(dataset: Dataset) -> np.ndarray:
    """An (n, len(behaviour.FEATURES)) float64 array: each row's features from its user's earlier rows."""
    if not can_compute(dataset):
        raise DataError("behavioural features need each row's user and time; this dataset has neither")
    assert dataset.user_ids is not None and dataset.event_times is not None
    microseconds = ((dataset.event_times.astype("datetime64[us]") - _EPOCH) // _MICROSECOND).tolist()
    amounts = (dataset.amounts if dataset.amounts is not None else dataset.features[:, _AMOUNT]).tolist()
    users = dataset.user_ids.tolist()
    transaction_ids = dataset.transaction_ids.tolist() if dataset.transaction_ids is not None else None
    merchants = dataset.merchant_ids.tolist() if dataset.merchant_ids is not None else None
    histories: dict[str, behaviour.History] = {}
    out = np.empty((len(dataset), len(behaviour.FEATURES)))
    for row in np.argsort(microseconds, kind="stable").tolist():
        history = histories.get(users[row])
        if history is None:
            history = histories[users[row]] = behaviour.new_history()
        seen = behaviour.Observation(
            transaction_ids[row] if transaction_ids is not None else f"row-{row}",
            microseconds[row] / 1e6,
            amounts[row],
            merchants[row] if merchants is not None and merchants[row] else None,
        )
        out[row] = behaviour.observe(history, seen)
    return out
