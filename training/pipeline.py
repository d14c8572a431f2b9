"""The model lifecycle's steps, and the two sequences made of them: retrain and evaluate.

retrain: load → validate → train → evaluate → export → parity → register → profile → gate and promote.
The profile is what drift is measured against (training.drift). The gate measures
candidate and champion on the registry's fixed holdout (training.holdout), not on the
candidate's own test split.
evaluate: load → score with a registered version → metrics.

Each step is a plain function that reports what it did (training.progress). The
sequences take a `run` that calls a step: `call` runs it directly (how `sentinel up`
trains a first model without importing Prefect), and training.flows passes one
that runs each step as a Prefect task. So there is one code path, with or without
Prefect.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from sentinel.core.model import ModelRecord, OnnxModel
from sentinel.core.promotion import GateResult, bounded_margin
from sentinel.stores import database, registry
from sentinel.stores import drift as drift_store
from training import behaviour, gate, holdout, loader
from training.dataset import Dataset
from training.export import ExportedModel, check_parity, to_onnx
from training.loader import Source
from training.profile import training_profile
from training.progress import report
from training.settings import TrainingSettings
from training.train import PrecisionTargets, Split, TrainedModel, evaluate, held_out_metrics, split_rows, train

# Synthetic evaluation data is drawn with another seed than training's default, so it is fresh.
FRESH_SEED = 8

T = TypeVar("T")
Run = Callable[..., Any]


def call(step: Callable[..., T], *args: Any) -> T:
    """Run a step directly."""
    return step(*args)


@dataclass(frozen=True)
class RetrainRequest:
    source: Source
    rows: int  # for the synthetic source
    seed: int  # for the synthetic source and the split
    targets: PrecisionTargets
    gate_margin: float
    by: str  # who promotes, for the registry
    reason: str = ""  # why; by default the gate's verdict
    promote: bool = True  # False: register and measure against the champion, but leave it in place
    behaviour: bool = True  # False: the transaction's own features only, even where behavioural ones could be had

    def __post_init__(self) -> None:
        bounded_margin(self.gate_margin)
        if not self.by.strip():
            raise ValueError("a retrain needs to know who asked for it")

    @property
    def data_description(self) -> str:
        return self.source.describe(rows=self.rows, seed=self.seed)


@dataclass(frozen=True)
class RetrainOutcome:
    version: str
    promoted: bool
    champion: str | None  # after the run
    gate: GateResult
    thresholds: dict[str, float]
    metrics: dict[str, Any]
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "promoted": self.promoted,
            "champion": self.champion,
            "gate": self.gate.to_json(),
            "thresholds": self.thresholds,
            "metrics": self.metrics,
            "seconds": round(self.seconds, 1),
        }


def retrain(request: RetrainRequest, settings: TrainingSettings, *, run: Run = call) -> RetrainOutcome:
    """Train a candidate on `request.source`, register it, and promote it if the gate lets it."""
    started = time.perf_counter()
    if request.source.kind == "gdrive":
        run(download_dataset, request.source, settings)
    dataset = run(load_dataset, request.source, request.rows, request.seed, settings, request.behaviour)
    split = run(validate_dataset, dataset, request)
    trained = run(train_model, dataset, split, request)
    metrics = run(evaluate_model, trained, dataset, split)
    exported = run(export_model, trained)
    parity = run(check_export_parity, trained, exported, dataset.features[split.test])
    record = run(register_model, settings, request, dataset, trained, exported, {**metrics, "parity_max_delta": parity})
    run(profile_training_data, settings, record, trained, dataset, split)
    verdict, champion = run(gate_and_promote, settings, request, record)
    return RetrainOutcome(
        version=record.version,
        promoted=champion == record.version,
        champion=champion,
        gate=verdict,
        thresholds=record.thresholds,
        metrics=record.metrics,
        seconds=time.perf_counter() - started,
    )


def download_dataset(source: Source, settings: TrainingSettings) -> Path:
    report(f"fetching Google Drive file {source.location}")
    path = loader.download(source, settings)
    report(f"dataset file ready: {path}")
    return path


def load_dataset(
    source: Source, rows: int, seed: int, settings: TrainingSettings, with_behaviour: bool = True
) -> Dataset:
    """The labelled rows, with their behavioural features when asked for and the rows allow it."""
    dataset = loader.load(source, settings, rows=rows, seed=seed)
    report(
        f"loaded {len(dataset):,} rows from {source.describe(rows=rows, seed=seed)}:"
        f" {int(dataset.labels.sum()):,} fraud ({dataset.fraud_rate:.3%})"
    )
    if not with_behaviour:
        report("the model takes the transaction's own features only, as asked")
        return dataset
    if not behaviour.can_compute(dataset):
        report("the rows do not say whose they are and when: the model takes the transaction's own features only")
        return dataset
    started = time.perf_counter()
    dataset = behaviour.with_behaviour(dataset)
    report(f"computed the behavioural features of every row in {time.perf_counter() - started:.1f}s")
    return dataset


def validate_dataset(dataset: Dataset, request: RetrainRequest) -> Split:
    """The train / validation / test split; fails unless every part holds fraud."""
    split = split_rows(dataset, seed=request.seed)
    parts = ", ".join(
        f"{name} {len(part):,} ({int(dataset.labels[part].sum()):,} fraud)"
        for name, part in (("train", split.train), ("validation", split.validation), ("test", split.test))
    )
    report(f"validated: {'time-ordered' if split.method == 'time' else 'stratified'} split into {parts}")
    return split


def train_model(dataset: Dataset, split: Split, request: RetrainRequest) -> TrainedModel:
    trained = train(dataset, split, seed=request.seed, targets=request.targets)
    report(
        f"trained {trained.details['trees']} trees in {trained.details['training_seconds']:.1f}s;"
        f" review at {trained.thresholds['review']:.3f}, block at {trained.thresholds['block']:.3f}"
    )
    return trained


def evaluate_model(trained: TrainedModel, dataset: Dataset, split: Split) -> dict[str, Any]:
    metrics = held_out_metrics(trained, dataset, split)
    report(f"evaluated on the test split: {summary(metrics)}")
    return metrics


def export_model(trained: TrainedModel) -> ExportedModel:
    exported = to_onnx(trained.booster, trained.feature_names)
    report(f"exported to ONNX ({len(exported.onnx) / 1024:.0f} KiB)")
    return exported


def check_export_parity(trained: TrainedModel, exported: ExportedModel, features: np.ndarray) -> float:
    max_delta = check_parity(trained.booster, exported, features)
    report(f"parity check passed: max |Δp| {max_delta:.1e} over {len(features):,} test rows")
    return max_delta


def register_model(
    settings: TrainingSettings,
    request: RetrainRequest,
    dataset: Dataset,
    trained: TrainedModel,
    exported: ExportedModel,
    metrics: dict[str, Any],
) -> ModelRecord:
    fingerprint = dataset.fingerprint()
    data = {
        "source": request.data_description,
        "spec": request.source.spec,
        "rows": len(dataset),
        "seed": request.seed,
        "sha256": fingerprint,
    }
    with database.connect(settings.database_url) as conn:
        record = registry.register(
            conn,
            exported.onnx,
            thresholds=trained.thresholds,
            metrics={**metrics, "data": data},
            data_fingerprint=f"{request.data_description}:sha256={fingerprint}",
            feature_names=exported.feature_names,
        )
    report(f"registered {record.version} as a candidate")
    return record


def profile_training_data(
    settings: TrainingSettings, record: ModelRecord, trained: TrainedModel, dataset: Dataset, split: Split
) -> None:
    """Keep the model's training profile with it in the registry, for the drift check."""
    profile = training_profile(trained, dataset, split)
    with database.connect(settings.database_url) as conn:
        drift_store.keep_profile(conn, record.version, profile)
    report(
        f"profiled {len(profile.columns) - 1} features on {profile.rows:,} training rows"
        f" and the risk score on {len(split.test):,} test rows, for the drift check"
    )


def gate_and_promote(
    settings: TrainingSettings, request: RetrainRequest, record: ModelRecord
) -> tuple[GateResult, str | None]:
    """The gate's verdict on `record`, measured on the registry's holdout, and the champion afterwards."""
    with database.connect(settings.database_url) as conn:
        verdict = gate.on_holdout(conn, record, holdout.ensure(conn), margin=request.gate_margin)
        registry.record_gate(conn, verdict)
        report(verdict.explain())
        if verdict.passed and request.promote:
            registry.promote(
                conn, record.version, by=request.by, reason=request.reason or verdict.explain(), gate=verdict
            )
            report(f"promoted {record.version} to champion")
        elif verdict.passed:
            report(f"{record.version} stays a candidate: promotion was not asked for")
        else:
            report(f"{record.version} stays a candidate; the champion is unchanged")
        return verdict, registry.champion_version(conn)


def evaluate_version(
    version: str, source: Source, settings: TrainingSettings, *, rows: int, seed: int, run: Run = call
) -> dict[str, Any]:
    """Score every row of a labelled set with registered model `version` and measure it."""
    if source.kind == "gdrive":
        run(download_dataset, source, settings)
    dataset = run(load_dataset, source, rows, seed, settings)
    return run(score_with_version, version, dataset, settings, source.describe(rows=rows, seed=seed))


def score_with_version(version: str, dataset: Dataset, settings: TrainingSettings, described: str) -> dict[str, Any]:
    with database.connect(settings.database_url) as conn:
        record = registry.get(conn, version)
    if record is None:
        raise registry.UnknownModel(f"no model {version!r} in the registry")
    stored_targets = record.metrics.get("precision_targets")
    targets = PrecisionTargets(**stored_targets) if stored_targets else PrecisionTargets()
    metrics = evaluate(
        dataset.labels,
        OnnxModel(record).predict_table(dataset.features, dataset.feature_names),
        record.thresholds,
        targets,
        true_probability=dataset.true_probability,
    )
    report(f"{version} on {described}: {summary(metrics)}")
    return {**metrics, "version": version, "data": described, "thresholds": record.thresholds}


def summary(metrics: dict[str, Any]) -> str:
    """One line with the numbers that matter."""
    best = metrics.get("best_achievable_auprc")
    recall = metrics["recall_at_precision"]
    targets = metrics["precision_targets"]
    return (
        f"AUPRC {metrics['auprc']:.3f}"
        + (f" (best achievable {best:.3f})" if best is not None else "")
        + f", ROC-AUC {metrics['roc_auc']:.3f}, recall {recall['block']:.2f} at precision {targets['block']:g}"
        + f" and {recall['review']:.2f} at {targets['review']:g}"
    )
