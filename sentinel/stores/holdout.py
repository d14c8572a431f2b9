"""The registry's fixed holdout: the labelled rows every promotion gate measures on.

Candidate and champion are compared on these rows, never on the candidate's own
test split (which its trainer chose). The rows are stored themselves, not a
recipe to rebuild them, so a change of generator or of a data file cannot move
them. `keep` stores them once; a second `keep` (another process racing the
first) returns the rows already kept, and migration 0006 refuses changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import psycopg
from psycopg.types.json import Jsonb


@dataclass(frozen=True)
class Holdout:
    description: str  # where the rows came from, for people
    features: np.ndarray  # float32, (rows, len(feature_names))
    labels: np.ndarray  # int8, (rows,), 1 = fraud
    feature_names: tuple[str, ...]
    sha256: str  # of features and labels (training.dataset.Dataset.fingerprint)
    created_at: datetime | None = None

    def describe(self) -> str:
        rows, fraud = len(self.labels), int(self.labels.sum())
        return f"the registry's holdout, {self.description} ({rows:,} rows, {fraud:,} fraud)"


_COLUMNS = "description, row_count, feature_names, features, labels, sha256, created_at"


def get(conn: psycopg.Connection) -> Holdout | None:
    """The holdout, or None before one was kept."""
    with conn.transaction():
        row = conn.execute(f"SELECT {_COLUMNS} FROM holdout").fetchone()
    return _holdout(row) if row else None


def keep(conn: psycopg.Connection, holdout: Holdout) -> Holdout:
    """Store `holdout` unless one is kept already; the one kept either way."""
    with conn.transaction():
        conn.execute(
            "INSERT INTO holdout (description, row_count, fraud_count, feature_names, features, labels, sha256)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
            (
                holdout.description,
                len(holdout.labels),
                int(holdout.labels.sum()),
                Jsonb(list(holdout.feature_names)),
                np.ascontiguousarray(holdout.features, dtype=np.float32).tobytes(),
                np.ascontiguousarray(holdout.labels, dtype=np.int8).tobytes(),
                holdout.sha256,
            ),
        )
        row = conn.execute(f"SELECT {_COLUMNS} FROM holdout").fetchone()
    return _holdout(row)


def _holdout(row: Sequence) -> Holdout:
    description, count, feature_names, features, labels, sha256, created_at = row
    return Holdout(
        description=description,
        features=np.frombuffer(features, dtype=np.float32).reshape(count, len(feature_names)),
        labels=np.frombuffer(labels, dtype=np.int8),
        feature_names=tuple(feature_names),
        sha256=sha256,
        created_at=created_at,
    )
