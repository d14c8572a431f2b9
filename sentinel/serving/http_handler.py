"""A function behind functions-framework's ASGI mode: HTTP in, decoded events to `handle`, its reply out.

    handle = http_handler(new)      # in functions/<name>/main.py
    functions-framework --target handle --source functions/<name>/main.py --asgi

The function is built by `new(settings)` and started on the first request, not at
import: functions-framework serves through gunicorn, which imports the module in its
master process and forks a worker, so nothing may be opened before the fork.

One event loop reads every request; the function's own code, which blocks (PostgreSQL,
Redis, the broker, ONNX), runs in threads. Nothing keeps a refusal waiting behind
accepted work: a function shedding load says so on the loop (`refuse_if_overloaded`,
from memory), `admit` (the API key and its rate: in memory nearly always) and the
readiness check run in a small gate pool, and only admitted requests reach the pool
that decodes their events and calls `handle` (SENTINEL_FUNCTION_THREADS threads).
A request with no key (every delivery from a KafkaSource) has nothing to look up, so
the loop admits or refuses it itself, one hand-off to a thread fewer.
The loop answers the liveness probe itself, reads the body (up to the size limit)
without holding a thread, and turns every failure into a JSON answer
(sentinel.serving.failures), never a traceback. GET /metrics answers the server's
metrics (sentinel.serving.metrics). `handle` runs in a span of the trace the request
continues, so the events it makes carry that trace on (sentinel.serving.tracing).
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import threading
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import orjson
from functions_framework import aio
from opentelemetry.trace import SpanKind
from starlette.requests import Request
from starlette.responses import Response

from sentinel.codec import http
from sentinel.codec.event import Event, json_document, json_event
from sentinel.config import Settings
from sentinel.core.api_keys import Caller
from sentinel.core.errors import ClientError, Unavailable
from sentinel.serving import tracing
from sentinel.serving.body import read_streamed_body
from sentinel.serving.callers import Callers
from sentinel.serving.failures import answer_for, headers_for
from sentinel.serving.function import Function, Reply
from sentinel.serving.metrics import measured
from sentinel.stores.api_keys import ApiKeyStore

log = logging.getLogger(__name__)

READINESS_PATH = "/health/readiness"
LIVENESS_PATH = "/health/liveness"
JSON = "application/json"
GATE_THREADS = 2  # admit and readiness: in memory nearly always, so two threads keep up with the loop

NewFunction = Callable[[Settings], Function]
NewCallers = Callable[[Settings, str], Callers]  # (settings, function name) -> who may call
Handler = Callable[[Request], Awaitable[Response]]
T = TypeVar("T")


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
        self.gate = ThreadPoolExecutor(GATE_THREADS, thread_name_prefix="gate")
        self.work: ThreadPoolExecutor | None = None

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
        tracing.start(function.name)
        self.max_body_bytes = settings.max_body_bytes
        self.work = ThreadPoolExecutor(settings.function_threads, thread_name_prefix=function.name)
        if function.identifies_callers:
            self.callers = self._new_callers(settings, function.name)
            atexit.register(self.callers.close)
        atexit.register(function.stop)
        log.info("%s started", function.name)
        return function

    def function_name(self) -> str | None:
        return self.function.name if self.function else None

    def identify(self, authorization: str | None) -> Caller | None:
        return self.callers.identify(authorization) if self.callers else None


async def _in(pool: ThreadPoolExecutor, call: Callable[..., T], *args: object) -> T:
    return await asyncio.get_running_loop().run_in_executor(pool, call, *args)


def http_handler(
    new: NewFunction,
    settings: Callable[[], Settings] = Settings.from_env,
    new_callers: NewCallers = stored_callers,
) -> Handler:
    """The functions-framework ASGI HTTP function for the function `new` builds, registered as such."""
    lifecycle = _Lifecycle(new, settings, new_callers)

    def admitted(function: Function, authorization: str | None) -> Caller | None:
        caller = lifecycle.identify(authorization)
        function.admit(caller)
        return caller

    def handled(function: Function, request: Request, body: bytes, caller: Caller | None) -> Response:
        events = _events(request, function, body)
        parent = tracing.continued(request.headers, events)
        with tracing.span(function.name, parent, SpanKind.SERVER, tracing.event_attributes(events)) as span:
            response = _response(function.handle(events, caller))
            span.set_attribute(tracing.STATUS_CODE, response.status_code)
            return response

    async def handle(request: Request) -> Response:
        if request.method == "GET" and request.url.path == LIVENESS_PATH:
            alive = lifecycle.function is None or lifecycle.function.alive()
            return _json({"alive": alive}, 200 if alive else 503)
        function = lifecycle.function
        try:
            function = function or await _in(lifecycle.gate, lifecycle.started)
            if request.method == "GET" and request.url.path == READINESS_PATH:
                reason = await _in(lifecycle.gate, function.ready)
                return _json({"ready": reason is None, "reason": reason}, 200 if reason is None else 503)
            if request.method != "POST":
                raise ClientError(f"{request.method} is not allowed here; POST a CloudEvent", status=405)
            function.refuse_if_overloaded()
            authorization = request.headers.get("Authorization")
            if authorization is None:  # no key to look up: admitted or refused from memory, on the loop
                caller = None
                function.admit(caller)
            else:
                caller = await _in(lifecycle.gate, admitted, function, authorization)
            body = await read_streamed_body(request.headers, request.stream(), lifecycle.max_body_bytes)
            assert lifecycle.work is not None  # made when the function started
            return await _in(lifecycle.work, handled, function, request, body, caller)
        except Exception as error:
            status, answer = answer_for(error, function.name if function else "the function")
            return _json(answer, status, headers_for(error))

    return aio.http(measured(handle, lifecycle.function_name, probes=(READINESS_PATH, LIVENESS_PATH)))


def _events(request: Request, function: Function, body: bytes) -> list[Event]:
    plain_type = function.plain_json_paths.get(request.url.path)
    if plain_type is None:
        return http.read_events(request.headers, body)
    media_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if media_type != JSON:
        raise ClientError(f"POST {request.url.path} takes {JSON}", status=415)
    document = json_document(body, "the body")
    return [json_event({"type": plain_type, "source": request.url.path, "id": uuid.uuid4().hex}, document)]


def _response(reply: Reply) -> Response:
    if reply.events is None:
        return _json(reply.document, reply.status)
    headers, body = http.binary(reply.events[0]) if len(reply.events) == 1 else http.batch(reply.events)
    return Response(body, status_code=reply.status, headers=headers)


def _json(document: object, status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(document), status_code=status, headers=headers, media_type=JSON)
