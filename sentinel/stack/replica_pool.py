"""The replicas a front routes to, the requests in flight, and the ones buffered while none is ready.

Concurrency counts every request between its arrival at the front and its answer,
waiting or served, as Knative's activator and queue-proxies report it to the KPA."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass


@dataclass(eq=False)
class Replica:
    port: int
    in_flight: int = 0
    routable: bool = True  # False once draining: no new request is sent to it


class BufferFull(Exception):
    """More requests wait for a replica than the front buffers."""


class Pool:
    def __init__(self, buffer_limit: int):
        self.buffer_limit = buffer_limit
        self.replicas: list[Replica] = []
        self.in_flight = 0
        self.buffered = 0
        self.wanted = asyncio.Event()  # set when a request waits with no replica ready
        self._changed = asyncio.Condition()
        self._area = 0.0  # in-flight × seconds since the last `average`
        self._since = self._last_change = time.monotonic()

    @property
    def ready(self) -> list[Replica]:
        return [replica for replica in self.replicas if replica.routable]

    async def acquire(self, timeout_s: float) -> Replica:
        """The least busy ready replica, waiting for one while none is; counts the request in flight.

        Raises BufferFull, or TimeoutError when no replica is ready in time."""
        self._count(+1)
        try:
            if not self.ready:
                if self.buffered >= self.buffer_limit:
                    raise BufferFull
                self.buffered += 1
                self.wanted.set()
                try:
                    async with self._changed:
                        await asyncio.wait_for(self._changed.wait_for(lambda: bool(self.ready)), timeout_s)
                finally:
                    self.buffered -= 1
            replica = min(self.ready, key=lambda candidate: candidate.in_flight)
        except BaseException:
            self._count(-1)
            raise
        replica.in_flight += 1
        return replica

    def release(self, replica: Replica) -> None:
        replica.in_flight -= 1
        self._count(-1)
        asyncio.get_running_loop().create_task(self._notify())

    async def add(self, replica: Replica) -> None:
        self.replicas.append(replica)
        await self._notify()

    async def drain(self, replica: Replica, timeout_s: float) -> bool:
        """Stop routing to `replica` and wait until it answered what it was given; False on timeout."""
        replica.routable = False
        try:
            async with self._changed:
                await asyncio.wait_for(self._changed.wait_for(lambda: replica.in_flight == 0), timeout_s)
            return True
        except TimeoutError:
            return False
        finally:
            self.remove(replica)

    def remove(self, replica: Replica) -> None:
        """A replica that died: gone at once."""
        if replica in self.replicas:
            self.replicas.remove(replica)

    def average(self) -> float:
        """The time-weighted mean concurrency since the previous call."""
        now = time.monotonic()
        self._count(0)
        elapsed = now - self._since
        mean = self._area / elapsed if elapsed > 0 else float(self.in_flight)
        self._area, self._since = 0.0, now
        return mean

    def _count(self, change: int) -> None:
        now = time.monotonic()
        self._area += self.in_flight * (now - self._last_change)
        self._last_change = now
        self.in_flight += change

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()
