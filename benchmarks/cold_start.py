"""Benchmark 4, cold start: from starting a function process to its first successful scored response.

Starts score exactly as the stack and its image do (functions-framework, the stack's
environment: the model comes from the registry in PostgreSQL) and POSTs a
transaction every 10 ms from the moment the process is started, until one is
answered 200 with a decision. Side by side, the no-op handler's time to its
first 200 shows the floor: the interpreter, functions-framework and gunicorn.
Each is started `--runs` times, alternately.
"""

from __future__ import annotations

import argparse
import socket
import time

import requests

from benchmarks import processes, stack, workload
from benchmarks.report import Table, ratio, save

TARGET_SECONDS = 1.0
POLL_S = 0.01


def add_arguments(parser: argparse.ArgumentParser) -> None:
    stack.add_arguments(parser)
    parser.add_argument("--runs", type=int, default=7, help="cold starts of each process")


def run(args: argparse.Namespace) -> int:
    bench = stack.BenchStack.from_arguments(args)
    bench.up()
    template = workload.created(workload.transactions(1)[0], api_key=bench.api_key)
    log_dir = bench.settings.state_dir / "logs" / "benchmarks"
    timings: dict[str, list[dict[str, float]]] = {"no-op handler": [], "score": []}
    try:
        for attempt in range(args.runs):
            for name, function in (("no-op handler", "noop"), ("score", "score")):
                timings[name].append(_cold_start(function, bench.function_env("score"), template, log_dir, attempt))
                print(f"  {name}: {timings[name][-1]['first_response_s']:.2f} s", flush=True)
    finally:
        if not args.keep_stack:
            bench.down()
    table = Table(
        f"Cold start: process start → first successful answer ({args.runs} starts each, alternating)",
        ["process", "port open p50 s", "first 200 p50 s", "first 200 max s", "vs no-op"],
    )
    summary = {}
    for name, runs in timings.items():
        summary[name] = {
            "port_open_p50_s": _median(run["port_open_s"] for run in runs),
            "first_response_p50_s": _median(run["first_response_s"] for run in runs),
            "first_response_max_s": round(max(run["first_response_s"] for run in runs), 3),
            "runs": runs,
        }
    for name, row in summary.items():
        table.add(
            name,
            row["port_open_p50_s"],
            row["first_response_p50_s"],
            row["first_response_max_s"],
            f"{ratio(row['first_response_p50_s'], summary['no-op handler']['first_response_p50_s'])}×",
        )
    measured = summary["score"]["first_response_p50_s"]
    target = {"target_s": TARGET_SECONDS, "measured_p50_s": measured, "met": measured <= TARGET_SECONDS}
    save("cold_start", {"summary": summary, "target": target}, [table], publish=args.publish)
    return 0


def _cold_start(
    function: str, env: dict[str, str], template: workload.Template, log_dir, attempt: int
) -> dict[str, float]:
    port = processes.free_port()
    body = template.render(f"bench-cold-{function}-{attempt}-{time.time_ns()}")
    headers = {name: value.replace(workload.ID_MARK, f"cold-{attempt}") for name, value in template.headers.items()}
    started = time.perf_counter()
    process = processes.start(f"cold-{function}", processes.function_command(function), env, port, log_dir)
    port_open = None
    try:
        while True:
            if process.process.poll() is not None:
                raise RuntimeError(f"{function} exited with {process.process.returncode}; see {log_dir}")
            if port_open is None:
                if _listening(port):
                    port_open = time.perf_counter() - started
                else:
                    time.sleep(POLL_S)
                    continue
            try:
                answer = requests.post(process.url, data=body, headers=headers, timeout=5)
                if answer.status_code == 200:
                    return {
                        "port_open_s": round(port_open, 3),
                        "first_response_s": round(time.perf_counter() - started, 3),
                    }
            except requests.RequestException:
                pass
            time.sleep(POLL_S)
    finally:
        process.stop()


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
        return True
    except OSError:
        return False


def _median(values) -> float:
    ordered = sorted(values)
    return round(ordered[len(ordered) // 2], 3)
