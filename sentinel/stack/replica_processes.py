"""Replica processes of one function: each started as its container is, on a port of its own."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import signal
import socket
import time
from collections.abc import Mapping, Sequence

from sentinel.stack.http_forward import forward
from sentinel.stack.replica_pool import Replica

PROBE_EVERY_S = 0.05  # as Knative probes a new pod's readiness: aggressively, for fast cold starts
STOP_TIMEOUT_S = 15.0
PR_SET_PDEATHSIG = 1


class ReplicaFailed(RuntimeError):
    pass


def _die_with_the_front() -> None:
    """In the replica before it runs: SIGTERM when the front dies, even by SIGKILL, so none is orphaned."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ReplicaProcesses:
    def __init__(self, command: Sequence[str], env: Mapping[str, str], readiness_path: str, start_timeout_s: float):
        self.command = list(command)
        self.env = dict(env)
        self.readiness_path = readiness_path
        self.start_timeout_s = start_timeout_s
        self._processes: dict[Replica, asyncio.subprocess.Process] = {}

    async def start(self) -> Replica:
        """A new replica, once it answers its readiness probe."""
        port = free_port()
        process = await asyncio.create_subprocess_exec(
            *self.command,
            env={**self.env, "PORT": str(port)},
            stdin=asyncio.subprocess.DEVNULL,
            preexec_fn=_die_with_the_front,
        )
        try:
            return await self._until_ready(process, port)
        except BaseException:  # not ready in time, or the start abandoned: no process is left behind
            await self._terminate(process)
            raise

    async def _until_ready(self, process: asyncio.subprocess.Process, port: int) -> Replica:
        replica = Replica(port)
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if process.returncode is not None:
                raise ReplicaFailed(f"the replica on port {port} exited with {process.returncode} before it was ready")
            with contextlib.suppress(OSError, TimeoutError):
                answer = await forward(port, "GET", self.readiness_path.encode(), [], b"", timeout_s=1.0)
                if answer.status == 200:
                    self._processes[replica] = process
                    return replica
            await asyncio.sleep(PROBE_EVERY_S)
        raise ReplicaFailed(f"the replica on port {port} was not ready after {self.start_timeout_s:.0f} s")

    def exited(self, replica: Replica) -> bool:
        process = self._processes.get(replica)
        return process is None or process.returncode is not None

    async def stop(self, replica: Replica) -> None:
        """SIGTERM, as Kubernetes stops a pod, once the pool has drained it."""
        process = self._processes.pop(replica, None)
        if process is not None:
            await self._terminate(process)

    @staticmethod
    async def _terminate(process: asyncio.subprocess.Process) -> None:
        if process.returncode is None:
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
        except TimeoutError:
            process.kill()
            await process.wait()
