"""The CloudEvents HTTP protocol binding 1.0 (bindings/http-protocol-binding.md), as sentinel.codec.http maps it.

Each test names the section of the binding it checks.
"""

import json

import pytest

from sentinel.codec import http
from sentinel.codec.event import Event, NotACloudEvent

REQUIRED = {"ce-specversion": "1.0", "ce-id": "e-1", "ce-source": "/tests", "ce-type": "t"}
ATTRIBUTES = {name[3:]: value for name, value in REQUIRED.items()}
STRUCTURED = json.dumps({**ATTRIBUTES, "data": {"a": 1}}).encode()


# -- §3: content modes --------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type", ["application/cloudevents+json", "Application/CloudEvents+JSON; charset=UTF-8"]
)
def test_structured_mode_is_told_by_its_media_type_whatever_its_case(content_type):
    """HTTP binding §3: a Content-Type prefixed with application/cloudevents, matched case-insensitively."""
    [event] = http.read_events({"Content-Type": content_type}, STRUCTURED)
    assert event.json() == {"a": 1}


def test_batched_mode_is_told_by_its_media_type_whatever_its_case():
    """HTTP binding §3: a Content-Type prefixed with application/cloudevents-batch is the batched mode."""
    events = http.read_events({"Content-Type": "APPLICATION/CLOUDEVENTS-BATCH+JSON"}, b"[" + STRUCTURED + b"]")
    assert [event.id for event in events] == ["e-1"]


def test_any_other_content_type_is_binary_mode():
    """HTTP binding §3: otherwise the receiver defaults to binary mode."""
    [event] = http.read_events({**REQUIRED, "Content-Type": "text/plain"}, b"hello")
    assert (event.data, event.attributes["datacontenttype"]) == (b"hello", "text/plain")


def test_an_event_format_other_than_json_is_415():
    """HTTP binding §1.4 and §3: the JSON format MUST be supported; another format may be refused."""
    with pytest.raises(NotACloudEvent) as refused:
        http.read_events({"Content-Type": "application/cloudevents+avro"}, b"...")
    assert refused.value.status == 415


def test_a_structured_body_in_another_charset_than_utf8_is_415():
    """HTTP binding §3.2.1 with RFC 8259 §8.1: JSON exchanged between systems MUST be UTF-8."""
    with pytest.raises(NotACloudEvent) as refused:
        http.read_events({"Content-Type": "application/cloudevents+json; charset=ISO-8859-1"}, STRUCTURED)
    assert refused.value.status == 415


# -- §3.1: binary mode ----------------------------------------------------------------


def test_content_type_is_the_datacontenttype():
    """HTTP binding §3.1.1: the Content-Type header MUST be populated from or written to datacontenttype."""
    [event] = http.read_events({**REQUIRED, "Content-Type": "application/xml"}, b"<a/>")
    headers, _ = http.binary(event)
    assert event.attributes["datacontenttype"] == headers["Content-Type"] == "application/xml"
    assert "ce-datacontenttype" not in headers


def test_a_ce_datacontenttype_header_is_refused():
    """HTTP binding §3.1.1: a ce-datacontenttype HTTP header MUST NOT also be present."""
    with pytest.raises(NotACloudEvent, match="ce-datacontenttype"):
        http.read_events({**REQUIRED, "ce-datacontenttype": "application/json"}, b"{}")


def test_the_body_is_the_data_byte_for_byte_both_ways():
    """HTTP binding §3.1.2: the data byte-sequence is used as the HTTP message body."""
    body = b'{ "a" : 1.50 ,"b":[ ] }'
    [event] = http.read_events({**REQUIRED, "Content-Type": "application/json"}, body)
    assert event.data == body and http.binary(event)[1] == body


def test_every_other_attribute_is_its_own_ce_header():
    """HTTP binding §3.1.3 and §3.1.3.1: each attribute, extensions included, MUST map to a `ce-` header."""
    event = Event({**ATTRIBUTES, "subject": "s", "partitionkey": "u-1", "datacontenttype": "application/json"}, b"{}")
    headers, _ = http.binary(event)
    assert {name for name in headers if name.startswith("ce-")} == {
        "ce-specversion",
        "ce-id",
        "ce-source",
        "ce-type",
        "ce-subject",
        "ce-partitionkey",
    }


def test_header_names_are_case_insensitive():
    """HTTP binding §3.1.3.1: per RFC 7230 header names are case-insensitive."""
    [event] = http.read_events({"CE-SPECVERSION": "1.0", "Ce-Id": "e-1", "cE-sOuRcE": "/s", "ce-type": "t"}, b"")
    assert (event.id, event.source, event.type) == ("e-1", "/s", "t")


# -- §3.1.3.2: header values --------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ("a b", "a%20b"),
        ('say "hi"', "say%20%22hi%22"),
        ("100%", "100%25"),
        ("Euro \u20ac \U0001f600", "Euro%20%E2%82%AC%20%F0%9F%98%80"),
        ("tab\there", "tab%09here"),
        ("\x85", "%C2%85"),
    ],
)
def test_space_quote_percent_and_everything_outside_printable_ascii_are_percent_encoded(value, encoded):
    """HTTP binding §3.1.3.2: these MUST be percent-encoded (control characters as RECOMMENDED), in upper case."""
    headers, _ = http.binary(Event({"subject": value}))
    assert headers["ce-subject"] == encoded


def test_a_character_outside_the_bmp_is_encoded_as_one_character():
    """HTTP binding §3.1.3.2: a surrogate pair MUST be treated as a single Unicode character."""
    headers, _ = http.binary(Event({"subject": "\U0001f600"}))
    assert headers["ce-subject"] == "%F0%9F%98%80"


def test_a_double_quoted_value_is_unescaped_before_percent_decoding():
    """HTTP binding §3.1.3.2: values MUST first be unescaped as double-quoted strings (RFC 7230 §3.2.6)."""
    [event] = http.read_events({**REQUIRED, "ce-subject": '"a \\"b\\" %2541"'}, b"")
    assert event.subject == 'a "b" %41'


def test_percent_decoding_is_a_single_round_accepting_lower_case():
    """HTTP binding §3.1.3.2: a single round of percent-decoding; decoding MUST accept lower-case values."""
    [event] = http.read_events({**REQUIRED, "ce-subject": "caf%c3%a9%2520"}, b"")
    assert event.subject == "café%20"


def test_unnecessarily_encoded_values_are_accepted():
    """HTTP binding §3.1.3.2: values that have been unnecessarily percent-encoded MUST be accepted."""
    [event] = http.read_events({**REQUIRED, "ce-subject": "%41%42%43"}, b"")
    assert event.subject == "ABC"


@pytest.mark.parametrize("value", ["%C0%A0", "%E2%82", "%ED%A0%80", "%FF"])
def test_encoded_bytes_that_are_not_utf8_are_refused(value):
    """HTTP binding §3.1.3.2: encoded byte sequences invalid in UTF-8 MUST be rejected (overlong, cut, surrogate)."""
    with pytest.raises(NotACloudEvent, match="not as UTF-8"):
        http.read_events({**REQUIRED, "ce-subject": value}, b"")


@pytest.mark.parametrize("value", ["100%", "%4", "%zz"])
def test_a_percent_sign_that_does_not_start_an_encoding_is_refused(value):
    """HTTP binding §3.1.3.2: a percent sign MUST itself be encoded, so a bare one is no valid encoding."""
    with pytest.raises(NotACloudEvent, match="two hex digits"):
        http.read_events({**REQUIRED, "ce-subject": value}, b"")


def test_a_raw_character_outside_printable_ascii_is_refused():
    """HTTP binding §3.1.3.2: headers use printable US-ASCII only; other characters MUST be percent-encoded."""
    with pytest.raises(NotACloudEvent, match="outside printable ASCII"):
        http.read_events({**REQUIRED, "ce-subject": "caf\xe9"}, b"")


def test_a_decoded_control_character_is_refused():
    """HTTP binding §3.1.3.2 with spec.md "Type System": attribute values exclude U+0000-U+001F."""
    with pytest.raises(NotACloudEvent) as refused:
        http.read_events({**REQUIRED, "ce-subject": "a%00b"}, b"")
    assert [problem.field for problem in refused.value.problems] == ["subject"]


def test_any_string_survives_the_round_trip():
    """HTTP binding §3.1.3.2: encoding then decoding gives the attribute's value back."""
    value = ' "quoted" 100% caf\u00e9 \U0001f600 %41 \\ '
    headers, body = http.binary(Event({**ATTRIBUTES, "subject": value}))
    assert http.read_events(headers, body)[0].subject == value


# -- §3.2 and §3.3: structured and batched modes ------------------------------------------


def test_structured_mode_reads_the_attributes_from_the_body_not_the_headers():
    """HTTP binding §3.2.3: all attributes MUST be in the payload, even if also mapped to headers."""
    headers = {"Content-Type": "application/cloudevents+json", "ce-id": "from-a-header", "ce-subject": "x"}
    [event] = http.read_events(headers, STRUCTURED)
    assert event.id == "e-1" and event.subject is None


def test_a_batch_is_written_under_the_batch_media_type():
    """HTTP binding §3.3.1: the Content-Type MUST be the batch media type of the event format."""
    headers, body = http.batch([Event({**ATTRIBUTES, "datacontenttype": "application/json"}, b"{}")])
    assert headers == {"Content-Type": "application/cloudevents-batch+json"}
    assert json.loads(body) == [{**ATTRIBUTES, "datacontenttype": "application/json", "data": {}}]


def test_a_batch_where_one_event_is_expected_is_refused():
    """HTTP binding §3: batched mode MUST NOT be used unless solicited; the KafkaSink takes one event per request."""
    with pytest.raises(NotACloudEvent, match="batched content mode is not accepted"):
        http.read_event({"Content-Type": "application/cloudevents-batch+json"}, b"[]")
