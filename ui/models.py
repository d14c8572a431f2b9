"""The model registry: every version with its metrics and status, which is champion, the
history of promotions and rollbacks, and the challenger in shadow beside the champion.

The comparison of champion and challenger reads the would-be decisions score recorded
(sentinel.stores.shadow); promoting the challenger from there goes through the gate.

Read straight from the `models` and `promotions` tables that training writes and
score reads, without the ONNX bytes. Each version also shows when it last scored
a transaction, which one index lookup answers.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from werkzeug.exceptions import Conflict
from werkzeug.wrappers import Response

from sentinel.core.promotion import GateResult
from sentinel.stores import registry, shadow
from ui.auth import admin_only, current_user
from ui.database import Row, database, fetch_all, fetch_one
from ui.params import ID_PATTERN, Arguments

blueprint = Blueprint("models", __name__)

COLUMNS = (
    "version, created_at, sha256, feature_names, thresholds, metrics, data_fingerprint,"
    " status, shadow, promoted_at, promoted_by, reason, octet_length(onnx) AS onnx_bytes,"
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
    listed = all_models()
    challenger = next((model["version"] for model in listed if model["shadow"]), None)
    return render_template(
        "models/list.html",
        models=listed,
        promotions=promotions(),
        headline=HEADLINE_METRICS,
        comparison=shadow.compare(database().pool, challenger) if challenger else None,
    )


@blueprint.get("/models/<version>")
def detail(version: str) -> str:
    model = get_model(version)
    if model is None:
        abort(404, f"There is no model {version!r} in the registry.")
    comparison = shadow.compare(database().pool, version)
    return render_template(
        "models/detail.html",
        model=model,
        metrics=flatten(model["metrics"]),
        promotions=promotions(version),
        comparison=comparison if model["shadow"] or comparison.decisions else None,
    )


def recorded_gate(model: Row) -> GateResult | None:
    """The gate verdict `sentinel models promote` or retraining recorded for this model, if any."""
    stored = model["metrics"].get("gate")
    names = [field.name for field in fields(GateResult)]
    if not isinstance(stored, dict) or not all(name in stored for name in names):
        return None
    try:
        return GateResult(**{name: stored[name] for name in names})
    except (TypeError, ValueError):  # a verdict this version of the gate would not give
        return None


@blueprint.post("/models/<version>/promote")
@admin_only
def promote(version: str) -> Response:
    """Make `version` champion on the strength of its recorded gate; a model without one is promoted by the CLI."""
    model = get_model(version)
    if model is None:
        abort(404, f"There is no model {version!r} in the registry.")
    reason = _reason()
    gate = recorded_gate(model)
    has_champion = fetch_one("SELECT 1 AS yes FROM models WHERE status = 'champion'") is not None
    if gate is None and has_champion:
        raise Conflict(f"{version} has no gate verdict on record; measure it with `sentinel models promote {version}`.")
    try:
        registry.promote(database().pool, version, by=current_user().name, reason=reason or _explain(gate), gate=gate)
    except registry.GateRejected as refusal:
        raise Conflict(str(refusal)) from None
    flash(f"{version} is the champion now.", "success")
    return redirect(url_for(".detail", version=version), code=303)


@blueprint.post("/models/rollback")
@admin_only
def rollback() -> Response:
    try:
        champion = registry.rollback(
            database().pool, by=current_user().name, reason=_reason() or "rolled back in the UI"
        )
    except registry.NothingToRollBack as refusal:
        raise Conflict(str(refusal)) from None
    flash(f"{champion.version} is the champion again.", "success")
    return redirect(url_for(".index"), code=303)


@blueprint.post("/models/<version>/shadow")
@admin_only
def put_in_shadow(version: str) -> Response:
    """Score evaluates `version` beside the champion on every event, and records what it would decide."""
    Arguments(request.form, ("csrf_token",))
    if get_model(version) is None:
        abort(404, f"There is no model {version!r} in the registry.")
    try:
        replaced = registry.put_in_shadow(database().pool, version, by=current_user().name)
    except ValueError as refusal:
        raise Conflict(str(refusal)) from None
    instead = f" instead of {replaced}" if replaced and replaced != version else ""
    flash(f"{version} runs in shadow{instead}: its would-be decisions are recorded from the next events.", "success")
    return redirect(url_for(".detail", version=version), code=303)


@blueprint.post("/models/shadow/stop")
@admin_only
def end_shadow() -> Response:
    Arguments(request.form, ("csrf_token",))
    ended = registry.end_shadow(database().pool, by=current_user().name)
    flash(f"{ended} is out of shadow." if ended else "No model was in shadow.", "success")
    return redirect(url_for(".index"), code=303)


def _reason() -> str | None:
    return Arguments(request.form, ("csrf_token", "reason")).text("reason", max_length=500)


def _explain(gate: GateResult | None) -> str:
    return gate.explain() if gate else "promoted in the UI"


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
