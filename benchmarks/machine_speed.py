"""How fast the machine ran while something was measured: a fixed piece of pure-Python work,
timed every 50 ms by a process of its own.

This machine is shared. For seconds or minutes at a time the same work takes 1.2 to 3.2
times as long, and no steal time is reported. A process serving at half its maximum rate is then
at all of it, and the tail it shows is the machine's: the no-op beside it, at a tenth of
its capacity, does not notice. A benchmark that records this work's median time beside each
run can tell the two apart (`Probe`).

    python -m benchmarks.machine_speed     times the work until stdin closes, then prints the median µs
"""

from __future__ import annotations

import select
import statistics
import subprocess
import sys
import time
from types import TracebackType

from benchmarks.processes import PYTHON

WORK_ITERATIONS = 20_000  # about half a millisecond of one core at the machine's best
INTERVAL_S = 0.05  # so the probe itself takes 1-2 % of a core


def _work() -> int:
    total = 0
    for number in range(WORK_ITERATIONS):
        total += number * number
    return total


def time_until_stdin_closes() -> float:
    """The median time of the work in µs, timed every INTERVAL_S until stdin reaches its end."""
    times: list[float] = []
    while True:
        began = time.perf_counter()
        _work()
        times.append((time.perf_counter() - began) * 1e6)
        readable, _, _ = select.select([sys.stdin], [], [], INTERVAL_S)
        if readable and not sys.stdin.buffer.read1(4096):
            return statistics.median(times)


class Probe:
    """Times the work in a process of its own for as long as the `with` block runs; `work_us` after it."""

    def __init__(self) -> None:
        self.work_us: float | None = None
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Probe:
        command = [PYTHON, "-m", "benchmarks.machine_speed"]
        self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        assert self._process is not None
        output, _ = self._process.communicate(timeout=10)
        self.work_us = float(output) if self._process.returncode == 0 and output.strip() else None


def slowdowns(work_us: list[float | None]) -> list[float | None]:
    """Each time over the fastest of them: 1.0 is the machine at its best in this benchmark."""
    fastest = min((value for value in work_us if value), default=None)
    return [round(value / fastest, 2) if value and fastest else None for value in work_us]


if __name__ == "__main__":
    print(f"{time_until_stdin_closes():.1f}")
