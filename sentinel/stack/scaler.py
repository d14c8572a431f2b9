"""One function's autoscaler: feeds the KPA the pool's concurrency once a second, asks it for
a scale every tick, and starts or drains replicas to match.

A request that arrives with no replica ready wakes it at once, as Knative's activator
pokes the autoscaler, so a cold start does not wait for the next tick."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from sentinel.stack.kpa import Kpa
from sentinel.stack.replica_pool import Pool, Replica

log = logging.getLogger(__name__)

DRAIN_TIMEOUT_S = 60.0
FAILED_STARTS_DOWN = 3  # starts failed in a row before the front reports itself unhealthy


class Replicas(Protocol):
    async def start(self) -> Replica: ...

    def exited(self, replica: Replica) -> bool: ...

    async def stop(self, replica: Replica) -> None: ...


@dataclass(frozen=True)
class ScalingEvent:
    at: float  # seconds since the epoch
    previous: int
    desired: int
    reason: str


class Scaler:
    def __init__(self, name: str, pool: Pool, replicas: Replicas, kpa: Kpa):
        self.name = name
        self.pool = pool
        self.replicas = replicas
        self.kpa = kpa
        self.starting = 0
        self.failed_starts = 0
        self.last_error: str | None = None
        self.events: deque[ScalingEvent] = deque(maxlen=100)
        self.cold_starts: deque[tuple[float, float]] = deque(maxlen=20)  # (at, seconds to the first answer)
        self._decision = kpa.decide(0.0, 0)
        self._starts: set[asyncio.Task[None]] = set()
        self._drains: set[asyncio.Task[None]] = set()
        self._seconds = 0

    async def run(self) -> None:
        """Scale forever: observe every second, decide every tick, and at once when a request waits at zero."""
        await self._scale(self._decision.desired, self._decision.reason)
        next_second = time.monotonic() + 1
        while True:
            try:
                await asyncio.wait_for(self.pool.wanted.wait(), max(0.0, next_second - time.monotonic()))
            except TimeoutError:
                pass
            if self.pool.wanted.is_set():
                self.pool.wanted.clear()
                if not self.pool.ready and self.starting == 0:
                    self.kpa.desired = max(self.kpa.desired, 1)
                    await self._scale(max(self.kpa.desired, 1), "a request arrived with no replica ready")
            if time.monotonic() >= next_second:
                next_second += 1
                await self.tick()

    async def tick(self) -> None:
        """One second: the concurrency observed, and on every `tick_s` a decision applied."""
        self._reap()
        self.kpa.observe(self.pool.average())
        self._seconds += 1
        if self._seconds % self.kpa.settings.tick_s == 0:
            self._decision = self.kpa.decide(self._seconds, len(self.pool.ready))
            await self._scale(self._decision.desired, self._decision.reason)

    async def stop_all(self) -> None:
        """Drain and stop every replica (the front is shutting down): starts are abandoned, drains finished."""
        for task in list(self._starts):
            task.cancel()
        await asyncio.gather(*self._starts, *self._drains, return_exceptions=True)
        await asyncio.gather(*(self._drain_and_stop(replica) for replica in list(self.pool.replicas)))

    def record_cold_start(self, seconds: float) -> None:
        self.cold_starts.append((time.time(), seconds))

    def healthy(self) -> str | None:
        """None while the function can make progress; why not otherwise."""
        if self.failed_starts >= FAILED_STARTS_DOWN:
            return f"{self.failed_starts} replica starts failed in a row: {self.last_error}"
        return None

    def status(self) -> dict[str, Any]:
        decision = self._decision
        settings = self.kpa.settings
        return {
            "function": self.name,
            "ready": len(self.pool.ready),
            "starting": self.starting,
            "draining": len(self.pool.replicas) - len(self.pool.ready),
            "desired": self.kpa.desired,
            "in_flight": self.pool.in_flight,
            "buffered": self.pool.buffered,
            "stable_concurrency": round(decision.stable_concurrency, 2),
            "panic_concurrency": round(decision.panic_concurrency, 2),
            "panic": decision.panic,
            "reason": decision.reason,
            "healthy": self.healthy() is None,
            "error": self.healthy(),
            "settings": asdict(settings),
            "events": [asdict(event) for event in self.events],
            "cold_starts": [{"at": at, "seconds": round(seconds, 3)} for at, seconds in self.cold_starts],
        }

    async def _scale(self, desired: int, reason: str) -> None:
        current = len(self.pool.ready) + self.starting
        if desired != current:
            self.events.append(ScalingEvent(time.time(), current, desired, reason))
            log.info("%s: %d → %d (%s)", self.name, current, desired, reason)
        for _ in range(desired - current):
            self.starting += 1  # counted at once, so a decision made before the start runs does not repeat it
            self._spawn(self._start_one(), self._starts)
        if desired < len(self.pool.ready):
            idlest = sorted(self.pool.ready, key=lambda replica: replica.in_flight)
            for replica in idlest[: len(self.pool.ready) - desired]:
                replica.routable = False  # at once, so the next tick does not count it as ready
                self._spawn(self._drain_and_stop(replica), self._drains)

    async def _start_one(self) -> None:
        try:
            replica = await self.replicas.start()
        except Exception as error:
            self.failed_starts += 1
            self.last_error = str(error)
            log.warning("%s: a replica did not start: %s", self.name, error)
            return
        finally:
            self.starting -= 1
        self.failed_starts = 0
        await self.pool.add(replica)

    async def _drain_and_stop(self, replica: Replica) -> None:
        if not await self.pool.drain(replica, DRAIN_TIMEOUT_S):
            log.warning("%s: replica on port %d still busy after draining; stopping it", self.name, replica.port)
        await self.replicas.stop(replica)

    def _reap(self) -> None:
        for replica in list(self.pool.replicas):
            if self.replicas.exited(replica):
                log.warning("%s: the replica on port %d exited", self.name, replica.port)
                self.pool.remove(replica)

    @staticmethod
    def _spawn(coroutine: Any, tasks: set[asyncio.Task[None]]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        tasks.add(task)
        task.add_done_callback(tasks.discard)
