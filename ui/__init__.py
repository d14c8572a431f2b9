"""Sentinel's web UI: analysts browse scored transactions, work the alert queue,
label mistakes for retraining, and see the models and the pipeline.

    from ui import create_app
    app = create_app()          # Settings from the environment, as every Sentinel process
    app = create_app(settings, status=LocalStackStatus(settings),     # as `sentinel up` serves it
                     dead_letters=DeadLetterReader.of(servers, topology))

`python -m ui --port 18000` serves it with gunicorn (see ui.server). Every page
has a JSON twin under /api/; the page modules own both:

- overview: charts of decisions over time, the risk-score distribution and alert volume;
  drift: the drift checks over time and the notice while the latest alerts, shown on the overview
- transactions: the list with filters, sorting and live updates; the detail page; labels
- alerts: the review/block queue; acknowledge and close
- models: the registry's versions, metrics and promotions; the challenger in shadow beside the champion
- rules: the rules score applies beside the model; admins change them
- pipeline: every component and what it has done, from the PipelineStatus the app is given
- dead letters: the events no function could take, and why, from the DeadLetterSource the app is given
- auth: login and logout; every page needs a user, /api/ a user or an API key with the read scope
- admin: users and the audit log, for admins
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from sentinel.config import Settings
from sentinel.serving.callers import Callers
from ui import (
    admin,
    alerts,
    auth,
    database,
    drift,
    errors,
    formatting,
    health,
    models,
    overview,
    pipeline,
    rules,
    signing,
    transactions,
)
from ui import dead_letters as dead_letter_page
from ui.dead_letters import DeadLetterSource, NoDeadLetterSource
from ui.pipeline import NoPipelineStatus, PipelineStatus

__all__ = ["create_app"]


def create_app(
    settings: Settings | None = None,
    status: PipelineStatus | None = None,
    dead_letters: DeadLetterSource | None = None,
    *,
    accounts: auth.Accounts | None = None,
    audit: auth.Audit | None = None,
    callers: Callers | None = None,
) -> Flask:
    """Build the UI for the database `settings` name (by default, the environment's), the
    pipeline `status` reports on (by default none: the Pipeline page then says so), and the
    `dead_letters` it lists (by default none: the Dead letters page then says where to read them).

    Users and their sessions (`accounts`), the `audit` log and the API keys' `callers` are
    by default those in that database; tests may pass others."""
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=signing.secret_key(settings.state_dir),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.ui_secure_cookies,
        SESSION_COOKIE_NAME="sentinel_session",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.ui_session_hours),
        WTF_CSRF_TIME_LIMIT=None,  # a token lives as long as its session, which expires
    )
    app.extensions["sentinel.settings"] = settings
    app.json = formatting.JSONProvider(app)
    database.init_app(app, settings.database_url)
    auth.init_app(app, accounts, audit, callers)  # before CSRF: a stranger is told to log in first
    CSRFProtect(app)
    formatting.init_app(app)
    errors.init_app(app)
    pipeline.init_app(app, status or NoPipelineStatus())
    dead_letter_page.init_app(app, dead_letters or NoDeadLetterSource())
    for blueprint in (
        overview.blueprint,
        drift.blueprint,
        transactions.blueprint,
        alerts.blueprint,
        models.blueprint,
        rules.blueprint,
        pipeline.blueprint,
        dead_letter_page.blueprint,
        health.blueprint,
        auth.blueprint,
        admin.blueprint,
    ):
        app.register_blueprint(blueprint)
    return app
