"""What a flow run leaves in Prefect's UI: the metrics as tables and a short markdown summary."""

from __future__ import annotations

from typing import Any

from sentinel.core.drift import Report, reading
from training.pipeline import RetrainOutcome, summary


def metrics_table(metrics: dict[str, Any]) -> list[dict[str, str]]:
    """One row per headline metric."""
    rows = [
        ("AUPRC", metrics["auprc"]),
        ("best achievable AUPRC", metrics.get("best_achievable_auprc")),
        ("ROC-AUC", metrics["roc_auc"]),
        *(
            (f"recall at precision {metrics['precision_targets'][name]:g} ({name})", recall)
            for name, recall in metrics["recall_at_precision"].items()
        ),
        ("rows", metrics["rows"]),
        ("fraud rows", metrics["fraud"]),
    ]
    return [{"metric": name, "value": _format(value)} for name, value in rows if value is not None]


def confusion_table(metrics: dict[str, Any], thresholds: dict[str, float]) -> list[dict[str, str]]:
    """The outcome of each decision threshold: caught, missed, wrongly flagged."""
    return [
        {
            "threshold": f"{name} at {thresholds[name]:.4f}",
            **{key.replace("_", " "): _format(value) for key, value in outcome.items()},
        }
        for name, outcome in metrics["at_thresholds"].items()
    ]


def retrain_markdown(outcome: RetrainOutcome) -> str:
    metrics = outcome.metrics
    verdict = "promoted to champion" if outcome.promoted else f"not promoted; the champion is {outcome.champion}"
    return "\n".join(
        [
            f"# Retrained {outcome.version}: {verdict}",
            "",
            f"- data: {metrics['data']['source']} ({metrics['data']['rows']:,} rows)",
            f"- test split: {summary(metrics)}",
            f"- gate: {outcome.gate.explain()}",
            f"- ONNX parity: max |Δp| {metrics['parity_max_delta']:.1e}",
            f"- {metrics['trees']} trees trained in {metrics['training_seconds']:.1f}s",
            f"- the whole run took {outcome.seconds:.1f}s",
        ]
    )


def publish_retrain(outcome: RetrainOutcome) -> None:
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    create_table_artifact(metrics_table(outcome.metrics), key="retrain-metrics", description=f"{outcome.version}")
    create_table_artifact(
        confusion_table(outcome.metrics, outcome.thresholds), key="retrain-thresholds", description=f"{outcome.version}"
    )
    create_markdown_artifact(retrain_markdown(outcome), key="retrain-summary", description=f"{outcome.version}")


def publish_evaluation(metrics: dict[str, Any]) -> None:
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    title = f"{metrics['version']} on {metrics['data']}"
    create_table_artifact(metrics_table(metrics), key="evaluation-metrics", description=title)
    create_table_artifact(
        confusion_table(metrics, metrics["thresholds"]), key="evaluation-thresholds", description=title
    )
    create_markdown_artifact(f"# {title}\n\n{summary(metrics)}", key="evaluation-summary", description=title)


def drift_json(report: Report) -> dict[str, Any]:
    """A drift report as a flow run's result: what `sentinel drift` prints."""
    return {
        "checked_at": report.checked_at.isoformat() if report.checked_at else None,
        "champion_version": report.champion_version,
        "window_start": report.window_start.isoformat(),
        "window_end": report.window_end.isoformat(),
        "rows": report.rows,
        "status": report.status,
        "threshold": report.threshold,
        "alerting": report.alerting,
        "max_psi": report.max_psi,
        "psi": dict(report.ranked),
        "message": report.message,
    }


def drift_table(report: Report) -> list[dict[str, str]]:
    """One row per compared column, the most drifted first."""
    return [
        {
            "column": name,
            "PSI": f"{value:.4f}",
            "reading": reading(value),
            "alert": "yes" if value > report.threshold else "",
        }
        for name, value in report.ranked
    ]


def publish_drift(report: Report) -> None:
    from prefect.artifacts import create_markdown_artifact, create_table_artifact

    title = f"drift against {report.champion_version or 'no champion'}"
    if report.psi:
        create_table_artifact(drift_table(report), key="drift-psi", description=title)
    headline = "# Drift alert" if report.alerting else "# No drift alert"
    create_markdown_artifact(f"{headline}\n\n{report.message}", key="drift-summary", description=title)


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
