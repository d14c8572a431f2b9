"""Processes a benchmark starts itself (a function, the no-op handler, the null sink), and
the CPU time a process tree has used."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks import noop, passthrough
from eventing import topology
from sentinel.config import PROJECT_ROOT
from sentinel.stack import health

BIN_DIR = Path(sys.executable).parent
PYTHON = str(BIN_DIR / "python")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Started:
    name: str
    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


class Group:
    """Processes started for one benchmark, each on a free port, all stopped when the block ends."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.started: list[Started] = []

    def __enter__(self) -> Group:
        return self

    def __exit__(self, *_: object) -> None:
        for process in reversed(self.started):
            process.stop()

    def start(self, name: str, command: list[str], env: dict[str, str]) -> Started:
        """Start `command` on a free port, given to it as PORT and wherever the command says "{port}"."""
        port = free_port()
        process = start(name, [part.replace("{port}", str(port)) for part in command], env, port, self.log_dir)
        self.started.append(process)
        wait_port(process.port, process.process)
        return process


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


FUNCTIONS_FRAMEWORK = str(BIN_DIR / "functions-framework")
# The no-op handler on each server the function benchmark compares: the functions' own
# (--asgi: uvicorn with httptools and uvloop), uvicorn's pure-Python parts, and the
# gunicorn threads the functions ran on before.
NOOP_COMMANDS = {
    "noop": [FUNCTIONS_FRAMEWORK, "--target", "handle", "--source", str(noop.SOURCE), "--asgi"],
    "noop-pure-python": [PYTHON, "-m", "benchmarks.noop.pure_python"],
    "noop-threads": [FUNCTIONS_FRAMEWORK, "--target", "handle", "--source", str(noop.THREADED_SOURCE)],
    # A function that takes a decision and does nothing with it, on the handler every function uses.
    "noop-sentinel": [FUNCTIONS_FRAMEWORK, "--target", "persist", "--source", passthrough.SOURCE, "--asgi"],
}


def function_command(name: str) -> list[str]:
    """How the stack and the images start function `name`, or the no-op `name` of NOOP_COMMANDS."""
    if name in NOOP_COMMANDS:
        return NOOP_COMMANDS[name]
    executable, *arguments = topology.load().functions[name].command
    return [str(BIN_DIR / executable), *arguments]


def start(name: str, command: list[str], env: dict[str, str], port: int, log_dir: Path) -> Started:
    """Start `command` in its own process group with PORT=`port`; its output goes to log_dir/name.log."""
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / f"{name}.log").open("ab") as log:
        process = subprocess.Popen(
            command,
            env={**env, "PORT": str(port), "HOST": "127.0.0.1"},
            cwd=PROJECT_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Started(name, process, port)


def wait_port(port: int, process: subprocess.Popen[bytes] | None = None, timeout: float = 60.0) -> None:
    """Wait until something listens on `port`; fail at once if `process` exits meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"{process.args[0]} exited with {process.returncode}; see its log") from None
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on port {port} after {timeout:g} s") from None
            time.sleep(0.02)


def wait_ready(url: str, timeout: float = 60.0) -> None:
    """Wait until `url` answers 200, as the stack's own health check sees it."""
    deadline = time.monotonic() + timeout
    while (problem := health.http(url)) is not None:
        if time.monotonic() > deadline:
            raise RuntimeError(f"not ready within {timeout:g} s: {problem}")
        time.sleep(0.05)


def cpu_seconds_by_name(pids: dict[str, int | None]) -> dict[str, float]:
    """`tree_cpu_seconds` of each named process; 0 for one that is not running."""
    return {name: tree_cpu_seconds(pid) if pid else 0.0 for name, pid in pids.items()}


def cpu_seconds_since(before: dict[str, float], pids: dict[str, int | None]) -> dict[str, float]:
    """CPU seconds each named process spent since `before` (from `cpu_seconds_by_name`) was taken."""
    return {name: now - before[name] for name, now in cpu_seconds_by_name(pids).items()}


def tree_cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process and all its descendants (live ones)."""
    children: dict[int, list[int]] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        child = int(entry.name)
        children.setdefault(int(fields[1]), []).append(child)
        times[child] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    total, stack = 0.0, [pid]
    while stack:
        current = stack.pop()
        total += times.get(current, 0.0)
        stack.extend(children.get(current, []))
    return total
