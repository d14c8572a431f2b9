"""Benchmark 5, retrain: wall time of the `retrain` flow on 284,807 synthetic rows.

Runs `sentinel retrain --rows 284807` against the benchmark stack's registry as a
user does, the first time with no Prefect state (its database is created) and then
again with it; side by side, the very same steps run without Prefect (as `sentinel
up` trains a first model), which shows what Prefect itself costs.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import stack
from benchmarks.report import Table, ratio, save

ROWS = 284_807
TARGET_SECONDS = 60.0
SENTINEL = str(Path(sys.executable).parent / "sentinel")

# The retrain steps without Prefect, as training.bootstrap runs them.
WITHOUT_PREFECT = """
import sys
from training import pipeline
from training.loader import Source
from training.settings import TrainingSettings
from training.train import DEFAULT_TARGETS
settings = TrainingSettings.from_env()
request = pipeline.RetrainRequest(source=Source("synthetic"), rows=int(sys.argv[1]), seed=settings.seed,
    targets=DEFAULT_TARGETS, gate_margin=settings.gate_margin, by="benchmarks", reason="retrain benchmark")
pipeline.retrain(request, settings)
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    stack.add_arguments(parser)
    parser.add_argument("--rows", type=int, default=ROWS)


def run(args: argparse.Namespace) -> int:
    bench = stack.BenchStack.from_arguments(args)
    bench.up()
    prefect_home = bench.settings.state_dir / "prefect"
    runs = []
    try:
        shutil.rmtree(prefect_home, ignore_errors=True)
        runs.append(
            _timed("retrain flow, first run (no Prefect state yet)", [SENTINEL, "retrain", "--rows", str(args.rows)])
        )
        runs.append(_timed("retrain flow, Prefect state present", [SENTINEL, "retrain", "--rows", str(args.rows)]))
        runs.append(_timed("the same steps without Prefect", [sys.executable, "-c", WITHOUT_PREFECT, str(args.rows)]))
    finally:
        if not args.keep_stack:
            bench.down()
    table = Table(f"Retrain on {args.rows:,} synthetic rows: wall time", ["run", "seconds", "vs without Prefect"])
    plain = runs[-1]["seconds"]
    for entry in runs:
        table.add(entry["run"], entry["seconds"], f"{ratio(entry['seconds'], plain)}×")
    worst = max(entry["seconds"] for entry in runs[:2])
    target = {"target_s": TARGET_SECONDS, "measured_worst_s": worst, "met": worst <= TARGET_SECONDS}
    save("retrain", {"rows": args.rows, "runs": runs, "target": target}, [table], publish=args.publish)
    return 0


def _timed(name: str, command: list[str]) -> dict[str, object]:
    print(f"  {name} ...", flush=True)
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True)
    seconds = round(time.perf_counter() - started, 2)
    if completed.returncode != 0:
        raise RuntimeError(
            f"{name} failed ({completed.returncode}):\n{completed.stdout[-2000:]}\n{completed.stderr[-2000:]}"
        )
    print(f"    {seconds} s", flush=True)
    return {"run": name, "seconds": seconds}
