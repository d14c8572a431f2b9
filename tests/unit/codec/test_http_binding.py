"""The CloudEvents HTTP protocol binding 1.0, read and written by sentinel.codec.http.

Section numbers are those of the binding's specification (http-protocol-binding.md).
The cloudevents SDK plays the client: what it sends must read as the same event.
"""

import json

import pytest
from cloudevents.conversion import to_binary, to_structured
from cloudevents.http import CloudEvent, from_http

from sentinel.codec import http
from sentinel.codec.event import Event, NotACloudEvent

REQUIRED = {"ce-specversion": "1.0", "ce-id": "e-1", "ce-source": "/tests", "ce-type": "t"}
REQUIRED_ATTRIBUTES = {name[3:]: value for name, value in REQUIRED.items()}


def an_event(**data):
    return CloudEvent({"type": "dev.sentinel.transaction.created", "source": "/test", "id": "e-1"}, data or {"a": 1})


def structured(**data):
    return json.loads(to_structured(an_event(**data))[1])


def test_binary_mode_keeps_the_attributes_and_the_exact_body():
    [event] = http.read_events({**REQUIRED, "Ce-Subject": "s-1", "Content-Type": "application/json"}, b'{"a": 1.50}')

    assert event.attributes == {
        "specversion": "1.0",
        "id": "e-1",
        "source": "/tests",
        "type": "t",
        "subject": "s-1",
        "datacontenttype": "application/json",
    }
    assert event.data == b'{"a": 1.50}'


def test_binary_mode_from_the_sdk_reads_as_the_same_event():
    headers, body = to_binary(an_event(a=1))
    [event] = http.read_events(headers, body)
    assert (event.id, event.type, event.json()) == ("e-1", "dev.sentinel.transaction.created", {"a": 1})


def test_structured_mode_is_told_by_its_content_type_prefix():
    """§3: a Content-Type starting with application/cloudevents means structured mode."""
    _, body = to_structured(an_event(a=2))
    [event] = http.read_events({"Content-Type": "application/cloudevents+json; charset=UTF-8"}, body)
    assert event.json() == {"a": 2}


def test_batched_mode_is_read_in_order():
    """§3.3: a JSON array of events under application/cloudevents-batch+json."""
    body = json.dumps([structured(n=n) for n in range(3)]).encode()
    events = http.read_events({"Content-Type": "application/cloudevents-batch+json"}, body)
    assert [event.json()["n"] for event in events] == [0, 1, 2]


def test_an_empty_batch_is_a_valid_batch():
    """§3.3.2: "The batch MAY be empty"."""
    assert http.read_events({"Content-Type": "application/cloudevents-batch+json"}, b"[]") == []


def test_a_batch_item_that_is_not_an_event_is_named_by_its_place():
    body = json.dumps([structured(), {"specversion": "1.0", "id": "x"}]).encode()
    with pytest.raises(NotACloudEvent) as refused:
        http.read_events({"Content-Type": "application/cloudevents-batch+json"}, body)
    assert refused.value.message.startswith("batch item 1")
    assert {problem.field for problem in refused.value.problems} == {"source", "type"}


def test_a_batch_over_the_limit_is_413():
    body = json.dumps([structured()] * 1001).encode()
    with pytest.raises(Exception) as refused:
        http.read_events({"Content-Type": "application/cloudevents-batch+json"}, body)
    assert refused.value.status == 413


def test_a_batch_is_refused_where_one_event_is_expected():
    with pytest.raises(NotACloudEvent, match="batched content mode is not accepted"):
        http.read_event({"Content-Type": "application/cloudevents-batch+json"}, b"[]")


def test_binary_mode_without_the_required_headers_names_them():
    with pytest.raises(NotACloudEvent) as refused:
        http.read_events({"ce-specversion": "1.0", "Content-Type": "application/json"}, b"{}")
    assert {problem.field for problem in refused.value.problems} == {"id", "source", "type"}


@pytest.mark.parametrize(
    ("headers", "problem"),
    [
        ({**REQUIRED, "ce-Bad_Name": "x"}, "invalid attribute name(s): bad_name"),
        ({**REQUIRED, "ce-specversion": "0.3"}, "specversion '0.3' is not supported"),
    ],
)
def test_an_invalid_event_is_refused_with_the_problem_named(headers, problem):
    with pytest.raises(NotACloudEvent, match=problem.replace("(", r"\(").replace(")", r"\)")):
        http.read_events(headers, b"")


def test_a_ce_datacontenttype_header_is_refused_in_binary_mode():
    """§3.1.1: "a ce-datacontenttype HTTP header MUST NOT also be present in the message"."""
    with pytest.raises(NotACloudEvent, match="ce-datacontenttype"):
        http.read_events({**REQUIRED, "ce-datacontenttype": "application/json"}, b"{}")


def test_plain_json_without_ce_headers_is_not_a_cloudevent():
    with pytest.raises(NotACloudEvent) as refused:
        http.read_events({"Content-Type": "application/json"}, b'{"a": 1}')
    assert refused.value.status == 400 and "not a CloudEvent" in refused.value.message


def test_another_media_type_without_ce_headers_is_415():
    with pytest.raises(NotACloudEvent) as refused:
        http.read_events({"Content-Type": "text/csv"}, b"a,b")
    assert refused.value.status == 415


def test_an_event_format_other_than_json_is_415():
    """§3: application/cloudevents+<format> names the format; Sentinel reads the JSON format only."""
    with pytest.raises(NotACloudEvent) as refused:
        http.read_events({"Content-Type": "application/cloudevents+avro"}, b"...")
    assert refused.value.status == 415


def test_the_content_type_header_is_found_whatever_the_case_of_its_name():
    [event] = http.read_events({**REQUIRED, "content-type": "application/json; charset=utf-8"}, b"{}")
    assert event.attributes["datacontenttype"] == "application/json; charset=utf-8"


def test_malformed_structured_json_is_refused():
    with pytest.raises(NotACloudEvent, match="not valid JSON"):
        http.read_events({"Content-Type": "application/cloudevents+json"}, b"{nope")


# -- header values, §3.1.3.2 -------------------------------------------------------


def test_space_double_quote_percent_and_non_ascii_are_percent_encoded():
    """§3.1.3.2: these MUST be percent-encoded; the section's own example "Euro € 😀" included."""
    headers, _ = http.binary(Event({"id": 'a "b" 100%', "subject": "Euro \u20ac \U0001f600"}))
    assert headers["ce-id"] == "a%20%22b%22%20100%25"
    assert headers["ce-subject"] == "Euro%20%E2%82%AC%20%F0%9F%98%80"


def test_printable_ascii_is_written_as_it_is():
    headers, _ = http.binary(Event({"source": "/apis/v1/namespaces/x/kafkasources/y#t", "id": "a:b/c?d=e&f"}))
    assert headers == {"ce-source": "/apis/v1/namespaces/x/kafkasources/y#t", "ce-id": "a:b/c?d=e&f"}


def test_header_values_are_percent_decoded_once_accepting_lower_case():
    """§3.1.3.2: a single round of percent-decoding, which MUST accept lower-case values."""
    [event] = http.read_events({**REQUIRED, "ce-subject": "caf%c3%a9 %2541"}, b"")
    assert event.subject == "café %41"


def test_a_double_quoted_header_value_is_unquoted_before_decoding():
    """§3.1.3.2: values MUST first be unescaped with respect to double-quoted strings (RFC 7230 §3.2.6)."""
    [event] = http.read_events({**REQUIRED, "ce-subject": '"a \\"quoted\\" value%21"'}, b"")
    assert event.subject == 'a "quoted" value!'


def test_percent_encoding_that_is_not_utf8_is_refused():
    """§3.1.3.2: encoded byte sequences invalid in UTF-8 MUST be rejected (%C0%A0 is an overlong space)."""
    with pytest.raises(NotACloudEvent, match="not as UTF-8"):
        http.read_events({**REQUIRED, "ce-subject": "%C0%A0"}, b"")


def test_any_attribute_value_survives_a_round_trip():
    value = 'spaces "quotes" 100% ünïcode \U0001f600 %41'
    headers, body = http.binary(Event({**REQUIRED_ATTRIBUTES, "subject": value}, b"x"))
    [event] = http.read_events(headers, body)
    assert event.subject == value


# -- writing ----------------------------------------------------------------------


def test_binary_mode_writes_datacontenttype_as_content_type_and_the_data_as_body():
    """§3.1.1 and §3.1.2."""
    headers, body = http.binary(Event({"id": "1", "datacontenttype": "text/plain"}, b"x"))
    assert headers == {"ce-id": "1", "Content-Type": "text/plain"} and body == b"x"


def test_what_binary_mode_writes_the_sdk_reads_as_the_same_event():
    event = Event({**REQUIRED_ATTRIBUTES, "datacontenttype": "application/json"}, b'{"a":1}')
    headers, body = http.binary(event)
    read = from_http(headers, body)
    assert (read["id"], read["type"], read.get_data()) == ("e-1", "t", {"a": 1})


def test_a_batch_is_written_in_the_json_batch_format_and_reads_back_as_the_same_events():
    """§3.3, in the JSON format's batch (json-format.md §4)."""
    attributes = {"specversion": "1.0", "source": "/s", "type": "t", "datacontenttype": "application/json"}
    events = [Event({**attributes, "id": str(n)}, b'{"n":%d}' % n) for n in (1, 2)]
    headers, body = http.batch(events)
    assert headers == {"Content-Type": "application/cloudevents-batch+json"}
    assert [item["data"] for item in json.loads(body)] == [{"n": 1}, {"n": 2}]
    assert http.read_events(headers, body) == events
