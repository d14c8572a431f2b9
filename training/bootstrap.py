"""Make sure the registry has a champion, training a first model on synthetic data if not.

`sentinel up` calls this so the score function always has a model to load, even on
a machine that has never seen real data. It runs the same retrain steps as the
Prefect flow (training.pipeline), directly, so `up` never pays for importing
Prefect. Two processes may start at once; they serialise on a PostgreSQL advisory
lock, and the second finds the first one's champion instead of training another.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from sentinel.stores import database, registry

PROMOTED_BY = "sentinel up"
PROMOTION_REASON = "first model: registry was empty"
_BOOTSTRAP_LOCK_ID = 7_318_203


def ensure_champion(
    database_url: str, *, rows: int, seed: int = 7, progress: Callable[[str], None] | None = None
) -> str:
    """The champion's version; trains, checks and promotes a first model when there is none."""
    report = progress or (lambda message: None)
    with database.connect(database_url) as conn:
        version = registry.champion_version(conn)
        if version is not None:
            return version
        conn.execute("SELECT pg_advisory_lock(%s)", (_BOOTSTRAP_LOCK_ID,))
        try:
            version = registry.champion_version(conn)
            if version is not None:
                report(f"champion {version} was trained meanwhile by another process")
                return version
            return _train_first_champion(database_url, rows=rows, seed=seed, report=report)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_BOOTSTRAP_LOCK_ID,))


def _train_first_champion(database_url: str, *, rows: int, seed: int, report: Callable[[str], None]) -> str:
    # Imported here: XGBoost and scikit-learn take a second to import, and are
    # needed only on the first start. Prefect is not imported at all.
    from training import pipeline
    from training.loader import Source
    from training.progress import forwarded_to
    from training.settings import TrainingSettings
    from training.train import DEFAULT_TARGETS

    settings = TrainingSettings.from_env()
    request = pipeline.RetrainRequest(
        source=Source("synthetic"),
        rows=rows,
        seed=seed,
        targets=DEFAULT_TARGETS,
        gate_margin=settings.gate_margin,
        by=PROMOTED_BY,
        reason=PROMOTION_REASON,
    )
    report(f"the model registry is empty: training a first model on {rows:,} synthetic transactions (seed {seed})")
    with forwarded_to(report):
        outcome = pipeline.retrain(request, replace(settings, database_url=database_url))
    return outcome.version
