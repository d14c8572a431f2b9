"""Training configuration from the environment, with every default in this one place.

The stack-wide settings (DATABASE_URL, SENTINEL_STATE_DIR, ...) come from
sentinel.config; these are the ones only training reads.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sentinel.config import Settings, default_data_dir
from sentinel.core.promotion import bounded_margin


@dataclass(frozen=True)
class TrainingSettings:
    database_url: str
    state_dir: Path
    gdrive_id: str | None  # SENTINEL_DATASET_GDRIVE_ID: the dataset's Google Drive file id
    dataset_sha256: str | None  # SENTINEL_DATASET_SHA256: what that file must hash to
    synthetic_rows: int = 150_000  # SENTINEL_TRAINING_ROWS
    seed: int = 7
    # Precision the review and block thresholds must reach on the validation split.
    review_precision: float = 0.5  # SENTINEL_REVIEW_PRECISION
    block_precision: float = 0.9  # SENTINEL_BLOCK_PRECISION
    # A candidate whose AUPRC is below the champion's by more than this is not promoted.
    gate_margin: float = 0.01  # SENTINEL_GATE_MARGIN
    # When the served `retrain` deployment runs on its own (cron, local time of the Prefect server).
    retrain_cron: str = "0 3 * * *"  # SENTINEL_RETRAIN_CRON
    # The only directory `csv:` sources are read from (SENTINEL_DATA_DIR); default <state dir>/data.
    data_dir: Path | None = None
    # The drift check (training.drift): a PSI above the threshold alerts; traffic is the last
    # window of hours, at most max_rows of its newest transactions, and at least min_rows of them.
    drift_threshold: float = 0.2  # SENTINEL_DRIFT_THRESHOLD
    drift_window_hours: float = 24.0  # SENTINEL_DRIFT_WINDOW_HOURS
    drift_min_rows: int = 500  # SENTINEL_DRIFT_MIN_ROWS
    drift_max_rows: int = 50_000  # SENTINEL_DRIFT_MAX_ROWS

    @property
    def dataset_cache_dir(self) -> Path:
        return self.state_dir / "datasets"

    @property
    def csv_dir(self) -> Path:
        return self.data_dir or default_data_dir(self.state_dir)

    @classmethod
    def from_env(cls) -> TrainingSettings:
        env = os.environ
        stack = Settings.from_env()
        return cls(
            database_url=stack.database_url,
            state_dir=stack.state_dir,
            gdrive_id=env.get("SENTINEL_DATASET_GDRIVE_ID") or None,
            dataset_sha256=env.get("SENTINEL_DATASET_SHA256") or None,
            synthetic_rows=int(env.get("SENTINEL_TRAINING_ROWS", 150_000)),
            review_precision=float(env.get("SENTINEL_REVIEW_PRECISION", 0.5)),
            block_precision=float(env.get("SENTINEL_BLOCK_PRECISION", 0.9)),
            gate_margin=bounded_margin(float(env.get("SENTINEL_GATE_MARGIN", 0.01))),
            retrain_cron=env.get("SENTINEL_RETRAIN_CRON") or "0 3 * * *",
            data_dir=stack.training_data_dir,
            drift_threshold=float(env.get("SENTINEL_DRIFT_THRESHOLD", 0.2)),
            drift_window_hours=float(env.get("SENTINEL_DRIFT_WINDOW_HOURS", 24)),
            drift_min_rows=int(env.get("SENTINEL_DRIFT_MIN_ROWS", 500)),
            drift_max_rows=int(env.get("SENTINEL_DRIFT_MAX_ROWS", 50_000)),
        )
