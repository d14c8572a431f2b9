"""Make sure the registry has a champion, training a first model on synthetic data if not.

`sentinel up` calls this so the score function always has a model to load, even on
a machine that has never seen real data. Two processes may start at once; they
serialise on a PostgreSQL advisory lock, and the second finds the first one's
champion instead of training another.
"""

from __future__ import annotations

from collections.abc import Callable

import psycopg

from sentinel import registry

PROMOTED_BY = "sentinel up"
PROMOTION_REASON = "first model: registry was empty"
_BOOTSTRAP_LOCK_ID = 7_318_203


def ensure_champion(
    database_url: str, *, rows: int, seed: int = 7, progress: Callable[[str], None] | None = None
) -> str:
    """The champion's version; trains, checks and promotes a first model when there is none."""
    report = progress or (lambda message: None)
    with psycopg.connect(database_url, autocommit=True, connect_timeout=5) as conn:
        version = registry.champion_version(conn)
        if version is not None:
            return version
        conn.execute("SELECT pg_advisory_lock(%s)", (_BOOTSTRAP_LOCK_ID,))
        try:
            version = registry.champion_version(conn)
            if version is not None:
                report(f"champion {version} was trained meanwhile by another process")
                return version
            return _train_first_champion(conn, rows=rows, seed=seed, report=report)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_BOOTSTRAP_LOCK_ID,))


def _train_first_champion(conn: psycopg.Connection, *, rows: int, seed: int, report: Callable[[str], None]) -> str:
    # Imported here: XGBoost and scikit-learn take a second to import, and are
    # needed only on the first start.
    from training.export import check_parity, to_onnx
    from training.synthetic import generate
    from training.train import train

    report(f"the model registry is empty: generating {rows:,} synthetic transactions (seed {seed})")
    dataset = generate(rows, seed=seed)
    report(f"training XGBoost on {rows:,} rows ({int(dataset.labels.sum()):,} fraud)")
    trained = train(dataset, seed=seed)
    metrics = trained.metrics
    report(
        f"trained {metrics['trees']} trees in {metrics['training_seconds']:.1f}s:"
        f" test AUPRC {metrics['auprc']:.3f} (best achievable {metrics['best_achievable_auprc']:.3f}),"
        f" ROC-AUC {metrics['roc_auc']:.3f}"
    )
    report("exporting to ONNX")
    exported = to_onnx(trained.booster)
    max_delta = check_parity(trained.booster, exported, trained.test_features)
    report(f"parity check passed: max |Δp| {max_delta:.1e} over {len(trained.test_features):,} test rows")
    record = registry.register(
        conn,
        exported.onnx,
        thresholds=trained.thresholds,
        metrics={**metrics, "parity_max_delta": max_delta},
        data_fingerprint=f"synthetic:rows={rows}:seed={seed}:sha256={dataset.fingerprint()}",
        feature_names=exported.feature_names,
    )
    champion = registry.promote(conn, record.version, by=PROMOTED_BY, reason=PROMOTION_REASON)
    report(
        f"registered {champion.version} as champion"
        f" (review at {champion.thresholds['review']:.3f}, block at {champion.thresholds['block']:.3f})"
    )
    return champion.version
