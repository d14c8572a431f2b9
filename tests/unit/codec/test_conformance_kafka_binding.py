"""The CloudEvents Kafka protocol binding 1.0 (bindings/kafka-protocol-binding.md), as sentinel.codec.kafka maps it.

Each test names the section of the binding it checks. A record that is not a valid
CloudEvent is not refused but wrapped, as Knative's KafkaSource wraps it (DESIGN.md §4).
"""

import pytest
from kafka_records import FakeRecord

from sentinel.codec.event import Event, checked
from sentinel.codec.kafka import WRAPPED_EVENT_TYPE, from_kafka, to_kafka

ATTRIBUTES = {"specversion": "1.0", "id": "e-1", "source": "/s", "type": "t"}
HEADERS = [(f"ce_{name}", value.encode()) for name, value in ATTRIBUTES.items()]


def read(record: FakeRecord) -> Event:
    return from_kafka(record, namespace="ns", source_name="src")


@pytest.mark.parametrize(
    "content_type", [b"application/cloudevents+json", b"Application/CloudEvents+JSON; charset=utf-8"]
)
def test_structured_mode_is_told_by_the_content_type_whatever_its_case(content_type):
    """Kafka binding §3: a content-type prefixed with application/cloudevents, matched case-insensitively."""
    envelope = b'{"specversion":"1.0","id":"e-9","source":"/s","type":"t"}'
    event = read(FakeRecord(envelope, [("content-type", content_type)]))
    assert event.id == "e-9"


def test_partitionkey_is_the_record_key_and_stays_an_attribute():
    """Kafka binding §3.1: the key mapper maps partitionkey to the key and MUST NOT modify the event."""
    record = to_kafka(Event({**ATTRIBUTES, "partitionkey": "u-7"}))
    assert record.key == b"u-7" and ("ce_partitionkey", b"u-7") in record.headers


def test_content_type_is_the_datacontenttype_both_ways():
    """Kafka binding §3.2.1: the content-type header MUST be mapped directly to datacontenttype."""
    record = to_kafka(Event({**ATTRIBUTES, "datacontenttype": "application/json"}, b"{}"))
    assert ("content-type", b"application/json") in record.headers
    assert read(FakeRecord(record.value, record.headers)).attributes["datacontenttype"] == "application/json"


def test_the_value_is_the_data_and_no_data_is_no_value():
    """Kafka binding §3.2.2: the data MUST be the value; an event with no data is a message with no value."""
    assert to_kafka(Event(ATTRIBUTES, b"\x00raw")).value == b"\x00raw"
    assert to_kafka(Event(ATTRIBUTES)).value is None


def test_every_attribute_is_a_ce_header():
    """Kafka binding §3.2.3 and §3.2.3.1: attributes MUST map to headers prefixed ce_."""
    assert to_kafka(Event({**ATTRIBUTES, "subject": "x"})).headers == [*HEADERS, ("ce_subject", b"x")]


def test_a_header_value_that_is_not_utf8_makes_the_record_no_cloudevent():
    """Kafka binding §3.2.3: header keys and values MUST be UTF-8; such a record is wrapped, not read as sent."""
    event = read(FakeRecord(b"{}", [*HEADERS, ("ce_subject", b"\xff\xfe")]))
    assert event.type == WRAPPED_EVENT_TYPE and event.attributes["kafkaheadercesubject"] == "\ufffd\ufffd"


def test_a_repeated_ce_header_makes_the_record_no_cloudevent():
    """spec.md "Context Attributes" in Kafka headers: each attribute MUST appear at most once."""
    assert read(FakeRecord(b"{}", [*HEADERS, ("ce_id", b"e-2")])).type == WRAPPED_EVENT_TYPE


def test_a_wrapped_record_is_itself_a_valid_cloudevent():
    """spec.md "Type System": what Sentinel wraps holds no control characters, so every hop can carry it on."""
    event = read(FakeRecord(b"x", [("trace\nid", b"a\x00b"), ("content-type", b"not a media type")], key_=b"k\x01"))
    assert checked(dict(event.attributes), event.data) == event
    assert (event.attributes["kafkaheadertraceid"], event.attributes["key"]) == ("a\ufffdb", "k\ufffd")


def test_a_record_timestamp_no_datetime_holds_gives_no_time():
    """spec.md "time" is OPTIONAL: a wrapped record whose timestamp is out of range simply has none."""
    assert "time" not in read(FakeRecord(b"x", timestamp_=(1, 2**62))).attributes
