"""Bounds on what a retrain or evaluate run may be asked for.

A flow run's parameters come from whoever can reach Prefect's API, so each one is
checked here before any data is read: the gate margin (sentinel.core.promotion),
how many synthetic rows to draw, the seed and the length of a free-text reason.
Data sources are checked by training.loader; the promoter is not a parameter at
all (training.caller).
"""

from __future__ import annotations

MIN_ROWS = 1_000
MAX_ROWS = 1_000_000  # the worker's 2 GiB holds this many with room for training
MAX_SEED = 2**32 - 1
MAX_REASON_CHARS = 500


class ParameterError(ValueError):
    """A run parameter outside its allowed range; the message names the range."""


def checked_rows(rows: int) -> int:
    if not MIN_ROWS <= rows <= MAX_ROWS:
        raise ParameterError(f"rows must lie between {MIN_ROWS:,} and {MAX_ROWS:,}, not {rows:,}")
    return rows


def checked_seed(seed: int) -> int:
    if not 0 <= seed <= MAX_SEED:
        raise ParameterError(f"seed must lie between 0 and {MAX_SEED}, not {seed}")
    return seed


def checked_reason(reason: str) -> str:
    if len(reason) > MAX_REASON_CHARS:
        raise ParameterError(f"a reason may be at most {MAX_REASON_CHARS} characters long, not {len(reason):,}")
    return reason
