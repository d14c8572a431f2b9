"""A small simulation of Knative's Pod Autoscaler (KPA) on the concurrency metric, one revision.

Each second, requests arrive at the load profile's rate and join a queue; ready pods
serve at most `pod_rate` a second each. A request takes `service_s` in an idle pod
and longer in a busy one: its CPU time stretches as in an M/M/1 queue as the pod's
core fills (`Workload.latency_s`), which is what makes concurrency, and so the KPA,
react to a pod nearing its limit. What the autoscaler sees is the concurrency in
flight (serving plus queued, as the queue-proxies and the activator report it). Every
`tick_s` it decides as the local stack's autoscaler does (sentinel.stack.kpa, Knative's
defaults); a pod asked for becomes ready `start_s` later.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from sentinel.stack.kpa import Kpa, KpaSettings

__all__ = ["KpaSettings", "Second", "Workload", "bursty_profile", "simulate"]

BUSIEST = 0.95  # the utilisation latency_s stops at: beyond it the pod is full and requests queue instead


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
class _Pods:
    ready: int
    starting: deque[tuple[float, int]] = field(default_factory=deque)  # (ready at, pods)


def simulate(profile: list[float], settings: KpaSettings, workload: Workload, *, initial_pods: int = 0) -> list[Second]:
    """One Second per element of `profile` (requests offered in that second)."""
    pods = _Pods(ready=initial_pods)
    autoscaler = Kpa(settings, initial=initial_pods)
    queued = 0.0
    seconds = []
    for t, offered in enumerate(profile):
        while pods.starting and pods.starting[0][0] <= t:
            pods.ready += pods.starting.popleft()[1]
        queued += offered
        served = min(queued, pods.ready * workload.pod_rate)
        queued -= served
        busy = served / (pods.ready * workload.pod_rate) if pods.ready else 0.0
        concurrency = served * workload.latency_s(busy) + queued
        autoscaler.observe(concurrency)
        if t % settings.tick_s == 0:
            _apply(t, autoscaler.decide(t, pods.ready).desired, pods, workload)
        seconds.append(
            Second(t, offered, served, queued, concurrency, autoscaler.desired, pods.ready, autoscaler.in_panic(t))
        )
    return seconds


def _apply(t: int, wanted: int, pods: _Pods, workload: Workload) -> None:
    coming = sum(count for _, count in pods.starting)
    if wanted > pods.ready + coming:
        pods.starting.append((t + workload.start_s, wanted - pods.ready - coming))
    elif wanted < pods.ready:
        pods.starting.clear()
        pods.ready = wanted


def bursty_profile(base: float, peak: float) -> list[float]:
    """Ten minutes: a quiet start, a burst to `peak`, the base again, silence (to zero), and a second burst."""
    phases = [(60, base * 0.2), (60, base), (45, peak), (120, base), (150, 0.0), (45, peak * 0.8), (120, base)]
    return [rate for length, rate in phases for _ in range(length)]
