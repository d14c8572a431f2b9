"""A function behind functions-framework: HTTP in, decoded events to `handle`, its reply out.

    handle = http_handler(new)      # in functions/<name>/main.py; run with --target handle

The function is built by `new(settings)` and started on the first request, not at
import: functions-framework serves through gunicorn, which imports the module in its
master process and forks workers, so nothing may be opened before the fork. The
handler answers the health probes (GET /health/readiness, /health/liveness), reads
the events in any CloudEvents content mode, and turns every failure into a JSON
answer (sentinel.serving.failures), never a traceback. For a function that
identifies its callers, the API key is checked (sentinel.serving.callers) and the
function's `admit` consulted before the body is read, so a refusal costs little.
"""

from __future__ import annotations

import atexit
import logging
import threading
import uuid
from collections.abc import Callable

import flask
import functions_framework
import orjson

from sentinel.codec import http
from sentinel.codec.event import Event, json_document, json_event
from sentinel.config import Settings
from sentinel.core.errors import ClientError, Unavailable
from sentinel.serving.body import read_body
from sentinel.serving.callers import Callers
from sentinel.serving.failures import answer_for, headers_for
from sentinel.serving.function import Function, Reply
from sentinel.stores.api_keys import ApiKeyStore

log = logging.getLogger(__name__)

READINESS_PATH = "/health/readiness"
LIVENESS_PATH = "/health/liveness"
JSON = "application/json"

NewFunction = Callable[[Settings], Function]
NewCallers = Callable[[Settings, str], Callers]  # (settings, function name) -> who may call


def stored_callers(settings: Settings, function_name: str) -> Callers:
    """Callers identified by the API keys stored in PostgreSQL."""
    return Callers(ApiKeyStore.connect(settings.database_url, name=f"{function_name}-keys"))


class _Lifecycle:
    """Builds and starts the function once per process, on first use, and stops it at exit."""

    def __init__(self, new: NewFunction, settings: Callable[[], Settings], new_callers: NewCallers) -> None:
        self._new = new
        self._settings = settings
        self._new_callers = new_callers
        self._lock = threading.Lock()
        self.function: Function | None = None
        self.callers: Callers | None = None
        self.max_body_bytes = 0

    def started(self) -> Function:
        if self.function is not None:
            return self.function
        with self._lock:
            if self.function is None:
                self.function = self._start()
        return self.function

    def _start(self) -> Function:
        settings = self._settings()
        try:
            function = self._new(settings)
            function.start()
        except Exception as error:  # reported by readiness, tried again on the next request
            log.exception("the function failed to start")
            raise Unavailable(f"the function is starting: {type(error).__name__}: {error}") from error
        self.max_body_bytes = settings.max_body_bytes
        if function.identifies_callers:
            self.callers = self._new_callers(settings, function.name)
            atexit.register(self.callers.close)
        atexit.register(function.stop)
        log.info("%s started", function.name)
        return function


def http_handler(
    new: NewFunction,
    settings: Callable[[], Settings] = Settings.from_env,
    new_callers: NewCallers = stored_callers,
) -> Callable[[flask.Request], flask.Response]:
    """The functions-framework HTTP function for the function `new` builds, registered as such."""
    lifecycle = _Lifecycle(new, settings, new_callers)

    def handle(request: flask.Request) -> flask.Response:
        if request.method == "GET" and request.path == LIVENESS_PATH:
            alive = lifecycle.function is None or lifecycle.function.alive()
            return _json({"alive": alive}, 200 if alive else 503)
        function = lifecycle.function
        try:
            function = lifecycle.started()
            if request.method == "GET" and request.path == READINESS_PATH:
                reason = function.ready()
                return _json({"ready": reason is None, "reason": reason}, 200 if reason is None else 503)
            if request.method != "POST":
                raise ClientError(f"{request.method} is not allowed here; POST a CloudEvent", status=405)
            caller = lifecycle.callers.identify(request.headers.get("Authorization")) if lifecycle.callers else None
            function.admit(caller)
            events = _events(request, function, lifecycle.max_body_bytes)
            return _response(function.handle(events, caller))
        except Exception as error:
            status, body = answer_for(error, function.name if function else "the function")
            response = _json(body, status)
            response.headers.update(headers_for(error))
            return response

    return functions_framework.http(handle)


def _events(request: flask.Request, function: Function, max_bytes: int) -> list[Event]:
    body = read_body(request, max_bytes)
    plain_type = function.plain_json_paths.get(request.path)
    if plain_type is None:
        return http.read_events(request.headers, body)
    if (request.mimetype or "").lower() != JSON:
        raise ClientError(f"POST {request.path} takes {JSON}", status=415)
    document = json_document(body, "the body")
    return [json_event({"type": plain_type, "source": request.path, "id": uuid.uuid4().hex}, document)]


def _response(reply: Reply) -> flask.Response:
    if reply.events is None:
        return _json(reply.document, reply.status)
    headers, body = http.binary(reply.events[0]) if len(reply.events) == 1 else http.batch(reply.events)
    return flask.Response(body, status=reply.status, headers=headers)


def _json(document: object, status: int) -> flask.Response:
    return flask.Response(orjson.dumps(document), status=status, mimetype=JSON)
