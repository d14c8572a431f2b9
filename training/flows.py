"""The Prefect flows `retrain`, `evaluate` and `drift`, made of the pipeline's steps run as Prefect tasks.

Run them from `sentinel retrain` / `sentinel models evaluate` / `sentinel drift` (Prefect's ephemeral
API unless PREFECT_API_URL is set), from the Prefect UI when `sentinel up
--with-prefect` serves them, or as plain functions. Call
training.prefect_env.configure before this module is first imported.

Every task skips Prefect's caching and result storage: the steps pass numpy
arrays and boosters that are cheap to recompute and pointless to hash or store.
Only the download is retried, with backoff; any other failure is one a retry
cannot fix.

Anyone who can reach Prefect's API chooses these parameters, so each is checked
before any data is read (training.parameters, training.loader); who promotes is
not a parameter but the caller (training.caller).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from training import artifacts, caller, pipeline
from training import drift as drift_check
from training.loader import Source
from training.parameters import checked_reason, checked_rows, checked_seed
from training.settings import TrainingSettings
from training.train import PrecisionTargets

DOWNLOAD_RETRIES = 3
DOWNLOAD_RETRY_DELAYS = [2, 10, 30]

_STEPS: dict[Callable[..., Any], Any] = {
    step: task(step, name=name, cache_policy=NO_CACHE, persist_result=False)
    for step, name in (
        (pipeline.load_dataset, "load"),
        (pipeline.validate_dataset, "validate"),
        (pipeline.train_model, "train"),
        (pipeline.evaluate_model, "evaluate"),
        (pipeline.export_model, "export"),
        (pipeline.check_export_parity, "parity"),
        (pipeline.register_model, "register"),
        (pipeline.profile_training_data, "profile"),
        (pipeline.gate_and_promote, "gate-and-promote"),
        (pipeline.score_with_version, "score"),
        (drift_check.champion_profile, "champion-profile"),
        (drift_check.read_traffic, "read-traffic"),
        (drift_check.compare_traffic, "compare"),
        (drift_check.store_report, "store-report"),
    )
}
_STEPS[pipeline.download_dataset] = task(
    pipeline.download_dataset,
    name="download",
    retries=DOWNLOAD_RETRIES,
    retry_delay_seconds=DOWNLOAD_RETRY_DELAYS,
    cache_policy=NO_CACHE,
    persist_result=False,
)


def as_task(step: Callable[..., Any], *args: Any) -> Any:
    """Run a pipeline step as its Prefect task."""
    return _STEPS[step](*args)


@flow(name="retrain", description="Train, check and register a candidate model; promote it if the gate lets it.")
def retrain(
    source: str = "synthetic",
    rows: int | None = None,
    seed: int | None = None,
    review_precision: float | None = None,
    block_precision: float | None = None,
    gate_margin: float | None = None,
    promote: bool = True,
    reason: str = "",
    behaviour: bool = True,
) -> dict[str, Any]:
    """Unset parameters take their defaults from the environment (training.settings)."""
    settings = TrainingSettings.from_env()
    request = pipeline.RetrainRequest(
        source=Source.parse(source, settings),
        rows=checked_rows(rows or settings.synthetic_rows),
        seed=checked_seed(settings.seed if seed is None else seed),
        targets=PrecisionTargets(
            review=review_precision or settings.review_precision, block=block_precision or settings.block_precision
        ),
        gate_margin=settings.gate_margin if gate_margin is None else gate_margin,
        by=caller.promoter(),
        reason=checked_reason(reason),
        promote=promote,
        behaviour=behaviour,
    )
    outcome = pipeline.retrain(request, settings, run=as_task)
    artifacts.publish_retrain(outcome)
    return outcome.to_json()


@flow(name="evaluate", description="Score a labelled set with a registered model version and measure it.")
def evaluate(
    version: str, source: str = "synthetic", rows: int | None = None, seed: int | None = None
) -> dict[str, Any]:
    """Synthetic data is drawn with pipeline.FRESH_SEED unless `seed` is given: not the rows training saw."""
    settings = TrainingSettings.from_env()
    metrics = pipeline.evaluate_version(
        version,
        Source.parse(source, settings),
        settings,
        rows=checked_rows(rows or settings.synthetic_rows),
        seed=checked_seed(pipeline.FRESH_SEED if seed is None else seed),
        run=as_task,
    )
    artifacts.publish_evaluation(metrics)
    return metrics


@flow(name="drift", description="Compare recent traffic with the champion's training data; alert on drift.")
def drift(window_hours: float | None = None, threshold: float | None = None) -> dict[str, Any]:
    """The population stability index of every feature and of the risk score; unset parameters from
    the environment (SENTINEL_DRIFT_WINDOW_HOURS, SENTINEL_DRIFT_THRESHOLD)."""
    settings = TrainingSettings.from_env()
    request = drift_check.DriftRequest.from_settings(settings, window_hours=window_hours, threshold=threshold)
    report = drift_check.check_drift(request, settings, run=as_task)
    artifacts.publish_drift(report)
    return artifacts.drift_json(report)
