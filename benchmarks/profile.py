"""Sampling profiles of running processes with py-spy, summarised as the frames that hold the CPU.

    python -m benchmarks.profile FILE...        summarise py-spy raw files

py-spy samples only threads holding the GIL (`--gil`), so a frame's share is its
share of the process's Python CPU time, not of time spent waiting. The end-to-end
benchmark records one profile per pipeline process during its busiest run when
asked (`--profile`), which is where the profiles in docs/benchmarks.md come from.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections import Counter
from pathlib import Path

PY_SPY = str(Path(sys.executable).parent / "py-spy")
RATE_HZ = 100
# Frames every request passes through and that say nothing about where its CPU goes.
PLUMBING = (
    "threading.py",
    "concurrent/futures/",
    "click/core.py",
    "gunicorn/arbiter.py",
    "gunicorn/app/base.py",
    "functions_framework/_cli.py",
    "functions-framework",
    "runpy",
)


def start(pid: int, seconds: float, output: Path) -> subprocess.Popen[bytes]:
    """Begin sampling `pid` and its children for `seconds`; py-spy writes raw folded stacks to `output`."""
    command = [
        PY_SPY,
        "record",
        "--pid",
        str(pid),
        "--subprocesses",
        "--gil",
        "--nonblocking",
        "--rate",
        str(RATE_HZ),
        "--duration",
        str(int(seconds)),
        "--format",
        "raw",
        "--output",
        str(output),
    ]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def summarise(path: Path, top: int = 25) -> list[tuple[str, float]]:
    """The `top` frames by inclusive share of samples, as (\"function (file)\", share)."""
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        samples = int(count)
        total += samples
        for frame in {_frame_name(frame) for frame in stack.split(";")}:
            if not any(part in frame for part in PLUMBING):
                inclusive[frame] += samples
    return [(frame, samples / total) for frame, samples in inclusive.most_common(top)] if total else []


def render(name: str, frames: list[tuple[str, float]]) -> str:
    lines = [f"{name}:"] + [f"  {share:6.1%}  {frame}" for frame, share in frames]
    return "\n".join(lines)


def _frame_name(frame: str) -> str:
    """'handle (sentinel/serving/http_handler.py:97)' -> 'handle (sentinel/serving/http_handler.py)': lines merged."""
    function, _, where = frame.partition(" (")
    return f"{function} ({where.split(':')[0].rstrip(')')})" if where else function


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile", description="Summarise py-spy raw profiles.")
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    for path in args.files:
        print(render(path.stem, summarise(path, args.top)), end="\n\n")


if __name__ == "__main__":
    main()
