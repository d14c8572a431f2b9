"""Drift: how far recent traffic has moved from the data the champion was trained on.

A model's *training profile* keeps, for each column it was trained on and for its risk
score, the column's deciles (`Reference`): the edges between ten bins of training rows,
and the share of rows in each bin. Recent traffic is binned at the same edges, and the
population stability index (PSI) measures how far its shares moved:

    PSI = Σ (actual − expected) × ln(actual / expected)   over the bins

The usual reading: below 0.1 stable, 0.1 to 0.2 moderate, above 0.2 significant. An
empty bin would make the logarithm infinite, so every share is at least EPSILON.

No I/O here: training computes the profile, sentinel.stores.drift keeps it and the
reports, training.drift reads the traffic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import numpy as np

RISK_SCORE = "risk_score"  # the profile's column for the model's own output
QUANTILES = np.arange(1, 10) / 10  # deciles: the interior edges of ten bins
# 0.01 %: a bin empty on one side counts as if it held one row in ten thousand, so a bin
# empty in training that holds 5 % of traffic adds about 0.3, not infinity.
EPSILON = 1e-4
STABLE_BELOW, SIGNIFICANT_ABOVE = 0.1, 0.2

# Columns that count time or history from a start: live traffic always lies beyond the rows a
# model was trained on (Time is seconds since the data's first row; a user's count of earlier
# transactions only grows), so they would alert on every check. They are profiled, not compared.
CLOCK_COLUMNS = frozenset({"Time", "user_previous_count"})

COMPARED, TOO_FEW_ROWS, NO_PROFILE, NO_CHAMPION = "compared", "too_few_rows", "no_profile", "no_champion"
STATUSES = (COMPARED, TOO_FEW_ROWS, NO_PROFILE, NO_CHAMPION)


@dataclass(frozen=True)
class Reference:
    """One column's training distribution: bin edges, and the share of training rows in each bin.

    Bin i holds the values above edges[i-1] up to and including edges[i]; the first and
    the last bin are open-ended, so there is one more share than edges. Edges are
    training values themselves (the inverted-CDF deciles), so a feature with few
    distinct values (a 0/1 flag, a count) keeps each value in a bin of its own.
    """

    edges: tuple[float, ...]
    shares: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.shares) != len(self.edges) + 1:
            raise ValueError(f"{len(self.edges)} edges make {len(self.edges) + 1} bins, not {len(self.shares)}")
        if list(self.edges) != sorted(set(self.edges)):
            raise ValueError("bin edges must rise strictly")

    def shares_of(self, values: np.ndarray) -> np.ndarray:
        """The share of `values` in each of this reference's bins."""
        return shares_in(values, self.edges)

    def to_json(self) -> dict[str, list[float]]:
        return {"edges": list(self.edges), "shares": list(self.shares)}

    @classmethod
    def from_json(cls, document: Mapping[str, Sequence[float]]) -> Reference:
        return cls(tuple(float(edge) for edge in document["edges"]), tuple(float(s) for s in document["shares"]))


def reference_of(values: np.ndarray) -> Reference:
    """The deciles of `values` as bin edges (repeated deciles merged), and the share of values in each bin."""
    values = _finite(values)
    if len(values) == 0:
        raise ValueError("a reference needs at least one value")
    edges = tuple(float(edge) for edge in np.unique(np.quantile(values, QUANTILES, method="inverted_cdf")))
    return Reference(edges, tuple(float(share) for share in shares_in(values, edges)))


def shares_in(values: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    """The share of `values` in each bin that `edges` bound (len(edges) + 1 bins; see Reference)."""
    values = _finite(values)
    bins = np.searchsorted(np.asarray(edges, dtype=np.float64), values, side="left")
    counts = np.bincount(bins, minlength=len(edges) + 1)
    return counts / max(len(values), 1)


def psi(expected: Sequence[float], actual: Sequence[float], *, epsilon: float = EPSILON) -> float:
    """The population stability index of `actual` shares against `expected`, each share at least `epsilon`."""
    if len(expected) != len(actual):
        raise ValueError(f"{len(expected)} expected shares against {len(actual)} actual ones")
    e = np.maximum(np.asarray(expected, dtype=np.float64), epsilon)
    a = np.maximum(np.asarray(actual, dtype=np.float64), epsilon)
    return float(np.sum((a - e) * np.log(a / e)))


def reading(value: float) -> str:
    """The usual reading of a PSI."""
    if value < STABLE_BELOW:
        return "stable"
    return "moderate" if value <= SIGNIFICANT_ABOVE else "significant"


@dataclass(frozen=True)
class Profile:
    """A model's training profile: a Reference for each column it takes, then for its risk score."""

    columns: dict[str, Reference]
    rows: int  # training rows the feature references were computed on

    def to_json(self) -> dict[str, Any]:
        """The columns as a list: a JSON object's keys lose their order in PostgreSQL's jsonb."""
        columns = [{"name": name, **ref.to_json()} for name, ref in self.columns.items()]
        return {"rows": self.rows, "columns": columns}

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Profile:
        columns = {column["name"]: Reference.from_json(column) for column in document["columns"]}
        return cls(columns=columns, rows=int(document["rows"]))


@dataclass(frozen=True)
class Report:
    """One drift check: recent traffic in a window against the champion's training profile."""

    champion_version: str | None
    window_start: datetime
    window_end: datetime
    rows: int  # transactions in the window that were compared
    threshold: float
    status: str  # one of STATUSES
    message: str
    psi: dict[str, float] = field(default_factory=dict)  # column -> PSI; RISK_SCORE among them
    checked_at: datetime | None = None  # set once stored

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown drift report status {self.status!r}")

    @property
    def max_psi(self) -> float | None:
        return max(self.psi.values()) if self.psi else None

    @property
    def drifted(self) -> list[tuple[str, float]]:
        """The columns above the threshold, the most drifted first."""
        return [(name, value) for name, value in self.ranked if value > self.threshold]

    @property
    def ranked(self) -> list[tuple[str, float]]:
        """Every compared column, the most drifted first."""
        return sorted(self.psi.items(), key=lambda item: (-item[1], item[0]))

    @property
    def alerting(self) -> bool:
        return bool(self.drifted)


def compare(
    profile: Profile,
    samples: Mapping[str, np.ndarray],
    *,
    champion_version: str,
    window: tuple[datetime, datetime],
    rows: int,
    threshold: float,
    min_rows: int,
) -> Report:
    """The PSI of every profiled column but CLOCK_COLUMNS that `samples` has at least `min_rows` values of.

    A column with fewer (the risk score when few rows were scored by this champion,
    behavioural features of rows stored before they were kept) is left out and named
    in the message; fewer than `min_rows` transactions in all and nothing is compared.
    """
    start, end = window
    base = {"champion_version": champion_version, "window_start": start, "window_end": end, "rows": rows}
    if rows < min_rows:
        message = f"only {rows:,} transactions in the window; at least {min_rows:,} are needed to compare"
        return Report(**base, threshold=threshold, status=TOO_FEW_ROWS, message=message)
    values: dict[str, float] = {}
    skipped: list[str] = []
    for name, reference in profile.columns.items():
        if name in CLOCK_COLUMNS:
            continue
        sample = _finite(samples.get(name, np.empty(0)))
        if len(sample) < min_rows:
            skipped.append(name)
            continue
        values[name] = round(psi(reference.shares, reference.shares_of(sample)), 6)
    report = Report(**base, threshold=threshold, status=COMPARED, message="", psi=values)
    return replace(report, message=_verdict(report, skipped))


def _verdict(report: Report, skipped: list[str]) -> str:
    if report.drifted:
        named = ", ".join(f"{name} ({value:.2f})" for name, value in report.drifted)
        verdict = f"drift above {report.threshold:g} in {named}"
    elif report.psi:
        name, value = report.ranked[0]
        verdict = f"no drift above {report.threshold:g}: the largest is {name} at {value:.3f} ({reading(value)})"
    else:
        verdict = "no column had enough values to compare"
    if skipped:
        verdict += f"; too few values to compare {', '.join(skipped)}"
    return verdict


def _finite(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64).ravel()
    return values[np.isfinite(values)]
