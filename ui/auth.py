"""Who is asking: people log in with a name and password; programs call /api/ with an API key.

Every page needs a logged-in user. The session cookie (signed, HttpOnly,
SameSite=Lax, Secure when configured) carries only a random session token; the
database says whose it is, until when, and whether it was ended, so logging out
or disabling a user takes effect at once. Logging in starts from an empty
session, which also gives it a fresh CSRF token: a token from any other session,
or from before the login, is refused.

/api/ accepts either the session (the UI's own pages poll it) or
`Authorization: Bearer <key>` with the `read` scope: 401 without, 403 without
the scope. Failed logins are counted per name and per address from the audit log;
past the limit, logins are refused for a while without checking the password.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, Protocol, TypeVar

from flask import Blueprint, Flask, current_app, g, jsonify, redirect, render_template, request, session, url_for
from werkzeug.exceptions import Forbidden, Unauthorized
from werkzeug.wrappers import Response

from sentinel.core.api_keys import READ, Caller
from sentinel.core.errors import Unauthorized as KeyRefused
from sentinel.serving.callers import Callers, required
from sentinel.stores.api_keys import ApiKeyStore
from sentinel.stores.audit import AuditLog
from sentinel.stores.users import MAX_PASSWORD_LENGTH, User, UserStore
from ui.database import Database, database
from ui.params import safe_next

blueprint = Blueprint("auth", __name__)

FAILURE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_NAME = 10
MAX_FAILURES_PER_ADDRESS = 50
MAX_NAME_LENGTH = 64
# Reachable without logging in: the login page itself, stylesheets and scripts, the health probe.
PUBLIC_ENDPOINTS = frozenset({"auth.login", "auth.login_form", "static", "health.healthz"})

F = TypeVar("F", bound=Callable[..., Any])


class Accounts(Protocol):
    """See sentinel.stores.users.UserStore."""

    def authenticate(self, name: str, password: str) -> User | None: ...
    def start_session(self, user: User, lifetime: timedelta) -> str: ...
    def session_user(self, token: str) -> User | None: ...
    def end_session(self, token: str) -> None: ...
    def recent_failures(self, name: str, address: str, window: timedelta) -> tuple[int, int]: ...


class Audit(Protocol):
    """See sentinel.stores.audit.AuditLog."""

    def record(self, actor: str, action: str, subject: str, details: dict | None = None) -> None: ...


class _DatabaseKeys:
    """The API keys in the UI's own database, looked up through its pool (opened after gunicorn forks)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def caller(self, hashed: str) -> Caller | None:
        return ApiKeyStore(self._db.pool).caller(hashed)

    def close(self) -> None:
        """The pool belongs to the app's Database."""


def init_app(app: Flask, accounts: Accounts | None, audit: Audit | None, callers: Callers | None) -> None:
    """Require a login (or a key, for /api/) on every request; `None` means the app's own database."""
    app.extensions["sentinel.accounts"] = accounts
    app.extensions["sentinel.audit"] = audit
    app.extensions["sentinel.callers"] = callers or Callers(_DatabaseKeys(app.extensions["sentinel.database"]))
    app.before_request(_identify)
    app.context_processor(lambda: {"current_user": g.get("user")})


def accounts() -> Accounts:
    return current_app.extensions["sentinel.accounts"] or UserStore(database().pool)


def audit() -> Audit:
    return current_app.extensions["sentinel.audit"] or AuditLog(database().pool)


def current_user() -> User:
    return g.user


def admin_only(view: F) -> F:
    """Only for admins: 403 for everyone else."""

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if not g.user.is_admin:
            raise Forbidden("Only an admin can do this.")
        return view(*args, **kwargs)

    return guarded  # type: ignore[return-value]


def _identify() -> Response | None:
    g.user, g.caller = None, None
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    token = session.get("sid")
    if isinstance(token, str):
        g.user = accounts().session_user(token)
        if g.user is None:
            session.clear()  # ended, expired, or its user disabled
    if request.path.startswith("/api/") and (g.user is None or "Authorization" in request.headers):
        g.user = None  # a request that presents a key is judged by the key alone
        callers: Callers = current_app.extensions["sentinel.callers"]
        try:
            g.caller = required(callers.identify(request.headers.get("Authorization")), READ)
        except KeyRefused as refused:
            return _refused(refused)
        return None
    if g.user is not None:
        return None
    if request.path.startswith("/partials/"):
        raise Unauthorized("Log in first: your session has ended.")
    if request.method == "GET":
        return redirect(url_for("auth.login_form", next=request.full_path.rstrip("?")))
    raise Unauthorized("Log in first: your session has ended.")


def _refused(refused: KeyRefused) -> Response:
    response = jsonify(status=refused.status, error=refused.message)
    response.status_code = refused.status
    response.headers["WWW-Authenticate"] = refused.challenge
    return response


@blueprint.get("/login")
def login_form() -> str:
    return render_template("login.html", next=request.args.get("next", ""), name="")


@blueprint.post("/login")
def login() -> tuple[str, int] | tuple[str, int, dict[str, str]] | Response:
    name = request.form.get("name", "").strip()[:MAX_NAME_LENGTH]
    password = request.form.get("password", "")
    target = safe_next(request.form.get("next"), url_for("overview.index"))
    address = request.remote_addr or "unknown"
    by_name, by_address = accounts().recent_failures(name, address, FAILURE_WINDOW)
    if by_name >= MAX_FAILURES_PER_NAME or by_address >= MAX_FAILURES_PER_ADDRESS:
        page = render_template("login.html", next=target, name=name, throttled=True)
        return page, 429, {"Retry-After": str(int(FAILURE_WINDOW.total_seconds()))}
    plausible = name and 0 < len(password) <= MAX_PASSWORD_LENGTH
    user = accounts().authenticate(name, password) if plausible else None
    if user is None:
        audit().record(name or "-", "login.failed", name or "-", {"address": address})
        page = render_template("login.html", next=target, name=name, failed=True)
        return page, 401
    session.clear()  # nothing from before the login survives it: no fixation, a fresh CSRF token
    session["sid"] = accounts().start_session(user, _lifetime())
    session.permanent = True
    audit().record(user.name, "login", user.name, {"address": address})
    return redirect(target, code=303)


@blueprint.post("/logout")
def logout() -> Response:
    token = session.get("sid")
    if isinstance(token, str):
        accounts().end_session(token)
    session.clear()
    audit().record(current_user().name, "logout", current_user().name)
    return redirect(url_for("auth.login_form"), code=303)


def _lifetime() -> timedelta:
    return current_app.config["PERMANENT_SESSION_LIFETIME"]
