"""The JSON event format (json-format.md) and an event's JSON data, as sentinel.codec reads and writes them."""

import json

import pytest

from sentinel.codec.event import Event, NotACloudEvent, json_event
from sentinel.codec.json_format import from_document, parse_structured, to_document
from sentinel.core.errors import ClientError

ATTRIBUTES = {"specversion": "1.0", "id": "e-1", "source": "/s", "type": "t"}


def test_integer_and_boolean_attributes_take_their_canonical_string_form():
    """The type system: Integer and Boolean attributes have canonical strings ("4", "true")."""
    event = parse_structured(json.dumps({**ATTRIBUTES, "sequence": 4, "sampled": True, "data": {"a": 1}}).encode())
    assert (event.attributes["sequence"], event.attributes["sampled"]) == ("4", "true")


def test_json_data_without_a_content_type_is_json():
    """§3.1.1: an event without datacontenttype in the JSON format carries JSON data."""
    event = parse_structured(json.dumps({**ATTRIBUTES, "data": {"a": 1}}).encode())
    assert event.attributes["datacontenttype"] == "application/json" and event.json() == {"a": 1}


def test_text_data_of_a_text_media_type_is_kept_as_text():
    event = from_document({**ATTRIBUTES, "datacontenttype": "text/plain", "data": "hi"})
    assert event.data == b"hi"


def test_data_base64_is_decoded_to_bytes():
    assert from_document({**ATTRIBUTES, "data_base64": "AAEC"}).data == b"\x00\x01\x02"


def test_data_and_data_base64_together_are_refused():
    """§3.1: an event carries one or the other, never both."""
    with pytest.raises(NotACloudEvent, match="either data or data_base64"):
        from_document({**ATTRIBUTES, "data": 1, "data_base64": "AA=="})


def test_an_attribute_of_another_json_type_is_refused():
    with pytest.raises(NotACloudEvent, match="attribute 'subject' must be a JSON string"):
        from_document({**ATTRIBUTES, "subject": ["x"]})


def test_binary_data_is_written_as_data_base64():
    document = to_document(Event({**ATTRIBUTES, "datacontenttype": "application/octet-stream"}, b"\x00\x01"))
    assert document["data_base64"] == "AAE=" and "data" not in document


def test_json_event_encodes_its_data_once_as_json_1_0():
    event = json_event({"id": "1", "source": "/s", "type": "t"}, {"a": [1, 2]})
    assert event.attributes == {
        "specversion": "1.0",
        "id": "1",
        "source": "/s",
        "type": "t",
        "datacontenttype": "application/json",
    }
    assert event.data == b'{"a":[1,2]}' and event.json() == {"a": [1, 2]}


def test_data_of_another_media_type_is_415_when_read_as_json():
    with pytest.raises(ClientError) as refused:
        Event({**ATTRIBUTES, "datacontenttype": "text/plain"}, b"hello").json()
    assert refused.value.status == 415


def test_data_that_is_not_json_is_400_naming_the_data():
    with pytest.raises(ClientError) as refused:
        Event({**ATTRIBUTES, "datacontenttype": "application/json"}, b"{not json").json()
    assert refused.value.status == 400 and refused.value.problems[0].field == "data"


def test_an_event_without_data_has_no_json():
    with pytest.raises(ClientError, match="no data"):
        Event(ATTRIBUTES).json()


def test_json_nested_beyond_the_parser_limit_is_400_not_a_crash():
    with pytest.raises(ClientError) as refused:
        Event(ATTRIBUTES, b"[" * 5000 + b"]" * 5000).json()
    assert refused.value.status == 400
