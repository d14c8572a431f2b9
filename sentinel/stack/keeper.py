"""Keeps one stack component running, as a kubelet keeps a pod's container running.

    python -m sentinel.stack.keeper --state FILE [--user NAME] [--stop-signal INT] -- COMMAND...

Starts COMMAND, restarts it with exponential backoff whenever it exits, and
records the child's pid and restart count in FILE for `sentinel status`. On
SIGTERM it stops the child with --stop-signal, waits for it, and exits.
Standard library only, so it starts fast.
"""

from __future__ import annotations

import argparse
import json
import pwd
import signal
import subprocess
import sys
import time
from pathlib import Path

MIN_BACKOFF = 0.5
MAX_BACKOFF = 30.0
STABLE_AFTER = 60.0  # a child that ran this long restarts with the minimum backoff again
STOP_GRACE = 20.0


def identity(user: str | None) -> dict:
    """subprocess arguments that run a child as `user` with that user's own group
    only: keeping root's groups would let root-group permission bits deny it access."""
    if user is None:
        return {}
    return {"user": user, "group": pwd.getpwnam(user).pw_gid, "extra_groups": []}


class Keeper:
    def __init__(self, command: list[str], state_file: Path, user: str | None, stop_signal: int):
        self.command = command
        self.state_file = state_file
        self.user = user
        self.stop_signal = stop_signal
        self.restarts = 0
        self.stopping = False
        self.kill_at = 0.0
        self.child: subprocess.Popen[bytes] | None = None

    def run(self) -> int:
        backoff = MIN_BACKOFF
        while not self.stopping:
            started = time.monotonic()
            self.child = subprocess.Popen(self.command, stdin=subprocess.DEVNULL, **identity(self.user))
            self._write_state(last_exit=None)
            code = self._wait_for_child()
            if self.stopping:
                break
            ran_for = time.monotonic() - started
            backoff = MIN_BACKOFF if ran_for >= STABLE_AFTER else min(backoff * 2, MAX_BACKOFF)
            print(
                f"keeper: {self.command[0]} exited with {code} after {ran_for:.1f}s; restarting in {backoff:.1f}s",
                flush=True,
            )
            self.restarts += 1
            self._write_state(last_exit=code, child_pid=None)
            self._sleep(backoff)
        return 0

    def stop(self, *_: object) -> None:
        """Signal handler: only flags and signals; the run loop does the waiting."""
        self.stopping = True
        self.kill_at = time.monotonic() + STOP_GRACE
        if self.child is not None and self.child.returncode is None:
            self.child.send_signal(self.stop_signal)

    def _wait_for_child(self) -> int:
        assert self.child is not None
        while True:
            try:
                return self.child.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                if self.stopping and time.monotonic() > self.kill_at:
                    self.child.kill()

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(0.1)

    def _write_state(self, last_exit: int | None, child_pid: int | None = -1) -> None:
        pid = self.child.pid if child_pid == -1 and self.child else child_pid
        state = {"child_pid": pid, "restarts": self.restarts, "last_exit": last_exit, "since": time.time()}
        temporary = self.state_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(state))
        temporary.replace(self.state_file)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sentinel.stack.keeper")
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--user")
    parser.add_argument("--stop-signal", default="TERM")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command to keep")
    keeper = Keeper(command, args.state, args.user, getattr(signal, f"SIG{args.stop_signal}"))
    signal.signal(signal.SIGTERM, keeper.stop)
    signal.signal(signal.SIGINT, keeper.stop)
    return keeper.run()


if __name__ == "__main__":
    sys.exit(main())
