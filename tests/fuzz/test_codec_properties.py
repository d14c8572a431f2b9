"""The codec, fuzzed: any message is read or refused with a 4xx, and whatever it reads it writes back the same."""

import json

import orjson
from hypothesis import given
from hypothesis import strategies as st
from strategies import ce_headers, header_values, json_objects_with_repeats, json_texts, valid_text

from sentinel.codec import http
from sentinel.codec.event import MAX_JSON_DEPTH, Event, checked, json_document
from sentinel.codec.json_format import parse_batch, render_batch
from sentinel.codec.kafka import KafkaRecord, from_kafka, to_kafka
from sentinel.core.errors import ClientError

bodies = st.binary(max_size=200) | json_texts()


def refused_as_a_client_error(read, *args):
    """What `read` returns, or None when it refused with a 4xx; anything else fails the test."""
    try:
        return read(*args)
    except ClientError as error:
        assert 400 <= error.status < 500 and error.message
        return None


@given(ce_headers(), bodies)
def test_any_http_message_is_read_or_refused_with_a_4xx(headers, body):
    refused_as_a_client_error(http.read_events, headers, body)


@given(json_texts())
def test_any_json_text_is_parsed_or_refused_with_a_400(raw):
    document = refused_as_a_client_error(json_document, raw, "the text")
    if document is not None:
        orjson.dumps(document)  # what is accepted can always be written back


@given(json_objects_with_repeats())
def test_a_repeated_member_name_is_refused_exactly_when_there_is_one(raw):
    names = [name for name, _ in json.loads(raw, object_pairs_hook=lambda pairs: pairs)]
    repeats = len(names) != len(set(names))
    assert (refused_as_a_client_error(json_document, raw, "the text") is None) == repeats


@given(st.integers(0, 3 * MAX_JSON_DEPTH), st.sampled_from(["[", '{"a":']))
def test_nesting_is_refused_exactly_beyond_the_limit(depth, opener):
    closer = "]" if opener == "[" else "}"
    raw = (opener * depth + "0" + closer * depth).encode()
    assert (refused_as_a_client_error(json_document, raw, "the text") is None) == (depth > MAX_JSON_DEPTH)


# -- what is read is written back the same ---------------------------------------------------

CORE_NAMES = {"data", "specversion", "id", "source", "type", "datacontenttype", "dataschema", "time"}
attribute_names = st.from_regex(r"[a-z][a-z0-9]{0,19}", fullmatch=True).filter(lambda name: name not in CORE_NAMES)


@st.composite
def events(draw):
    """An event the codec accepts: any valid strings as values, any bytes as data."""
    attributes = {
        "specversion": "1.0",
        "id": draw(valid_text.filter(bool)),
        "source": draw(st.sampled_from(["/tests", "urn:uuid:6e8bc430", "https://example.com/a?b#c", "1-555"])),
        "type": draw(valid_text.filter(bool)),
        **draw(st.dictionaries(attribute_names, valid_text.filter(bool), max_size=4)),
    }
    content_type = draw(st.sampled_from([None, "application/json", "text/plain; charset=utf-8", "image/png"]))
    if content_type:
        attributes["datacontenttype"] = content_type
    return checked(attributes, draw(st.none() | st.binary(min_size=1, max_size=50)))


@given(events())
def test_an_event_survives_binary_http_mode(event):
    headers, body = http.binary(event)
    [read] = http.read_events(headers, body)
    assert (read.attributes, read.data) == (event.attributes, event.data)


@given(events())
def test_an_event_survives_the_kafka_binding(event):
    record = to_kafka(event)
    assert from_kafka(_Consumed(record), namespace="ns", source_name="src") == event


@given(st.lists(events(), max_size=3))
def test_events_with_a_declared_type_survive_a_batch(batch):
    """JSON data travels as a JSON value, so it comes back as the same value, not the same bytes."""
    batch = [event for event in batch if "datacontenttype" in event.attributes and _json_if_declared(event)]
    read = parse_batch(render_batch(batch))
    assert [event.attributes for event in read] == [event.attributes for event in batch]
    assert [_value(event) for event in read] == [_value(event) for event in batch]


@given(ce_headers(), header_values)
def test_any_header_value_is_decoded_or_refused_never_crashes(headers, value):
    refused_as_a_client_error(http.read_events, {**headers, "ce-subject": value}, b"{}")


class _Consumed:
    """A produced record as a consumer reads it back."""

    def __init__(self, record: KafkaRecord) -> None:
        self._record = record

    def topic(self):
        return "t"

    def partition(self):
        return 0

    def offset(self):
        return 0

    def key(self):
        return self._record.key

    def value(self):
        return self._record.value

    def headers(self):
        return self._record.headers

    def timestamp(self):
        return (0, -1)


def _value(event: Event):
    return event.json() if event.data is not None and event.media_type == "application/json" else event.data


def _json_if_declared(event: Event) -> bool:
    """Whether data declared JSON is JSON the codec reads (data of another type is carried as base64)."""
    if event.data is None or event.media_type != "application/json":
        return True
    return refused_as_a_client_error(json_document, event.data, "the data") is not None or event.data == b"null"
