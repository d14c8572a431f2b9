"""The decision vocabulary, the thresholds, and the one rule that turns a fraud probability into a decision.

Every model carries the review and block thresholds chosen when it was trained.
An operator can override either (SENTINEL_REVIEW_THRESHOLD / SENTINEL_BLOCK_THRESHOLD,
DESIGN.md §6), e.g. to tighten blocking during an attack.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, get_args

Decision = Literal["approve", "review", "block"]
DECISIONS: tuple[Decision, ...] = get_args(Decision)
# The decisions an analyst must look at: each becomes an alert.
ALERTING_DECISIONS: tuple[Decision, ...] = ("review", "block")


@dataclass(frozen=True)
class Thresholds:
    """Risk at or above `review` goes to an analyst; at or above `block` is refused."""

    review: float
    block: float

    def __post_init__(self) -> None:
        if not all(math.isfinite(value) for value in (self.review, self.block)):
            raise ValueError(f"thresholds must be finite numbers, got review={self.review}, block={self.block}")
        if not 0.0 <= self.review <= self.block <= 1.0:
            raise ValueError(
                f"thresholds must satisfy 0 <= review <= block <= 1, got review={self.review}, block={self.block}"
            )

    def to_json(self) -> dict[str, float]:
        return {"review": self.review, "block": self.block}


@dataclass(frozen=True)
class ThresholdOverrides:
    """An operator's replacements for a model's thresholds; None keeps the model's own."""

    review: float | None = None
    block: float | None = None

    def to_json(self) -> dict[str, float]:
        """The thresholds overridden, by name."""
        return {name: value for name, value in (("review", self.review), ("block", self.block)) if value is not None}


def thresholds_for(model_thresholds: Mapping[str, float], overrides: ThresholdOverrides) -> Thresholds:
    """The model's thresholds, each replaced by its override when one is set."""
    try:
        return Thresholds(
            review=float(model_thresholds["review"]) if overrides.review is None else overrides.review,
            block=float(model_thresholds["block"]) if overrides.block is None else overrides.block,
        )
    except ValueError as error:
        overridden = [
            name
            for name, value in (
                ("SENTINEL_REVIEW_THRESHOLD", overrides.review),
                ("SENTINEL_BLOCK_THRESHOLD", overrides.block),
            )
            if value is not None
        ]
        if not overridden:
            raise
        raise ValueError(f"{error}, after the override from {' and '.join(overridden)}") from error


def decide(risk: float, thresholds: Thresholds) -> Decision:
    if risk >= thresholds.block:
        return "block"
    if risk >= thresholds.review:
        return "review"
    return "approve"
