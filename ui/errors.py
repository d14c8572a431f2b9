"""Every failure answered as a page (or JSON under /api/) that says what happened; never a traceback."""

from __future__ import annotations

import logging

import psycopg
import psycopg_pool
from flask import Flask, Response, jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed, ServiceUnavailable

log = logging.getLogger(__name__)

TITLES = {
    400: "That request is not quite right",
    404: "Not found",
    405: "Not allowed here",
    409: "Already done",
    503: "Temporarily unavailable",
}


def init_app(app: Flask) -> None:
    app.register_error_handler(CSRFError, _csrf_failed)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(psycopg_pool.PoolTimeout, _database_unavailable)
    app.register_error_handler(psycopg.OperationalError, _database_unavailable)
    app.register_error_handler(Exception, _unexpected)
    app.after_request(_security_headers)


def answer(error: HTTPException) -> Response:
    status = error.code or 500
    reason = error.description or ""
    if request.path.startswith("/api/"):
        response = make_response(jsonify(status=status, error=reason), status)
    else:
        title = TITLES.get(status, error.name)
        response = make_response(render_template("error.html", status=status, title=title, reason=reason), status)
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


def _http_error(error: HTTPException) -> Response:
    return answer(error)


def _csrf_failed(error: CSRFError) -> Response:
    error.description = (
        f"The form could not be accepted ({error.description.rstrip('.').lower()}). Reload the page and try again."
    )
    return answer(error)


def _database_unavailable(error: Exception) -> Response:
    if isinstance(error, psycopg.errors.QueryCanceled):
        reason = "The database took too long to answer this request."
    else:
        reason = "The database is not reachable right now. Is the stack running (`sentinel status`)?"
    log.warning("%s %s: %s", request.method, request.path, error)
    return answer(ServiceUnavailable(reason))


def _unexpected(error: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.path)
    return answer(InternalServerError("Something went wrong on our side; the UI's log has the details."))


def _security_headers(response: Response) -> Response:
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none';"
        " form-action 'self'; frame-ancestors 'none'",
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response
