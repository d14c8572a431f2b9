"""The function lifecycle and how every outcome becomes an HTTP answer."""

import flask
import psycopg
import pytest

from sentinel.config import Settings
from sentinel.errors import ClientError, Unavailable
from sentinel.runtime import Function, serve

app = flask.Flask(__name__)


class Scripted(Function):
    name = "scripted"

    def __init__(self, outcome=None, start_error=None):
        self.outcome = outcome
        self.start_error = start_error
        self.starts = 0

    def start(self, settings):
        self.starts += 1
        if self.start_error:
            raise self.start_error

    def ready(self):
        return None

    def handle(self, request):
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return flask.Response("ok", 200)


class Served:
    """A function behind its HTTP adapter, as functions-framework would call it."""

    def __init__(self, function):
        self.function = function
        self.handler = serve(function, settings_factory=Settings.from_env)

    def call(self, path="/", method="POST"):
        with app.test_request_context(path, method=method):
            response = self.handler(flask.request)
        return response.status_code, response.get_json(silent=True)


def call(function, path="/", method="POST"):
    return Served(function).call(path, method)


def test_a_function_starts_once_on_first_use():
    served = Served(Scripted())
    served.call()
    served.call()
    assert served.function.starts == 1


def test_a_client_error_becomes_its_status_with_a_json_reason():
    status, body = call(Scripted(ClientError("bad field", status=422)))
    assert (status, body["error"]) == (422, "bad field")


def test_an_unavailable_dependency_is_503_and_retryable():
    status, body = call(Scripted(Unavailable("Redis is down")))
    assert status == 503 and body["retryable"] is True


def test_a_database_error_is_mapped_to_503():
    status, body = call(Scripted(psycopg.OperationalError("connection refused")))
    assert status == 503 and "PostgreSQL" in body["error"]


def test_an_unexpected_error_is_500_without_a_traceback():
    status, body = call(Scripted(KeyError("secret internals")))
    assert status == 500 and "secret" not in str(body) and "Traceback" not in str(body)


def test_a_failed_start_is_503_and_retried_on_the_next_request():
    served = Served(Scripted(start_error=RuntimeError("no database")))
    assert served.call()[0] == 503
    served.function.start_error = None
    assert served.call()[0] == 200
    assert served.function.starts == 2


def test_readiness_reports_ready():
    assert call(Scripted(), "/health/readiness", "GET") == (200, {"ready": True, "reason": None})


def test_liveness_does_not_start_the_function():
    function = Scripted()
    assert call(function, "/health/liveness", "GET")[0] == 200
    assert function.starts == 0


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_only_post_carries_events(method):
    assert call(Scripted(), "/", method)[0] == 405
