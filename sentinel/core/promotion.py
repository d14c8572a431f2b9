"""Changing the champion: the gate's verdict on a candidate, and the record of each change.

The gate: a candidate replaces the champion only when its AUPRC, measured on the
same rows as the champion's, is not below the champion's by more than a margin.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

# The widest margin a gate may allow either way. A positive margin lets a candidate fall that
# much short of the champion's AUPRC; a negative one demands that much improvement. Beyond
# 0.1 the gate would pass (or refuse) any sane model, which is not a gate but an override,
# and overrides are `force` with a reason, recorded as forced.
MAX_GATE_MARGIN = 0.1


class GateMarginError(ValueError):
    """A gate margin outside -MAX_GATE_MARGIN..MAX_GATE_MARGIN."""


def bounded_margin(margin: float) -> float:
    """`margin` itself, or GateMarginError when it lies outside the allowed range."""
    if not -MAX_GATE_MARGIN <= margin <= MAX_GATE_MARGIN:
        raise GateMarginError(
            f"a gate margin of {margin:g} is out of range: it must lie between {-MAX_GATE_MARGIN:g} and"
            f" {MAX_GATE_MARGIN:g}; to override the gate, promote with --force and a reason"
        )
    return margin


@dataclass(frozen=True)
class GateResult:
    """A candidate's AUPRC next to the champion's, both measured on the same labelled rows."""

    candidate_version: str
    candidate_auprc: float
    champion_version: str | None  # None: there was no champion to compare with
    champion_auprc: float | None
    margin: float
    evaluated_on: str  # which rows, for people

    def __post_init__(self) -> None:
        bounded_margin(self.margin)

    @property
    def passed(self) -> bool:
        return self.champion_auprc is None or self.candidate_auprc >= self.champion_auprc - self.margin

    def explain(self) -> str:
        if self.champion_version is None:
            return f"{self.candidate_version} has AUPRC {self.candidate_auprc:.4f}; there is no champion to beat"
        verdict = "passes" if self.passed else "fails"
        return (
            f"{self.candidate_version} has AUPRC {self.candidate_auprc:.4f}, champion {self.champion_version}"
            f" {self.champion_auprc:.4f} on {self.evaluated_on}: {verdict} the gate"
            f" (at most {self.margin:g} below the champion)"
        )

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}

    def refusal(self, version: str, champion_version: str | None) -> str | None:
        """Why this verdict does not let `version` replace `champion_version`, or None when it does.

        A verdict measured against another champion than the current one is stale:
        the champion changed while the candidate was being evaluated.
        """
        if self.champion_version != champion_version:
            return (
                f"the gate compared {version} with {self.champion_version or 'no champion'}, but the champion is now"
                f" {champion_version}: evaluate it again"
            )
        return None if self.passed else self.explain()


@dataclass(frozen=True)
class Promotion:
    """One change of champion."""

    version: str
    previous_version: str | None
    action: str  # promote | rollback
    forced: bool
    promoted_by: str
    reason: str
    gate: dict[str, Any] | None
    promoted_at: datetime
