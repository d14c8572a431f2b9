"""When an idle source stops fetching, and when it looks again.

Every fetch costs the broker CPU whether it finds records or not: an idle stack's broker
spent 8-11 % of a core answering the three sources' empty fetches, one every 20 ms
per source (eventing.kafka_clients.FETCH_WAIT_MAX_MS), and 2 % with this back-off
(python -m benchmarks idle). A source that has found nothing and
delivered nothing for `idle_after_s` therefore pauses its partitions, and resumes them for
`probe_s` once every `every_s` to look for new records. Any record found, or any delivery
still under way, keeps it fetching. The price is latency for the first event after a quiet
spell only: it waits up to `every_s` more. At a steady rate, however low, a source never
stops fetching for longer than it waits between events.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class IdleBackoff:
    """`fetching()` says whether the source should be fetching now; 0 for `idle_after_s` means always."""

    idle_after_s: float
    every_s: float
    probe_s: float
    clock: Callable[[], float] = time.monotonic
    _last_activity: float = field(init=False)
    _next_probe: float | None = field(init=False, default=None)  # None while the source is awake
    _probe_until: float | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self._last_activity = self.clock()

    def fetching(self, *, found: int, busy: bool) -> bool:
        """Whether to fetch now, given how many records the last fetch found and whether deliveries are under way.

        A probe, once begun, lasts until `probe_s` has passed at a later call, so every probe
        spans at least one fetch however seldom the caller asks."""
        now = self.clock()
        if found or busy or self.idle_after_s <= 0:
            self.wake()
            return True
        idle_since = self._last_activity + self.idle_after_s
        if now < idle_since:
            return True
        if self._next_probe is None:
            self._next_probe = idle_since + self.every_s
        if self._probe_until is not None:
            if now < self._probe_until:
                return True
            self._probe_until = None
            self._next_probe = now + self.every_s
            return False
        if now >= self._next_probe:
            self._probe_until = now + self.probe_s
            return True
        return False

    def wake(self) -> None:
        """Fetch for at least `idle_after_s` from now, as after activity: for partitions just
        assigned, whose first fetch must look up where to start, which takes longer than a probe."""
        self._last_activity = self.clock()
        self._next_probe = self._probe_until = None

    @property
    def idle(self) -> bool:
        """Whether the source has been idle long enough to fetch only in probes."""
        return self.idle_after_s > 0 and self.clock() - self._last_activity >= self.idle_after_s
