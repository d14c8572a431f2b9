"""The rules score applies beside the model: everyone sees them and may try one on recent traffic; admins
add, change, disable and enable them, as `sentinel rules` does, audited under their name.

A change is a new version in the `rules` table (sentinel.stores.rules); score processes
apply it within about a second. A rule that does not parse is a 400 naming what is wrong.
"""

from __future__ import annotations

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from werkzeug.exceptions import BadRequest, NotFound
from werkzeug.wrappers import Response

from sentinel.core import rules as rule_language
from sentinel.core.errors import ClientError
from sentinel.stores import rules as rule_store
from ui.auth import admin_only, current_user
from ui.database import database
from ui.params import Arguments

blueprint = Blueprint("rules", __name__)

TEST_LIMIT = 1000
CHANGES_SHOWN = 50
EXAMPLES = (
    ("Amount > 5000 and merchant_new_for_user", "review"),
    ('merchant_id in ["m-0042", "m-0117"]', "block"),
    ("user_count_10m >= 5 and Amount < 2", "block"),
    ('user_id == "u-trusted" and risk_score < 0.99', "allow"),
)


def _sorted_rules() -> tuple[list[rule_store.StoredRule], int]:
    stored, revision = rule_store.in_force(database().pool)
    return sorted(stored, key=lambda item: (not item.rule.enabled, item.rule.priority, item.rule.name)), revision


@blueprint.get("/rules")
def index() -> str:
    stored, revision = _sorted_rules()
    return render_template("rules/list.html", **_page(stored, revision))


@blueprint.get("/rules/test")
def test() -> str:
    """What a rule would do to the newest stored transactions, tried before every other rule; nothing is stored."""
    form = Arguments(request.args, ("expression", "action", "limit"))
    expression, action = form.raw("expression") or "", form.choice("action", rule_language.ACTIONS) or "review"
    limit = form.integer("limit", low=1, high=100_000, default=TEST_LIMIT)
    rule = _checked(name="tried", expression=expression, action=action, priority=0)
    tried = rule_store.tried_on_recent(database().pool, rule, limit=limit)
    stored, revision = _sorted_rules()
    result = {
        "expression": expression,
        "action": action,
        "transactions": len(tried),
        "matched": sum(item.matched for item in tried),
        "changed": [item for item in tried if item.would_decide != item.decision][:CHANGES_SHOWN],
        "changed_count": sum(item.would_decide != item.decision for item in tried),
    }
    return render_template("rules/list.html", **{**_page(stored, revision), "tried": result})


@blueprint.post("/rules")
@admin_only
def save() -> Response:
    form = Arguments(request.form, ("csrf_token", "name", "expression", "action", "priority", "description"))
    priority_text = form.raw("priority") or "100"
    try:
        priority = int(priority_text)
    except ValueError:
        raise BadRequest(f"priority: must be a whole number, got {priority_text!r}") from None
    rule = _checked(
        name=form.raw("name") or "",
        expression=form.raw("expression") or "",
        action=form.raw("action"),
        priority=priority,
        description=form.raw("description") or "",
    )
    saved = rule_store.save(database().pool, rule, by=current_user().name)
    flash(f"Rule {saved.name} v{saved.version} is in force; score applies it within seconds.", "success")
    return redirect(url_for(".index"), code=303)


@blueprint.post("/rules/<name>/disable")
@admin_only
def disable(name: str) -> Response:
    return _set_enabled(name, False)


@blueprint.post("/rules/<name>/enable")
@admin_only
def enable(name: str) -> Response:
    return _set_enabled(name, True)


@blueprint.get("/api/rules")
def api_list() -> Response:
    stored, revision = _sorted_rules()
    return jsonify(revision=revision, items=[_api_row(item) for item in stored])


def _set_enabled(name: str, enabled: bool) -> Response:
    Arguments(request.form, ("csrf_token",))
    try:
        rule = rule_store.set_enabled(database().pool, name, enabled, by=current_user().name)
    except rule_store.UnknownRule:
        raise NotFound(f"There is no rule named {name!r}.") from None
    flash(f"Rule {rule.name} is {'enabled' if enabled else 'disabled'} (v{rule.version}).", "success")
    return redirect(url_for(".index"), code=303)


def _checked(**fields: object) -> rule_language.Rule:
    try:
        return rule_language.checked(**fields)
    except ClientError as refused:
        raise BadRequest(f"The rule was not saved. {refused.summary()}") from None


def _page(stored: list[rule_store.StoredRule], revision: int) -> dict[str, object]:
    return {
        "rules": stored,
        "revision": revision,
        "actions": rule_language.ACTIONS,
        "variables": rule_language.VARIABLES,
        "text_variables": rule_language.TEXT_VARIABLES,
        "examples": EXAMPLES,
        "tried": None,
    }


def _api_row(item: rule_store.StoredRule) -> dict[str, object]:
    rule = item.rule
    return {
        "name": rule.name,
        "version": rule.version,
        "expression": rule.expression,
        "action": rule.action,
        "priority": rule.priority,
        "enabled": rule.enabled,
        "description": rule.description,
        "changed_by": item.changed_by,
        "changed_at": item.changed_at,
    }
