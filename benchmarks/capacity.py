"""Capacity: how many pods each function needs for 1k, 10k and 100k events/s under Knative's KPA,
checked by simulating the KPA (benchmarks.kpa) against a bursty load.

Inputs are this machine's measurements from the `functions` benchmark (its latest
run, else the committed one): a pod is one gunicorn worker with a CPU limit of one
core, so it serves at most 1000 / (CPU ms per request) requests a second, and a
request alone takes the "alone" latency. Targets and max-scale come from each
function's manifest in knative/functions/. A KafkaSource with `ordering: ordered`
keeps one event in flight per partition, so it also caps a consumer's throughput at
partitions / delivery time: the partitions needed are printed too.

A busy pod's requests wait for its core, so its concurrency rises with its load until
the KPA adds pods: the count needed is where that settles (never fewer pods than the
cores the rate takes), and a constant load in the simulation must settle there too.
The simulation shows what the KPA asks for, unbounded by max-scale.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from typing import Any

import yaml

from benchmarks import kpa
from benchmarks.report import Table, latest, save
from sentinel.config import PROJECT_ROOT

RATES = (1_000, 10_000, 100_000)
PARTITIONS = 6  # sentinel.transactions and sentinel.scored (knative/eventing/sinks.yaml)
MEASURED = {  # function -> its row in the functions benchmark
    "ingest": "ingest → null sink",
    "score": "score → null sink",
    "persist": "persist",
    "alert": "alert, every event a block",
}
ANNOTATION = "autoscaling.knative.dev/"


@dataclass(frozen=True)
class FunctionCapacity:
    name: str
    service_s: float
    pod_rate: float
    target: float
    max_scale: int | None

    def pods(self, rate: float, settings: kpa.KpaSettings) -> dict[str, int]:
        """The steady state: the fewest pods whose cores keep up and whose concurrency, at the latency
        that load gives them, the KPA does not want more pods for."""
        workload = kpa.Workload(self.service_s, self.pod_rate)
        by_cpu = math.ceil(rate / self.pod_rate)
        needed = by_cpu
        while settings.pods_for(rate * workload.latency_s(rate / (needed * self.pod_rate))) > needed:
            needed += 1
        return {"by_cpu": by_cpu, "needed": needed}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base", type=float, default=1000.0, help="the bursty profile's base rate, events/s")
    parser.add_argument("--peak", type=float, default=10000.0, help="the bursty profile's burst rate, events/s")
    parser.add_argument("--start-s", type=float, default=2.0, help="seconds from asking for a pod to its being ready")
    parser.add_argument("--every", type=int, default=10, help="print the replica curve every this many seconds")


def run(args: argparse.Namespace) -> int:
    measured = latest("functions")
    if measured is None:
        raise SystemExit("no functions benchmark yet: run `python -m benchmarks functions` first")
    functions = [_capacity(name, measured["subjects"][row]) for name, row in MEASURED.items()]
    pods = Table(
        "Pods per function under the KPA (target × 70 % concurrency, and one core per pod)",
        [
            "function",
            "alone ms",
            "pod max/s",
            "target",
            "max-scale",
            *[f"{rate:,}/s" for rate in RATES],
            "ordered partitions for 10k/s",
        ],
    )
    document: dict[str, Any] = {"functions": {}, "simulation": {}}
    for function in functions:
        settings = kpa.KpaSettings(target=function.target)
        needs = {rate: function.pods(rate, settings) for rate in RATES}
        partitions = math.ceil(10_000 * function.service_s)
        document["functions"][function.name] = {**vars(function), "pods": needs, "ordered_partitions_10k": partitions}
        pods.add(
            function.name,
            round(function.service_s * 1000, 2),
            round(function.pod_rate),
            function.target,
            function.max_scale,
            *[_pods_cell(needs[rate]) for rate in RATES],
            partitions if function.name != "ingest" else "–",
        )
    steady = Table(
        "The computed pod counts checked by the KPA simulation: pods after 5 minutes at a constant rate",
        ["function", *[f"{rate:,}/s computed → simulated" for rate in RATES[:2]]],
    )
    simulated = Table(
        f"KPA simulation, bursty load: base {args.base:,.0f}/s, bursts to {args.peak:,.0f}/s, silence to zero",
        ["function", "max pods", "pod-seconds", "seconds in panic", "max queued", "max queue wait s", "cold starts"],
    )
    profile = kpa.bursty_profile(args.base, args.peak)
    curves = {}
    for function in functions:
        settings = kpa.KpaSettings(target=function.target)
        workload = kpa.Workload(service_s=function.service_s, pod_rate=function.pod_rate, start_s=args.start_s)
        checked = {rate: kpa.simulate([rate] * 300, settings, workload)[-1].ready for rate in RATES[:2]}
        document["functions"][function.name]["simulated_steady_pods"] = checked
        steady.add(
            function.name, *[f"{function.pods(rate, settings)['needed']:,} → {checked[rate]:,}" for rate in RATES[:2]]
        )
        seconds = kpa.simulate(profile, settings, workload)
        curves[function.name] = seconds
        summary = _summary(seconds)
        document["simulation"][function.name] = summary
        simulated.add(function.name, *summary.values())
    print(_curve(curves["score"], args.every))
    document["profile"] = {"base": args.base, "peak": args.peak, "seconds": len(profile)}
    document["replica_curve_score"] = [
        {"t": s.t, "offered": s.offered, "desired": s.desired, "ready": s.ready, "panic": s.panic}
        for s in curves["score"][:: args.every]
    ]
    save("capacity", document, [pods, steady, simulated], publish=args.publish)
    return 0


def _capacity(name: str, measured: dict[str, Any]) -> FunctionCapacity:
    annotations = _annotations(name)
    service_ms = measured.get("alone_p50_ms") or measured["p50_ms"]
    return FunctionCapacity(
        name=name,
        service_s=service_ms / 1000,
        pod_rate=1000 / measured["cpu_ms_per_request"],
        target=float(annotations.get(f"{ANNOTATION}target", 100)),
        max_scale=int(annotations[f"{ANNOTATION}max-scale"]) if f"{ANNOTATION}max-scale" in annotations else None,
    )


def _annotations(function: str) -> dict[str, str]:
    manifest = yaml.safe_load((PROJECT_ROOT / "knative" / "functions" / f"{function}.yaml").read_text())
    return manifest["spec"]["template"]["metadata"].get("annotations", {})


def _pods_cell(needs: dict[str, int]) -> str:
    bound = "CPU" if needs["by_cpu"] == needs["needed"] else "concurrency"
    return f"{needs['needed']:,} ({bound})"


def _summary(seconds: list[kpa.Second]) -> dict[str, Any]:
    waits = [s.queued / s.served for s in seconds if s.served]
    return {
        "max_pods": max(s.ready for s in seconds),
        "pod_seconds": sum(s.ready for s in seconds),
        "seconds_in_panic": sum(1 for s in seconds if s.panic),
        "max_queued": round(max(s.queued for s in seconds)),
        "max_queue_wait_s": round(max(waits, default=0.0), 2),
        "cold_starts": sum(
            1 for before, now in zip(seconds, seconds[1:], strict=False) if before.ready == 0 and now.ready > 0
        ),
    }


def _curve(seconds: list[kpa.Second], every: int) -> str:
    """The replica curve of one function as text: offered load, desired and ready pods, panic."""
    widest = max(s.ready for s in seconds) or 1
    lines = [
        f"score's replica curve (one row per {every} s; █ = ready pods, scaled)",
        f"{'t s':>5} {'offered/s':>10} {'desired':>8} {'ready':>6} panic",
    ]
    for s in seconds[::every]:
        bar = "█" * math.ceil(40 * s.ready / widest) if s.ready else ""
        lines.append(f"{s.t:>5} {s.offered:>10,.0f} {s.desired:>8} {s.ready:>6} {'yes' if s.panic else '   '}   {bar}")
    return "\n".join(lines) + "\n"
