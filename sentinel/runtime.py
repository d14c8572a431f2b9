"""The lifecycle every Sentinel function follows, and its HTTP adapter.

Like Knative's Python functions, a function is an instance with `start`,
`handle`, `stop`, `ready` and `alive`. Resources (pools, clients, the ONNX
session) are built once per process by `start`, which runs on the first
request: functions-framework serves through gunicorn, which imports the module
in its master process and forks workers, so nothing may be opened at import.

`serve()` turns a function into the callable functions-framework registers:
it answers the health probes, starts the function on first use, and maps every
failure to a JSON answer — 4xx for input that can never succeed, 503 for a
dependency that is down (so KafkaSource retries), and never a traceback.
"""

from __future__ import annotations

import atexit
import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable

import flask
import psycopg
import psycopg_pool
import redis

from sentinel.config import Settings
from sentinel.errors import ClientError, Unavailable
from sentinel.wire import json_response

log = logging.getLogger(__name__)

READINESS_PATH = "/health/readiness"
LIVENESS_PATH = "/health/liveness"

# Failures that mean "a dependency is down, try again", by the dependency's name.
_DEPENDENCY_ERRORS: tuple[tuple[type[BaseException], str], ...] = (
    (psycopg.OperationalError, "PostgreSQL"),
    (psycopg_pool.PoolTimeout, "PostgreSQL"),
    (redis.ConnectionError, "Redis"),
    (redis.TimeoutError, "Redis"),
    (redis.exceptions.BusyLoadingError, "Redis"),
)


class Function(ABC):
    """One event function. Subclasses build their resources in `start`."""

    name: str = "function"

    def start(self, settings: Settings) -> None:
        """Build this process's resources."""

    def stop(self) -> None:
        """Release what `start` built."""

    def ready(self) -> str | None:
        """None when the function can serve events, else the reason it cannot."""
        return None

    def alive(self) -> bool:
        return True

    @abstractmethod
    def handle(self, request: flask.Request) -> flask.Response:
        """Answer one request carrying one or more CloudEvents."""


class _Lifecycle:
    """Starts a function once per process, on first use, and stops it at exit."""

    def __init__(self, function: Function, settings_factory: Callable[[], Settings]):
        self.function = function
        self._settings_factory = settings_factory
        self._lock = threading.Lock()
        self._started = False
        self._start_error: str | None = None

    def ensure_started(self) -> None:
        if self._started:
            return
        with self._lock:
            if self._started:
                return
            try:
                self.function.start(self._settings_factory())
            except Exception as error:  # reported by readiness, retried on the next request
                self._start_error = f"{type(error).__name__}: {error}"
                log.exception("%s failed to start", self.function.name)
                raise Unavailable(f"{self.function.name} is starting: {self._start_error}") from error
            self._started = True
            self._start_error = None
            atexit.register(self.function.stop)
            log.info("%s started", self.function.name)


def serve(
    function: Function, settings_factory: Callable[[], Settings] = Settings.from_env
) -> Callable[[flask.Request], flask.Response]:
    """The functions-framework HTTP entry point for `function`."""
    lifecycle = _Lifecycle(function, settings_factory)

    def handle(request: flask.Request) -> flask.Response:
        if request.method == "GET" and request.path == LIVENESS_PATH:
            alive = function.alive()
            return json_response({"alive": alive}, 200 if alive else 503)
        try:
            lifecycle.ensure_started()
            if request.method == "GET" and request.path == READINESS_PATH:
                reason = function.ready()
                return json_response({"ready": reason is None, "reason": reason}, 200 if reason is None else 503)
            if request.method != "POST":
                raise ClientError(f"{request.method} is not allowed here; POST a CloudEvent", status=405)
            return function.handle(request)
        except ClientError as error:
            return json_response(error.to_json(), error.status)
        except Unavailable as error:
            return json_response(error.to_json(), 503)
        except Exception as error:
            dependency = _dependency_of(error)
            if dependency:
                log.warning("%s: %s unavailable: %s", function.name, dependency, error)
                return json_response({"error": f"{dependency} is unavailable", "retryable": True}, 503)
            log.exception("%s failed on %s %s", function.name, request.method, request.path)
            return json_response({"error": f"internal error in {function.name}"}, 500)

    return handle


def _dependency_of(error: BaseException) -> str | None:
    for kind, name in _DEPENDENCY_ERRORS:
        if isinstance(error, kind):
            return name
    return None
