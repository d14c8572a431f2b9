"""The decisions of Knative's Pod Autoscaler (KPA) on the concurrency metric, for one revision.

Pure logic, fed one average concurrency a second (what the queue-proxies and the
activator report) and asked every tick how many replicas it wants. Both the local
stack's autoscaler and the capacity benchmark's simulation use it. The defaults are
Knative Serving's (config-autoscaler):

- desired replicas = ceil(average concurrency / (target × target utilisation)), averaged
  over the stable window (60 s), or over the panic window (6 s) in panic mode;
- panic mode starts when the panic window's desired replicas reach the panic threshold
  (200 %) of the ready ones, and ends once a stable window has passed without that;
  in panic the autoscaler never scales down;
- at most twice fewer replicas per tick (max scale-down rate 2);
- a scale-down takes effect only once every decision of the scale-down delay (0 s) agreed;
- to zero only after the stable window saw no traffic and the scale-to-zero grace
  period (30 s), and the last replica's retention period (0 s), have passed;
- never under min-scale nor over max-scale.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class KpaSettings:
    target: float = 100.0  # concurrent requests per replica (annotation autoscaling.knative.dev/target)
    utilisation: float = 0.7
    stable_window_s: int = 60
    panic_window_s: int = 6
    panic_threshold: float = 2.0
    scale_down_rate: float = 2.0
    to_zero_grace_s: int = 30
    tick_s: int = 2
    min_scale: int = 0
    max_scale: int | None = None
    scale_down_delay_s: int = 0
    to_zero_retention_s: int = 0

    def pods_for(self, concurrency: float) -> int:
        return math.ceil(concurrency / (self.target * self.utilisation))


@dataclass(frozen=True)
class Decision:
    desired: int
    stable_concurrency: float  # the stable window's average
    panic_concurrency: float  # the panic window's average
    panic: bool
    reason: str


class Kpa:
    """One revision's autoscaler: `observe` once a second, `decide` every tick."""

    def __init__(self, settings: KpaSettings, *, initial: int = 0):
        self.settings = settings
        self.desired = initial
        self._history: deque[float] = deque(maxlen=settings.stable_window_s)
        self._panic_until = -math.inf
        self._idle_since: float | None = None
        self._wanted: deque[tuple[float, int]] = deque()  # (t, wanted) within the scale-down delay

    def observe(self, concurrency: float) -> None:
        self._history.append(concurrency)

    def in_panic(self, t: float) -> bool:
        return t < self._panic_until

    def decide(self, t: float, ready: int) -> Decision:
        """The replicas wanted at time `t` (seconds) with `ready` replicas serving."""
        settings = self.settings
        history = list(self._history) or [0.0]
        recent = history[-settings.panic_window_s :]
        stable_average = sum(history) / len(history)
        panic_average = sum(recent) / len(recent)
        stable_pods = settings.pods_for(stable_average)
        panic_pods = settings.pods_for(panic_average)
        if panic_pods > ready and panic_pods >= settings.panic_threshold * max(ready, 1):
            self._panic_until = t + settings.stable_window_s
        panic = self.in_panic(t)
        if panic:
            wanted = max(panic_pods, self.desired)
            reason = f"panic: {settings.panic_window_s} s average {panic_average:.1f} in flight"
        else:
            wanted = max(stable_pods, math.floor(ready / settings.scale_down_rate))
            reason = f"stable: {settings.stable_window_s} s average {stable_average:.1f} in flight"
        wanted, reason = self._to_zero(t, wanted, ready, reason)
        wanted, reason = self._delayed(t, wanted, reason)
        if wanted < settings.min_scale:
            wanted, reason = settings.min_scale, f"min-scale {settings.min_scale}"
        if settings.max_scale is not None and wanted > settings.max_scale:
            wanted, reason = settings.max_scale, f"max-scale {settings.max_scale}"
        self.desired = wanted
        return Decision(wanted, stable_average, panic_average, panic, reason)

    def _to_zero(self, t: float, wanted: int, ready: int, reason: str) -> tuple[int, str]:
        """Zero only after the grace period (and the last replica's retention) of idleness."""
        if wanted == 0 and ready > 0:
            self._idle_since = t if self._idle_since is None else self._idle_since
            wait = max(self.settings.to_zero_grace_s, self.settings.to_zero_retention_s)
            if t - self._idle_since < wait:
                return ready, f"idle {t - self._idle_since:.0f} s of the {wait} s before zero"
            return 0, f"idle for {wait} s: to zero"
        if wanted > 0:
            self._idle_since = None
        return wanted, reason

    def _delayed(self, t: float, wanted: int, reason: str) -> tuple[int, str]:
        """Knative's scale-down delay: the highest wish of the last `scale_down_delay_s` seconds."""
        delay = self.settings.scale_down_delay_s
        if delay <= 0:
            return wanted, reason
        self._wanted.append((t, wanted))
        while self._wanted and self._wanted[0][0] <= t - delay:
            self._wanted.popleft()
        highest = max(value for _, value in self._wanted)
        if highest > wanted:
            return highest, f"scale-down delay {delay} s"
        return wanted, reason
