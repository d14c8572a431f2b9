"""The CloudEvents JSON event format 1.0 (formats/json-format.md), as sentinel.codec.json_format reads and writes it.

Each test names the section of the format it checks.
"""

import base64
import json

import orjson
import pytest

from sentinel.codec import http
from sentinel.codec.event import Event, NotACloudEvent
from sentinel.codec.json_format import from_document, parse_batch, parse_structured, to_document
from sentinel.core.errors import ClientError

ATTRIBUTES = {"specversion": "1.0", "id": "e-1", "source": "/s", "type": "t"}


def structured(**members):
    return parse_structured(json.dumps({**ATTRIBUTES, **members}).encode())


# -- §2.2: type system mapping ---------------------------------------------------------


def test_null_attributes_are_unset():
    """JSON format §2.2: an attribute whose value is null MUST be treated as unset."""
    event = structured(subject=None, time=None, comexampleextension=None)
    assert event.attributes == ATTRIBUTES


@pytest.mark.parametrize("value", [1.5, 2.0, 1e2])
def test_an_integer_attribute_is_only_its_integer_component(value):
    """JSON format §2.2: for Integer only the integer component, optionally signed, is permitted."""
    with pytest.raises(NotACloudEvent):
        from_document({**ATTRIBUTES, "sequence": value})


@pytest.mark.parametrize("name", ["id", "source", "type", "subject", "time", "datacontenttype", "dataschema"])
def test_a_string_typed_attribute_must_be_a_json_string(name):
    """JSON format §2.2: String, URI, URI-reference and Timestamp attributes map to JSON strings."""
    with pytest.raises(NotACloudEvent, match=f"attribute '{name}' must be a JSON string"):
        from_document({**ATTRIBUTES, name: 5})


def test_an_object_or_array_attribute_is_refused():
    """JSON format §2.2: no CloudEvents type maps to a JSON object or array."""
    with pytest.raises(NotACloudEvent):
        from_document({**ATTRIBUTES, "comexample": {"a": 1}})


# -- §3: envelope ---------------------------------------------------------------------


def test_every_attribute_is_a_member_of_the_written_object():
    """JSON format §3: all attributes MUST become members named as the attribute, extensions at the top level."""
    event = Event({**ATTRIBUTES, "subject": "x", "partitionkey": "u-1", "datacontenttype": "application/json"}, b"1")
    assert json.loads(orjson.dumps(to_document(event))) == {**event.attributes, "data": 1}


def test_a_structured_event_is_a_json_object():
    """JSON format §3: each event is wholly represented as a JSON object."""
    with pytest.raises(NotACloudEvent, match="must be a JSON object"):
        parse_structured(b'["not", "an", "object"]')


def test_a_repeated_member_is_refused_naming_it():
    """JSON format §3 with spec.md: an attribute, and so a member, appears at most once."""
    with pytest.raises(NotACloudEvent) as refused:
        parse_structured(b'{"specversion":"1.0","id":"1","source":"/s","type":"t","type":"u"}')
    assert [problem.field for problem in refused.value.problems] == ["type"]


# -- §3.1.1: payload serialization ---------------------------------------------------------


def test_binary_data_is_written_as_data_base64_with_its_content_type():
    """JSON format §3.1.1: Binary data MUST be a base64 string in data_base64; datacontenttype reflects it."""
    document = to_document(Event({**ATTRIBUTES, "datacontenttype": "image/png"}, b"\x89PNG"))
    assert (document["data_base64"], document["datacontenttype"], "data" in document) == (
        "iVBORw==",
        "image/png",
        False,
    )


def test_data_of_no_declared_type_is_written_as_data_base64_without_a_content_type():
    """JSON format §3.1.1: without datacontenttype the format of the data is unknown, and none MUST be added."""
    document = to_document(Event(ATTRIBUTES, b"\x00\x01"))
    assert document == {**ATTRIBUTES, "data_base64": "AAE="}


def test_json_data_is_written_as_a_json_value_not_a_string():
    """JSON format §3.1.1: JSON data MUST be stored directly as a JSON value under data."""
    event = Event({**ATTRIBUTES, "datacontenttype": "application/vnd.api+json"}, b'{"a":[1,2]}')
    assert json.loads(orjson.dumps(to_document(event)))["data"] == {"a": [1, 2]}


def test_data_and_data_base64_together_are_refused():
    """JSON format §3.1.1: the data and data_base64 members are mutually exclusive."""
    with pytest.raises(NotACloudEvent, match="either data or data_base64"):
        from_document({**ATTRIBUTES, "data": 1, "data_base64": "AA=="})


# -- §3.1.2: payload deserialization ---------------------------------------------------------


def test_data_base64_is_decoded_to_bytes():
    """JSON format §3.1.2: the deserializer MUST decode data_base64 into binary."""
    assert structured(datacontenttype="image/png", data_base64="iVBORw==").data == b"\x89PNG"


def test_data_base64_that_is_not_base64_is_refused():
    """JSON format §3.1.2 with RFC 4648: data_base64 holds base64 text."""
    with pytest.raises(NotACloudEvent, match="not valid base64"):
        structured(data_base64="not base64!")


def test_data_base64_without_a_content_type_is_not_read_as_json():
    """JSON format §3.1.2: without datacontenttype, decoding MUST NOT assume JSON-formatted data."""
    event = structured(data_base64=base64.b64encode(b'{"xyz": 123}').decode())
    assert "datacontenttype" not in event.attributes
    with pytest.raises(ClientError) as refused:
        event.json()
    assert refused.value.status == 415


def test_a_json_string_as_data_is_never_parsed_again():
    """JSON format §3.1.2: a string data member MUST NOT be further deserialized as a JSON document."""
    event = structured(datacontenttype="application/json", data='{"a": 1}')
    assert event.json() == '{"a": 1}'


def test_data_without_a_content_type_is_json_and_says_so_on_the_next_hop():
    """JSON format §3.1.2: with no datacontenttype data is JSON, and re-serialized SHOULD say application/json."""
    event = structured(data={"a": 1})
    headers, body = http.binary(event)
    assert headers["Content-Type"] == "application/json" and orjson.loads(body) == {"a": 1}


def test_a_text_payload_is_its_string():
    """JSON format §3.1.2: data of a non-JSON content type SHOULD be treated as an encoded content string."""
    assert structured(datacontenttype="application/xml", data='<much wow="xml"/>').data == b'<much wow="xml"/>'


def test_non_string_data_of_a_non_json_content_type_is_refused():
    """JSON format §3.1.2: an implementation MAY fail when data of a non-JSON type is not a string."""
    with pytest.raises(NotACloudEvent, match="must be a JSON string"):
        structured(datacontenttype="text/plain", data={"a": 1})


def test_null_data_is_a_null_payload_not_an_absent_one():
    """JSON format §3.1.1: data MAY be null, an explicit null payload distinct from the absence of data."""
    assert structured(data=None).json() is None
    assert structured().data is None


# -- §4: batch format ---------------------------------------------------------------------


def test_a_batch_is_an_array_of_events_in_the_json_format():
    """JSON format §4.1: the outermost element is a JSON array of events in the JSON format."""
    events = parse_batch(json.dumps([{**ATTRIBUTES, "id": str(n), "data": n} for n in range(3)]).encode())
    assert [event.json() for event in events] == [0, 1, 2]


def test_a_batch_must_be_an_array():
    """JSON format §4.1: the outermost JSON element is an array."""
    with pytest.raises(NotACloudEvent, match="must be a JSON array"):
        parse_batch(json.dumps(ATTRIBUTES).encode())


def test_an_empty_batch_is_valid():
    """JSON format §4.3: an empty batch is valid, in a request too."""
    assert parse_batch(b"[]") == []
