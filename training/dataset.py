"""A labelled dataset, and the one schema check every source's rows go through.

Whatever the source (the synthetic generator, a CSV file, a Google Drive download,
labelled history from PostgreSQL), its rows become a `Dataset` only through
`from_rows` / `check` here, so bad data gets the same clear error wherever it
comes from: which columns are missing, which column on which row is not a number
or not finite, and whether both classes are present. The messages never quote the
data itself: a source may be pointed at a file whose contents are nobody's business.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from sentinel.core.transaction import FEATURE_NAMES

LABEL_COLUMN = "Class"
# The columns of the public credit-card fraud dataset, in its order.
REQUIRED_COLUMNS: tuple[str, ...] = (*FEATURE_NAMES, LABEL_COLUMN)

RowLabel = Callable[[int], str]


class DataError(ValueError):
    """The data cannot be trained or evaluated on; the message says what is wrong and where."""


@dataclass(frozen=True)
class Dataset:
    """Labelled rows; `features` columns follow `feature_names` (sentinel.core.transaction.FEATURE_NAMES)."""

    features: np.ndarray  # float32, (n, 30)
    labels: np.ndarray  # int8, (n,), 1 = fraud
    # Known for synthetic rows only: the probability each label was drawn with.
    true_probability: np.ndarray | None = None  # float64, (n,)
    user_ids: np.ndarray | None = None  # str, (n,), like "u00042"
    event_times: np.ndarray | None = None  # datetime64 in UTC, (n,)
    feature_names: tuple[str, ...] = FEATURE_NAMES
    # What the behavioural features (training/behaviour.py) read besides user and time, where known:
    amounts: np.ndarray | None = None  # float64, (n,): Amount exactly as sent, which float32 features round
    merchant_ids: np.ndarray | None = None  # str, (n,); "" where a row has none
    transaction_ids: np.ndarray | None = None  # str, (n,)

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def fraud_rate(self) -> float:
        return float(self.labels.mean()) if len(self) else 0.0

    def with_features(self, features: np.ndarray, feature_names: tuple[str, ...]) -> Dataset:
        return replace(self, features=features, feature_names=feature_names)

    def fingerprint(self) -> str:
        """A sha256 of the transactions' own features and the labels: which data a model was trained on.
        Features computed from them (the behavioural ones) are left out: the same data keeps its fingerprint."""
        digest = hashlib.sha256()
        digest.update(np.ascontiguousarray(self.features[:, : len(FEATURE_NAMES)]).tobytes())
        digest.update(np.ascontiguousarray(self.labels).tobytes())
        return digest.hexdigest()


def row_number(index: int) -> str:
    return f"row {index + 1}"


def require_columns(found: Sequence[str], *, origin: str) -> None:
    """Raise DataError naming every required column that `found` lacks."""
    missing = [name for name in REQUIRED_COLUMNS if name not in found]
    if missing:
        raise DataError(
            f"{origin} is missing {_plural(len(missing), 'column')} {', '.join(missing)}."
            f" A dataset needs the public credit-card fraud dataset's comma-separated columns Time, V1..V28,"
            f" Amount, Class; its header has {_plural(len(found), 'column')}"
        )


def to_numbers(
    rows: Sequence[Sequence[Any]], *, columns: Sequence[str], origin: str, row_label: RowLabel
) -> np.ndarray:
    """`rows` as a float64 array; raises DataError naming where the first value that is not a number is."""
    try:
        return np.array(rows, dtype=np.float64).reshape(len(rows), len(columns))
    except (ValueError, TypeError):
        pass
    for offset, row in enumerate(rows):
        for column, value in zip(columns, row, strict=True):
            if not _is_number(value):
                raise DataError(f"{origin}: {row_label(offset)} has a value in column {column} that is not a number")
    raise DataError(f"{origin}: some values are not numbers")


def from_rows(
    values: np.ndarray,
    *,
    columns: Sequence[str],
    origin: str,
    row_label: RowLabel = row_number,
    user_ids: np.ndarray | None = None,
    event_times: np.ndarray | None = None,
) -> Dataset:
    """A checked Dataset from numeric rows whose columns are named by `columns` (any order, extras ignored)."""
    require_columns(columns, origin=origin)
    position = {name: index for index, name in enumerate(columns)}
    dataset = Dataset(
        features=values[:, [position[name] for name in FEATURE_NAMES]],
        labels=values[:, position[LABEL_COLUMN]],
        user_ids=user_ids,
        event_times=event_times,
    )
    return check(dataset, origin=origin, row_label=row_label)


def check(dataset: Dataset, *, origin: str, row_label: RowLabel = row_number) -> Dataset:
    """The dataset with float32 features and int8 labels, or DataError saying why it cannot be used."""
    if len(dataset) == 0:
        raise DataError(f"{origin} has no rows")
    features = np.asarray(dataset.features, dtype=np.float64)
    if features.ndim != 2 or features.shape[1] != len(FEATURE_NAMES):
        raise DataError(f"{origin}: expected {len(FEATURE_NAMES)} feature columns, got an array of {features.shape}")
    for column, name in enumerate(FEATURE_NAMES):
        bad = np.flatnonzero(~np.isfinite(features[:, column]))
        if len(bad):
            raise DataError(
                f"{origin}: {row_label(int(bad[0]))} has a value that is not finite in column {name};"
                f" every value must be a finite number ({_plural(len(bad), 'row')} with one in all)"
            )
    labels = np.asarray(dataset.labels, dtype=np.float64)
    not_binary = np.flatnonzero((labels != 0) & (labels != 1))
    if len(not_binary):
        raise DataError(
            f"{origin}: {row_label(int(not_binary[0]))} has a value in column {LABEL_COLUMN} other than"
            f" 0 (legitimate) or 1 (fraud)"
        )
    fraud = int(labels.sum())
    if fraud == 0:
        raise DataError(
            f"{origin} has no positive class: none of its {len(labels):,} rows has {LABEL_COLUMN} 1 (fraud),"
            " and a model cannot learn fraud without examples of it"
        )
    if fraud == len(labels):
        raise DataError(f"{origin} has only fraud rows ({LABEL_COLUMN} 1): a model needs legitimate examples too")
    amounts = features[:, FEATURE_NAMES.index("Amount")] if dataset.amounts is None else dataset.amounts
    return replace(dataset, features=features.astype(np.float32), labels=labels.astype(np.int8), amounts=amounts)


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"
