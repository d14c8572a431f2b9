"""A small simulation of Knative's Pod Autoscaler (KPA) on the concurrency metric, one revision.

Each second, requests arrive at the load profile's rate and join a queue; ready pods
serve at most `pod_rate` a second each. A request takes `service_s` in an idle pod
and longer in a busy one: its CPU time stretches as in an M/M/1 queue as the pod's
core fills (`Workload.latency_s`), which is what makes concurrency, and so the KPA,
react to a pod nearing its limit. What the autoscaler sees is the concurrency in
flight (serving plus queued, as the queue-proxies and the activator report it). Every `tick_s` it decides, with the
defaults of Knative Serving (config-autoscaler):

- desired pods = ceil(average concurrency / (target × target utilisation)), averaged
  over the stable window (60 s), or over the panic window (6 s) in panic mode;
- panic mode starts when the panic window's desired pods reach the panic threshold
  (200 %) of the ready pods, and ends once a stable window has passed without that;
  in panic the autoscaler never scales down;
- at most twice fewer pods per tick (max scale-down rate 2);
- to zero only after the stable window saw no traffic and the scale-to-zero grace
  period (30 s) has passed; a pod asked for becomes ready `start_s` later.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

BUSIEST = 0.95  # the utilisation latency_s stops at: beyond it the pod is full and requests queue instead


@dataclass(frozen=True)
class KpaSettings:
    target: float = 100.0  # concurrent requests per pod (annotation autoscaling.knative.dev/target)
    utilisation: float = 0.7
    stable_window_s: int = 60
    panic_window_s: int = 6
    panic_threshold: float = 2.0
    scale_down_rate: float = 2.0
    to_zero_grace_s: int = 30
    tick_s: int = 2
    min_scale: int = 0
    max_scale: int | None = None

    def pods_for(self, concurrency: float) -> int:
        return math.ceil(concurrency / (self.target * self.utilisation))


@dataclass(frozen=True)
class Workload:
    service_s: float  # one request's time in the function, alone
    pod_rate: float  # requests a second one pod serves at most
    start_s: float = 2.0  # from asking for a pod to its being ready (cold start plus scheduling)

    def latency_s(self, busy: float) -> float:
        """A request's time in a pod whose core is `busy` (0–1) used: its CPU time stretched by the wait
        for the core, the rest (waiting on Redis, PostgreSQL, the sink) unchanged."""
        cpu_s = min(1 / self.pod_rate, self.service_s)
        return self.service_s - cpu_s + cpu_s / (1 - min(busy, BUSIEST))


@dataclass
class Second:
    t: int
    offered: float
    served: float
    queued: float
    concurrency: float
    desired: int
    ready: int
    panic: bool


@dataclass
class _State:
    ready: int
    desired: int
    starting: deque[tuple[float, int]] = field(default_factory=deque)  # (ready at, pods)
    panic_until: float = -1.0
    idle_since: float | None = None


def simulate(profile: list[float], settings: KpaSettings, workload: Workload, *, initial_pods: int = 0) -> list[Second]:
    """One Second per element of `profile` (requests offered in that second)."""
    state = _State(ready=initial_pods, desired=initial_pods)
    history: deque[float] = deque(maxlen=settings.stable_window_s)
    queued = 0.0
    seconds = []
    for t, offered in enumerate(profile):
        while state.starting and state.starting[0][0] <= t:
            state.ready += state.starting.popleft()[1]
        queued += offered
        served = min(queued, state.ready * workload.pod_rate)
        queued -= served
        busy = served / (state.ready * workload.pod_rate) if state.ready else 0.0
        concurrency = served * workload.latency_s(busy) + queued
        history.append(concurrency)
        if t % settings.tick_s == 0:
            _decide(t, history, state, settings, workload)
        seconds.append(
            Second(t, offered, served, queued, concurrency, state.desired, state.ready, t < state.panic_until)
        )
    return seconds


def _decide(t: int, history: deque[float], state: _State, settings: KpaSettings, workload: Workload) -> None:
    recent = list(history)[-settings.panic_window_s :]
    stable_pods = settings.pods_for(sum(history) / len(history))
    panic_pods = settings.pods_for(sum(recent) / len(recent))
    if panic_pods > state.ready and panic_pods >= settings.panic_threshold * max(state.ready, 1):
        state.panic_until = t + settings.stable_window_s
    if t < state.panic_until:
        wanted = max(panic_pods, state.desired)
    else:
        wanted = max(stable_pods, math.floor(state.ready / settings.scale_down_rate))
    if wanted == 0 and state.ready > 0:
        state.idle_since = t if state.idle_since is None else state.idle_since
        if t - state.idle_since < settings.to_zero_grace_s:
            wanted = state.ready
    elif wanted > 0:
        state.idle_since = None
    wanted = max(wanted, settings.min_scale)
    if settings.max_scale is not None:
        wanted = min(wanted, settings.max_scale)
    _apply(t, wanted, state, workload)


def _apply(t: int, wanted: int, state: _State, workload: Workload) -> None:
    coming = sum(pods for _, pods in state.starting)
    if wanted > state.ready + coming:
        state.starting.append((t + workload.start_s, wanted - state.ready - coming))
    elif wanted < state.ready:
        state.starting.clear()
        state.ready = wanted
    state.desired = wanted


def bursty_profile(base: float, peak: float) -> list[float]:
    """Ten minutes: a quiet start, a burst to `peak`, the base again, silence (to zero), and a second burst."""
    phases = [(60, base * 0.2), (60, base), (45, peak), (120, base), (150, 0.0), (45, peak * 0.8), (120, base)]
    return [rate for length, rate in phases for _ in range(length)]
