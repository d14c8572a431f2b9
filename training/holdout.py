"""The fixed holdout the promotion gate measures on, made the first time a gate needs one.

It is synthetic data drawn with a seed chosen at random and then forgotten: no
training run can be given that seed, so no candidate can have trained on these
rows, and nobody can choose them. The registry keeps the rows themselves
(sentinel.stores.holdout), so every later gate measures on exactly the same ones.
"""

from __future__ import annotations

import secrets

import psycopg

from sentinel.core.model import FEATURE_SETS
from sentinel.stores import holdout as store
from training import synthetic
from training.behaviour import with_behaviour
from training.dataset import DataError, check

ROWS = 50_000  # about 85 fraud rows: enough for a stable AUPRC, drawn in a tenth of a second
_ORIGIN = "the registry's holdout"


def ensure(conn: psycopg.Connection) -> store.Holdout:
    """The registry's holdout, drawn and kept first if it has none."""
    kept = store.get(conn)
    if kept is None:
        kept = store.keep(conn, draw())
    if kept.feature_names not in FEATURE_SETS:
        raise DataError(
            f"{_ORIGIN} has other features than the models score ({len(kept.feature_names)} columns);"
            " it no longer fits this version of Sentinel"
        )
    return kept


def draw(rows: int = ROWS, *, seed: int | None = None) -> store.Holdout:
    """Fresh holdout rows, with their behavioural features so models of either feature set can be measured on them.
    Without a `seed`, from one nobody knows; a test that needs the gate's verdict to repeat gives one."""
    chosen = secrets.randbits(32) if seed is None else seed
    dataset = with_behaviour(check(synthetic.generate(rows, seed=chosen), origin=_ORIGIN))
    return store.Holdout(
        description="synthetic rows drawn once with an unrecorded seed" if seed is None else f"synthetic:seed={seed}",
        features=dataset.features,
        labels=dataset.labels,
        feature_names=dataset.feature_names,
        sha256=dataset.fingerprint(),
    )
