"""Benchmark 7, model quality on live traffic: fresh synthetic transactions through the running score, in time order.

The model under test is trained as `sentinel retrain` trains one by default (150,000
synthetic rows, seed 7, behavioural features) and made champion. Fresh rows (another seed)
are sent to score in time order, in batches as a client asking for decisions inline
sends them, so score computes every behavioural feature online from the users'
histories in Redis as they build up. Their AUPRC is set against the best any model
can reach on those rows: the AUPRC of the generator's own true fraud probabilities.

Beside it, offline, on the same rows: the champion scored with the behavioural
features training computes (what the live figure should equal), and a model
trained on the same data without them (`sentinel retrain --without-behaviour`).
"""

from __future__ import annotations

import argparse
import time
import uuid
from typing import Any

import numpy as np
import requests
from sklearn.metrics import average_precision_score

from benchmarks import stack
from benchmarks.report import Table, save
from sentinel.codec.event import json_event
from sentinel.codec.json_format import BATCH_MEDIA_TYPE, parse_batch, render_batch
from sentinel.core import events
from sentinel.core.model import ModelRecord, OnnxModel
from sentinel.core.transaction import FEATURE_NAMES
from sentinel.stores import database, registry
from training import pipeline
from training.behaviour import with_behaviour
from training.dataset import Dataset, check
from training.loader import Source
from training.settings import TrainingSettings
from training.synthetic import generate
from training.train import DEFAULT_TARGETS

TARGET_SHARE_OF_BEST = 0.95
RELOAD_S = 3.0  # score follows a promotion within about a second
SOURCE = "/benchmarks/model-quality"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    stack.add_arguments(parser)
    parser.add_argument("--rows", type=int, default=200_000, help="fresh synthetic rows sent to score")
    parser.add_argument("--seed", type=int, default=pipeline.FRESH_SEED, help="seed of the fresh rows")
    parser.add_argument("--batch", type=int, default=200, help="transactions per request")


def run(args: argparse.Namespace) -> int:
    bench = stack.BenchStack.from_arguments(args)
    bench.up()
    try:
        print("training a model as `sentinel retrain` does by default, and one without behavioural features ...")
        champion = _trained(bench, behaviour=True)
        without = _trained(bench, behaviour=False)
        with database.connect(bench.settings.database_url) as conn:
            registry.promote(conn, champion.version, by="benchmark", reason="the model under test", force=True)
        time.sleep(RELOAD_S)
        fresh = check(generate(args.rows, seed=args.seed), origin=f"synthetic:rows={args.rows}:seed={args.seed}")
        print(f"scoring {len(fresh):,} fresh rows ({int(fresh.labels.sum())} fraud) through score, in time order")
        started = time.perf_counter()
        live, versions = _scored_live(bench, fresh, args.batch)
        seconds = time.perf_counter() - started
        print(f"  {len(fresh) / seconds:,.0f} transactions/s")
    finally:
        if not args.keep_stack:
            bench.down()
    with_features = with_behaviour(fresh)
    best = float(average_precision_score(fresh.labels, fresh.true_probability))
    rows = {
        "live, champion through score": (champion.version, live),
        "offline, champion": (champion.version, _offline(champion, with_features)),
        "offline, without behavioural features": (without.version, _offline(without, with_features)),
    }
    table = Table(
        f"Model quality on {len(fresh):,} fresh synthetic rows (seed {args.seed}), best achievable AUPRC {best:.3f}",
        ["scored", "model", "features", "AUPRC", "share of best"],
    )
    results: dict[str, Any] = {}
    for name, (version, scores) in rows.items():
        auprc = float(average_precision_score(fresh.labels, scores))
        features = "with behaviour" if "without" not in name else "transaction only"
        table.add(name, version, features, round(auprc, 3), round(auprc / best, 3))
        results[name] = {"model": version, "auprc": auprc, "share_of_best": auprc / best}
    live_share = results["live, champion through score"]["share_of_best"]
    document = {
        "settings": {"rows": args.rows, "seed": args.seed, "batch": args.batch},
        "best_achievable_auprc": best,
        "fraud": int(fresh.labels.sum()),
        "results": results,
        "live_versions": sorted(versions),
        "largest_live_offline_difference": float(np.abs(live - rows["offline, champion"][1]).max()),
        "live_seconds": seconds,
        "targets": {
            "live_share_of_best": {
                "target": TARGET_SHARE_OF_BEST,
                "measured": live_share,
                "met": live_share >= TARGET_SHARE_OF_BEST,
            }
        },
    }
    save("model_quality", document, [table], publish=args.publish)
    return 0


def _scored_live(bench: stack.BenchStack, fresh: Dataset, batch: int) -> tuple[np.ndarray, set[str]]:
    """Each row's risk score from the running score, the rows sent in time order; and the models that scored."""
    url = f"http://127.0.0.1:{bench.port('score')}/"
    headers = {"Content-Type": BATCH_MEDIA_TYPE, "Authorization": f"Bearer {bench.api_key}"}
    run = uuid.uuid4().hex[:8]  # ids and users of this run only: score remembers both
    order = np.argsort(fresh.event_times, kind="stable").tolist()
    scores = np.empty(len(fresh))
    versions: set[str] = set()
    with requests.Session() as session:
        for start in range(0, len(order), batch):
            rows = order[start : start + batch]
            body = render_batch([_created(fresh, row, run) for row in rows])
            response = session.post(url, data=body, headers=headers, timeout=60)
            if response.status_code != 200:
                raise SystemExit(f"score answered {response.status_code}: {response.text[:2000]}")
            for row, event in zip(rows, parse_batch(response.content), strict=True):
                decision = event.json()
                scores[row] = decision["risk_score"]
                versions.add(decision["model_version"])
            if start // batch % 100 == 0:
                print(f"  {start + len(rows):,} of {len(order):,}", flush=True)
    return scores, versions


def _created(fresh: Dataset, row: int, run: str):
    assert fresh.user_ids is not None and fresh.event_times is not None and fresh.amounts is not None
    data: dict[str, Any] = {
        "transaction_id": f"{run}-{row}",
        "user_id": f"{run}-{fresh.user_ids[row]}",
        **{name: float(fresh.features[row, column]) for column, name in enumerate(FEATURE_NAMES)},
        "Amount": float(fresh.amounts[row]),
        "event_time": f"{np.datetime_as_string(fresh.event_times[row].astype('datetime64[us]'), unit='us')}Z",
    }
    if fresh.merchant_ids is not None and fresh.merchant_ids[row]:
        data["merchant_id"] = str(fresh.merchant_ids[row])
    return json_event({"type": events.TRANSACTION_CREATED, "source": SOURCE, "id": data["transaction_id"]}, data)


def _trained(bench: stack.BenchStack, *, behaviour: bool) -> ModelRecord:
    """A candidate, as `sentinel retrain --no-promote` trains one (adding `--without-behaviour` unless `behaviour`)."""
    settings = TrainingSettings.from_env()
    request = pipeline.RetrainRequest(
        source=Source("synthetic"),
        rows=settings.synthetic_rows,
        seed=settings.seed,
        targets=DEFAULT_TARGETS,
        gate_margin=settings.gate_margin,
        by="benchmark",
        promote=False,
        behaviour=behaviour,
    )
    outcome = pipeline.retrain(request, settings)
    with database.connect(bench.settings.database_url) as conn:
        record = registry.get(conn, outcome.version)
    assert record is not None
    return record


def _offline(record: ModelRecord, dataset: Dataset) -> np.ndarray:
    return OnnxModel(record).predict_table(dataset.features, dataset.feature_names)
