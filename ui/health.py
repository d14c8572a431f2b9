"""GET /healthz: 200 while the UI can reach PostgreSQL, else 503 with the reason (for `sentinel status`)."""

from __future__ import annotations

import psycopg
import psycopg_pool
from flask import Blueprint, jsonify
from werkzeug.wrappers import Response

from ui.database import database

blueprint = Blueprint("health", __name__)

PROBE_TIMEOUT_S = 2.0  # under the 3 s a `sentinel status` probe waits


@blueprint.get("/healthz")
def healthz() -> tuple[Response, int]:
    try:
        with database().connection(timeout=PROBE_TIMEOUT_S) as conn:
            conn.execute("SELECT 1")
    except (psycopg.Error, psycopg_pool.PoolTimeout) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return jsonify(healthy=False, reason=f"PostgreSQL does not answer: {reason}"), 503
    return jsonify(healthy=True), 200
