"""Tables, percentiles and the JSON every benchmark writes."""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sentinel.config import PROJECT_ROOT

RESULTS_DIR = PROJECT_ROOT / "benchmarks" / "results"  # every run; git-ignored
REPORTED_DIR = PROJECT_ROOT / "benchmarks" / "reported"  # the numbers docs/benchmarks.md quotes; committed


def percentiles_ms(seconds: Sequence[float] | np.ndarray) -> dict[str, float | None]:
    """p50, p99 and max of latencies given in seconds, in milliseconds."""
    values = np.asarray(seconds, dtype=np.float64)
    if values.size == 0:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    p50, p99 = np.percentile(values, [50, 99]) * 1000
    return {"p50_ms": round(float(p50), 3), "p99_ms": round(float(p99), 3), "max_ms": round(values.max() * 1000, 3)}


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if not numerator or not denominator:
        return None
    return round(numerator / denominator, 3)


def at_most(target: float, measured: float | None) -> dict[str, Any]:
    """A target the measurement meets by staying at or under it; unmeasured is not met."""
    return {"target": target, "measured": measured, "met": measured is not None and measured <= target}


def at_least(target: float, measured: float | None) -> dict[str, Any]:
    """A target the measurement meets by reaching it; unmeasured is not met."""
    return {"target": target, "measured": measured, "met": measured is not None and measured >= target}


def cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        if abs(value) >= 0.1:
            return f"{value:.2f}"
        return f"{value:.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)

    def add(self, *values: Any) -> None:
        self.rows.append(list(values))

    def render(self) -> str:
        """A Markdown table, which reads well in a terminal and pastes into docs/benchmarks.md."""
        cells = [[cell(value) for value in row] for row in self.rows]
        widths = [max(len(text) for text in column) for column in zip(self.columns, *cells, strict=True)]
        lines = [f"### {self.title}", ""]
        lines.append(
            "| " + " | ".join(name.ljust(width) for name, width in zip(self.columns, widths, strict=True)) + " |"
        )
        lines.append("|" + "|".join("-" * (width + 2) for width in widths) + "|")
        for row in cells:
            lines.append("| " + " | ".join(text.ljust(width) for text, width in zip(row, widths, strict=True)) + " |")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {"title": self.title, "columns": self.columns, "rows": self.rows}


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in _read("/proc/cpuinfo").splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "load_average_at_start": os.getloadavg(),
    }


def save(name: str, document: dict[str, Any], tables: list[Table], *, publish: bool) -> Path:
    """Print the tables and write the run's JSON; with `publish`, also the committed copy."""
    for table in tables:
        print(table.render(), end="\n\n", flush=True)
    full = {
        "benchmark": name,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        **document,
        "tables": [table.to_json() for table in tables],
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    text = json.dumps(full, indent=2, default=str) + "\n"
    path.write_text(text)
    (RESULTS_DIR / f"{name}.json").write_text(text)
    if publish:
        REPORTED_DIR.mkdir(parents=True, exist_ok=True)
        (REPORTED_DIR / f"{name}.json").write_text(text)
    print(f"wrote {path}{' and ' + str(REPORTED_DIR / f'{name}.json') if publish else ''}")
    return path


def latest(name: str) -> dict[str, Any] | None:
    """The newest result of a benchmark: this machine's last run, else the committed one."""
    for folder in (RESULTS_DIR, REPORTED_DIR):
        path = folder / f"{name}.json"
        if path.exists():
            return json.loads(path.read_text())
    return None


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""
