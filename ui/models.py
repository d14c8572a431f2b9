"""The model registry: every version with its metrics and status, which is champion, and the
history of promotions and rollbacks.

Read straight from the `models` and `promotions` tables that training writes and
score reads, without the ONNX bytes. Each version also shows when it last scored
a transaction, which one index lookup answers.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify, render_template, url_for
from werkzeug.wrappers import Response

from ui.database import Row, fetch_all, fetch_one
from ui.params import ID_PATTERN

blueprint = Blueprint("models", __name__)

COLUMNS = (
    "version, created_at, sha256, feature_names, thresholds, metrics, data_fingerprint,"
    " status, promoted_at, promoted_by, reason, octet_length(onnx) AS onnx_bytes,"
    " (SELECT max(scored_at) FROM transactions t WHERE t.model_version = models.version) AS last_scored_at"
)
PROMOTIONS_SHOWN = 50
# The metrics a list row shows, in this order, when the model has them.
HEADLINE_METRICS = (
    ("auprc", "AUPRC"),
    ("roc_auc", "ROC AUC"),
    ("recall_at_block_precision", "Recall at block precision"),
    ("trees", "Trees"),
)


def all_models() -> list[Row]:
    return fetch_all(f"SELECT {COLUMNS} FROM models ORDER BY created_at DESC, version DESC")


def get_model(version: str) -> Row | None:
    if not ID_PATTERN.fullmatch(version):
        return None
    return fetch_one(f"SELECT {COLUMNS} FROM models WHERE version = %s", (version,))


def promotions(version: str | None = None, limit: int = PROMOTIONS_SHOWN) -> list[Row]:
    """Changes of champion, latest first; only those that made or replaced `version` when given."""
    where = "WHERE version = %(version)s OR previous_version = %(version)s" if version else ""
    return fetch_all(
        "SELECT version, previous_version, action, forced, promoted_by, reason, gate, promoted_at"
        f" FROM promotions {where} ORDER BY id DESC LIMIT %(limit)s",
        {"version": version, "limit": limit},
    )


def flatten(metrics: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Nested metrics as (dotted name, value) pairs, for a table that shows them all."""
    pairs: list[tuple[str, Any]] = []
    for name, value in metrics.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict) and value:
            pairs.extend(flatten(value, f"{key}."))
        else:
            pairs.append((key, value))
    return pairs


@blueprint.get("/models")
def index() -> str:
    return render_template("models/list.html", models=all_models(), promotions=promotions(), headline=HEADLINE_METRICS)


@blueprint.get("/models/<version>")
def detail(version: str) -> str:
    model = get_model(version)
    if model is None:
        abort(404, f"There is no model {version!r} in the registry.")
    return render_template(
        "models/detail.html", model=model, metrics=flatten(model["metrics"]), promotions=promotions(version)
    )


@blueprint.get("/api/models")
def api_list() -> Response:
    return jsonify(items=[_api_row(model) for model in all_models()], promotions=promotions())


@blueprint.get("/api/models/<version>")
def api_detail(version: str) -> Response:
    model = get_model(version)
    if model is None:
        abort(404, f"There is no model {version!r} in the registry.")
    return jsonify(model=_api_row(model), promotions=promotions(version))


def _api_row(model: Row) -> Row:
    return {**model, "url": url_for(".detail", version=model["version"])}
