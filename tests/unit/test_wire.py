"""Reading CloudEvents from HTTP requests in every content mode, and refusing the rest."""

import json

import flask
import pytest
from cloudevents.conversion import to_binary, to_structured
from cloudevents.http import CloudEvent

from sentinel import wire
from sentinel.errors import ClientError

app = flask.Flask(__name__)
LIMIT = 1024 * 1024


def an_event(**data):
    return CloudEvent({"type": "dev.sentinel.transaction.created", "source": "/test", "id": "e-1"}, data or {"a": 1})


def read(body, headers):
    with app.test_request_context("/", method="POST", data=body, headers=headers):
        return wire.read_events(flask.request, LIMIT)


def refusal(body, headers):
    with pytest.raises(ClientError) as caught:
        read(body, headers)
    return caught.value


def test_binary_mode_is_read():
    headers, body = to_binary(an_event(a=1))
    [event] = read(body, headers)
    assert event["id"] == "e-1" and wire.event_data(event) == {"a": 1}


def test_structured_mode_is_read():
    headers, body = to_structured(an_event(a=2))
    [event] = read(body, headers)
    assert wire.event_data(event) == {"a": 2}


def test_batch_mode_is_read_in_order():
    batch = [json.loads(to_structured(an_event(n=n))[1]) for n in range(3)]
    events = read(json.dumps(batch), {"Content-Type": wire.BATCH})
    assert [wire.event_data(event)["n"] for event in events] == [0, 1, 2]


def test_an_empty_batch_is_refused():
    assert "non-empty" in refusal("[]", {"Content-Type": wire.BATCH}).message


def test_a_batch_item_missing_attributes_is_named():
    error = refusal(json.dumps([{"specversion": "1.0", "id": "x"}]), {"Content-Type": wire.BATCH})
    assert error.message.startswith("batch item 0")
    assert {problem.field for problem in error.problems} == {"source", "type"}


def test_binary_mode_without_required_headers_names_them():
    error = refusal(b"{}", {"ce-specversion": "1.0", "Content-Type": "application/json"})
    assert {problem.field for problem in error.problems} == {"ce-id", "ce-source", "ce-type"}


def test_plain_json_without_ce_headers_is_not_a_cloudevent():
    error = refusal(b'{"a": 1}', {"Content-Type": "application/json"})
    assert error.status == 400 and "not a CloudEvent" in error.message


def test_an_unsupported_content_type_is_415():
    assert refusal(b"a,b", {"Content-Type": "text/csv"}).status == 415


def test_binary_data_that_is_not_json_is_415():
    headers, _ = to_binary(an_event())
    headers["content-type"] = "text/plain"
    assert refusal(b"hello", headers).status == 415


def test_malformed_structured_json_is_refused():
    assert "not valid JSON" in refusal(b"{nope", {"Content-Type": wire.STRUCTURED}).message


def test_an_unknown_specversion_is_refused():
    document = {"specversion": "0.3", "id": "1", "source": "/s", "type": "t"}
    assert "specversion" in refusal(json.dumps(document), {"Content-Type": wire.STRUCTURED}).message


def test_a_body_over_the_limit_is_413():
    headers, _ = to_binary(an_event())
    assert refusal(b"x" * (LIMIT + 1), headers).status == 413


def test_event_data_that_is_not_json_is_refused():
    headers, _ = to_binary(an_event())
    [event] = read(b"not json", headers)
    with pytest.raises(ClientError, match="not valid JSON"):
        wire.event_data(event)


def test_an_event_of_another_type_is_refused_with_the_accepted_types():
    with pytest.raises(ClientError, match="persist takes dev.sentinel.transaction.scored"):
        wire.check_type(an_event(), ("dev.sentinel.transaction.scored",), "persist")


def test_binary_mode_writes_what_the_sdk_writes():
    event = an_event(a=1, b="x")
    assert wire.to_binary(event)[0] == to_binary(event)[0]
    assert json.loads(wire.to_binary(event)[1]) == json.loads(to_binary(event)[1])
