"""Admins only: the people who may log in, and the audit log of who did what.

Adding and disabling users here does what `sentinel users add` and `sentinel users
disable` do, audited under the admin's name. Disabling ends the user's sessions
at once. Nobody can disable themselves, so there is always an admin left to log in.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.exceptions import BadRequest, Conflict, NotFound
from werkzeug.wrappers import Response

from sentinel.core.errors import ClientError
from sentinel.stores.audit import AuditLog
from sentinel.stores.users import ROLES, UserStore
from ui.auth import admin_only, current_user
from ui.database import database
from ui.params import Arguments

blueprint = Blueprint("admin", __name__)

AUDIT_PAGE_SIZE = 100


def _users() -> UserStore:
    return UserStore(database().pool)


@blueprint.get("/admin/users")
@admin_only
def users() -> str:
    return render_template("admin/users.html", users=_users().users(), roles=ROLES)


@blueprint.post("/admin/users")
@admin_only
def add_user() -> Response:
    form = Arguments(request.form, ("csrf_token", "name", "role", "password"))
    name, role = form.raw("name"), form.choice("role", ROLES)
    password = request.form.get("password", "")
    if name is None or role is None:
        raise BadRequest("name and role are required")
    try:
        _users().add(name, password, role, by=current_user().name)
    except ClientError as refused:
        raise (Conflict if refused.status == 409 else BadRequest)(refused.message) from None
    flash(f"Added {name} ({role}).", "success")
    return redirect(url_for(".users"), code=303)


@blueprint.post("/admin/users/<name>/disable")
@admin_only
def disable_user(name: str) -> Response:
    Arguments(request.form, ("csrf_token",))
    if name == current_user().name:
        raise Conflict("You cannot disable yourself; ask another admin.")
    if not _users().disable(name, by=current_user().name):
        raise NotFound(f"There is no enabled user {name!r}.")
    flash(f"Disabled {name}; their sessions have ended.", "success")
    return redirect(url_for(".users"), code=303)


@blueprint.get("/audit")
@admin_only
def audit() -> str:
    arguments = Arguments(request.args, ("actor", "action", "before"))
    before = arguments.integer("before", low=1, high=999_999_999, default=0) or None
    actor, action = arguments.raw("actor"), arguments.raw("action")
    entries = AuditLog(database().pool).entries(limit=AUDIT_PAGE_SIZE, before_id=before, actor=actor, action=action)
    older = None
    if len(entries) == AUDIT_PAGE_SIZE:
        filters = {name: value for name, value in (("actor", actor), ("action", action)) if value}
        older = url_for(".audit", before=entries[-1].id, **filters)
    return render_template("admin/audit.html", entries=entries, actor=actor, action=action, older=older)
