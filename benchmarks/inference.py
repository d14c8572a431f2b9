"""Benchmark 1, inference: the champion's ONNX session against native XGBoost on the same model and rows.

Trains the model `sentinel up` trains first (same rows, seed and steps), exports it
to ONNX exactly as the registry receives it, and times both runtimes on one row and
on 1,000 rows, alternating in blocks so that noise on the shared machine falls on
both alike. ONNX is timed through `sentinel.core.model.predict_probabilities`, the call
score makes; XGBoost through `inplace_predict`, with its default threads and with one.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from benchmarks.report import Table, percentiles_ms, ratio, save

TRAINING_ROWS = 150_000
TRAINING_SEED = 7
ROWS_SEED = 8
BATCH_ROWS = 1_000
TARGET_SPEEDUP = 10.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--calls", type=int, default=3000, help="timed one-row calls per runtime")
    parser.add_argument("--batch-calls", type=int, default=200, help="timed 1,000-row calls per runtime")


def run(args: argparse.Namespace) -> int:
    from sentinel.core.model import load_session, predict_probabilities
    from training import synthetic
    from training.export import check_parity, to_onnx
    from training.train import split_rows, train

    print(f"training the first model on {TRAINING_ROWS:,} synthetic rows (seed {TRAINING_SEED}) ...", flush=True)
    dataset = synthetic.generate(TRAINING_ROWS, seed=TRAINING_SEED)
    trained = train(dataset, split_rows(dataset, seed=TRAINING_SEED))
    booster = trained.booster
    exported = to_onnx(booster, trained.feature_names)
    session = load_session(exported.onnx, sha256=exported.sha256, feature_names=exported.feature_names, name="bench")
    rows = synthetic.generate(BATCH_ROWS, seed=ROWS_SEED).features.astype(np.float32)
    parity = check_parity(booster, exported, rows)
    single_thread = booster.copy()
    single_thread.set_param({"nthread": 1})

    runtimes: dict[str, Callable[[np.ndarray], object]] = {
        "onnxruntime (1 intra-op thread)": lambda x: predict_probabilities(session, x),
        "xgboost inplace_predict (all cores)": lambda x: booster.inplace_predict(x),
        "xgboost inplace_predict (1 thread)": lambda x: single_thread.inplace_predict(x),
    }
    one_row = [rows[i : i + 1] for i in range(len(rows))]
    single = _time_alternating(runtimes, lambda call: one_row[call % len(one_row)], args.calls)
    batch = _time_alternating(runtimes, lambda call: rows, args.batch_calls)

    onnx_name = next(iter(runtimes))
    table = Table(
        "Inference: one row and 1,000 rows, per call",
        [
            "runtime",
            "1 row p50 ms",
            "1 row p99 ms",
            "1,000 rows p50 ms",
            "1,000 rows p99 ms",
            "ONNX faster (1 row p50)",
        ],
    )
    results = {}
    for name in runtimes:
        one, many = percentiles_ms(single[name]), percentiles_ms(batch[name])
        speedup = ratio(one["p50_ms"], percentiles_ms(single[onnx_name])["p50_ms"])
        results[name] = {"one_row": one, "batch_1000": many, "onnx_speedup_one_row_p50": speedup}
        table.add(
            name, one["p50_ms"], one["p99_ms"], many["p50_ms"], many["p99_ms"], f"{speedup:.1f}×" if speedup else None
        )
    native = results[list(runtimes)[1]]["onnx_speedup_one_row_p50"]
    verdict = {
        "target": f"ONNX one row >= {TARGET_SPEEDUP:g}x faster than native xgboost",
        "measured_speedup": native,
        "met": native is not None and native >= TARGET_SPEEDUP,
    }
    print(f"parity over {len(rows):,} rows: max |Δp| {parity:.1e}; target met: {verdict['met']}")
    save(
        "inference",
        {"model": {"trees": booster.num_boosted_rounds(), "parity": parity}, "results": results, "target": verdict},
        [table],
        publish=args.publish,
    )
    return 0


def _time_alternating(
    runtimes: dict[str, Callable[[np.ndarray], object]], rows_for: Callable[[int], np.ndarray], calls: int
) -> dict[str, list[float]]:
    """Seconds per call of each runtime, timed in alternating blocks after a warm-up."""
    block = max(calls // 20, 1)
    timings: dict[str, list[float]] = {name: [] for name in runtimes}
    for function in runtimes.values():
        for call in range(min(block, 50)):
            function(rows_for(call))
    for start in range(0, calls, block):
        for name, function in runtimes.items():
            for call in range(start, min(start + block, calls)):
                features = rows_for(call)
                began = time.perf_counter()
                function(features)
                timings[name].append(time.perf_counter() - began)
    return timings
