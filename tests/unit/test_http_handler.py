"""A function behind its functions-framework adapter: lifecycle, content modes, and every outcome as an answer."""

import dataclasses
import json
import threading

import flask
import functions_framework
import psycopg
import pytest
from cloudevents.conversion import to_binary, to_structured
from cloudevents.http import CloudEvent
from support import KnownKeys, asgi_client, bearer

from sentinel.codec.event import json_event
from sentinel.config import PROJECT_ROOT, Settings
from sentinel.core.errors import ClientError, Unavailable
from sentinel.serving.callers import Callers, required
from sentinel.serving.function import Function, Reply
from sentinel.serving.http_handler import http_handler


class Scripted(Function):
    """Answers as scripted: an error to raise, or an echo of the events' data."""

    name = "scripted"
    accepts = ("t",)
    plain_json_paths = {"/plain": "t"}

    def __init__(self, outcome=None):
        self.outcome = outcome
        self.starts = 0
        self.handled = []

    def start(self):
        self.starts += 1

    def handle(self, events, caller=None):
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        self.handled.append(list(events))
        if self.outcome == "events":
            return Reply.of_events(
                [json_event({"id": e.id, "source": "/s", "type": "u"}, self.data_of(e)) for e in events]
            )
        return Reply.of_document({"data": [self.data_of(event) for event in events]}, 202)


class Gated(Scripted):
    """Identifies its callers; admits only a caller holding "ingest", and remembers who handled what."""

    identifies_callers = True

    def __init__(self):
        super().__init__()
        self.callers = []

    def admit(self, caller):
        required(caller, "ingest")

    def handle(self, events, caller=None):
        self.callers.append(caller)
        return super().handle(events, caller)


KEY = "sentinel_test-key"
CALLERS = Callers(KnownKeys({KEY: ("ingest",)}))


class Served:
    """A function behind its HTTP adapter, as functions-framework would call it."""

    def __init__(self, function=None, build_error=None, settings=None):
        self.function = function or Scripted()
        self.builds = 0
        self.build_error = build_error

        def new(settings):
            self.builds += 1
            if self.build_error:
                raise self.build_error
            return self.function

        self.client = asgi_client(
            http_handler(
                new, settings=lambda: settings or Settings.from_env(), new_callers=lambda _settings, _name: CALLERS
            )
        )

    def call(self, path="/", method="POST", **request):
        return self.client.request(method, path, **request)

    def post(self, event, path="/", key=None):
        headers, body = to_binary(event)
        return self.call(path, content=body, headers={**headers, **bearer(key)})


def an_event(**data):
    return CloudEvent({"type": "t", "source": "/tests", "id": "e-1"}, data or {"a": 1})


def test_a_function_that_identifies_callers_gets_the_caller_of_a_valid_key():
    served = Served(Gated())
    assert served.post(an_event(), key=KEY).status_code == 202
    assert served.function.callers[0].name == "caller-0"


def test_a_bad_key_is_refused_with_401_before_the_function_sees_the_request():
    served = Served(Gated())
    response = served.post(an_event(), key="sentinel_made-up")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert served.function.handled == []


def test_admit_refuses_before_the_body_is_read():
    """An oversized body without a key is a 401, not a 413: the body was never read."""
    served = Served(Gated())
    response = served.call(content=b" " * (2 * 1024 * 1024), headers={"Content-Type": "application/json"})
    assert response.status_code == 401


class AdmittingOnAnyThread(Gated):
    """Admits everyone, and notes the thread each admission ran on."""

    def __init__(self):
        super().__init__()
        self.admitted_on = []

    def admit(self, caller):
        self.admitted_on.append(threading.current_thread().name)


def test_a_request_without_a_key_is_admitted_on_the_event_loop_and_one_with_a_key_in_the_gate_pool():
    """A delivery from a KafkaSource carries no key: nothing to look up, so no hand-off to a thread for it."""
    served = Served(AdmittingOnAnyThread())
    served.post(an_event())
    served.post(an_event(), key=KEY)
    without_key, with_key = served.function.admitted_on
    assert not without_key.startswith("gate")
    assert with_key.startswith("gate")


class Shedding(Gated):
    """Sheds load: every request is refused before anything else."""

    def refuse_if_overloaded(self):
        raise Unavailable("the pipeline is behind", retry_after=1)


def test_a_function_shedding_load_refuses_with_503_before_the_key_is_checked():
    served = Served(Shedding())
    response = served.post(an_event(), key="sentinel_made-up")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert served.function.handled == []


def test_a_function_that_does_not_identify_callers_ignores_authorization():
    served = Served()
    assert served.post(an_event(), key="sentinel_made-up").status_code == 202


def test_the_function_is_built_and_started_once_on_first_use():
    served = Served()
    served.post(an_event())
    served.post(an_event())
    assert (served.builds, served.function.starts) == (1, 1)


def test_a_failed_start_is_503_and_tried_again_on_the_next_request():
    served = Served(build_error=RuntimeError("no database"))
    assert served.post(an_event()).status_code == 503
    served.build_error = None
    assert served.post(an_event()).status_code == 202
    assert served.builds == 2


def test_binary_structured_and_batched_requests_reach_handle_as_events():
    served = Served()
    served.post(an_event(n=1))
    headers, body = to_structured(an_event(n=2))
    served.call(content=body, headers=headers)
    batch = json.dumps([json.loads(to_structured(an_event(n=n))[1]) for n in (3, 4)])
    served.call(content=batch, headers={"Content-Type": "application/cloudevents-batch+json"})
    assert [[event.json()["n"] for event in events] for events in served.function.handled] == [[1], [2], [3, 4]]


def test_a_plain_json_body_on_a_declared_path_is_one_event_of_its_type():
    served = Served()
    response = served.call("/plain", json={"a": 7})
    assert response.status_code == 202 and response.json() == {"data": [{"a": 7}]}


def test_a_plain_body_that_is_not_json_is_415_on_a_declared_path():
    assert Served().call("/plain", content="a,b", headers={"Content-Type": "text/csv"}).status_code == 415


def test_one_event_replied_is_sent_in_binary_mode():
    response = Served(Scripted("events")).post(an_event(a=2))
    assert response.headers["ce-type"] == "u" and json.loads(response.content) == {"a": 2}


def test_several_events_replied_are_sent_as_a_batch():
    batch = json.dumps([json.loads(to_structured(an_event(n=n))[1]) for n in (1, 2)])
    response = Served(Scripted("events")).call(
        content=batch, headers={"Content-Type": "application/cloudevents-batch+json"}
    )
    assert response.headers["content-type"] == "application/cloudevents-batch+json"
    assert [item["data"]["n"] for item in json.loads(response.content)] == [1, 2]


def test_an_event_of_a_type_the_function_does_not_take_is_400_naming_the_types():
    response = Served().post(CloudEvent({"type": "other", "source": "/t", "id": "1"}, {"a": 1}))
    assert response.status_code == 400 and "scripted takes t" in response.json()["error"]


def test_a_client_error_becomes_its_status_with_a_json_reason():
    response = Served(Scripted(ClientError("bad field", status=422))).post(an_event())
    assert (response.status_code, response.json()["error"]) == (422, "bad field")


def test_an_unavailable_dependency_is_503_and_retryable():
    response = Served(Scripted(Unavailable("Redis is down"))).post(an_event())
    assert response.status_code == 503 and response.json()["retryable"] is True


def test_an_unavailable_that_says_when_to_retry_answers_retry_after_in_seconds():
    """RFC 9110 §10.2.3: Retry-After as delay-seconds."""
    response = Served(Scripted(Unavailable("the pipeline is behind", retry_after=1))).post(an_event())
    assert (response.status_code, response.headers["Retry-After"]) == (503, "1")


def test_a_database_outage_is_503_naming_postgresql():
    response = Served(Scripted(psycopg.OperationalError("connection refused"))).post(an_event())
    assert response.status_code == 503 and "PostgreSQL" in response.json()["error"]


def test_an_unexpected_error_is_500_without_a_traceback():
    response = Served(Scripted(KeyError("secret internals"))).post(an_event())
    body = response.text
    assert response.status_code == 500 and "secret" not in body and "Traceback" not in body


def test_a_body_over_the_limit_is_413():
    served = Served(settings=dataclasses.replace(Settings.from_env(), max_body_bytes=100))
    headers, _ = to_binary(an_event())
    assert served.call(content=b"x" * 101, headers=headers).status_code == 413


def test_readiness_reports_ready():
    response = Served().call("/health/readiness", "GET")
    assert (response.status_code, response.json()) == (200, {"ready": True, "reason": None})


def test_liveness_does_not_build_the_function():
    served = Served()
    assert served.call("/health/liveness", "GET").status_code == 200
    assert served.builds == 0


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_only_post_carries_events(method):
    assert Served().call("/", method).status_code == 405


@pytest.mark.parametrize("name", ["ingest", "score", "persist", "alert"])
def test_each_function_is_served_as_asgi_even_when_started_without_the_asgi_flag(name):
    """functions-framework finds an @aio function by its name: the handler must keep the name `handle`."""
    app = functions_framework.create_app("handle", str(PROJECT_ROOT / "functions" / name / "main.py"))
    assert not isinstance(app, flask.Flask)
