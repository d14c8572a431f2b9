"""The CloudEvents Kafka protocol binding 1.0, and KafkaSource's wrapping of plain records (DESIGN.md §4)."""

from __future__ import annotations

import json

from kafka_records import FakeRecord

from sentinel.codec.event import Event
from sentinel.codec.kafka import from_kafka, to_kafka


def test_kafka_record_is_binary_mode_keyed_by_partitionkey():
    record = to_kafka(Event({"id": "e-1", "partitionkey": "user-1", "datacontenttype": "application/json"}, b"{}"))

    assert record.key == b"user-1"
    assert record.headers == [("ce_id", b"e-1"), ("ce_partitionkey", b"user-1"), ("content-type", b"application/json")]
    assert record.value == b"{}"


def test_structured_kafka_record_is_read_as_its_event():
    envelope = {
        "specversion": "1.0",
        "id": "e-9",
        "source": "/s",
        "type": "t",
        "data": "hi",
        "datacontenttype": "text/plain",
    }
    record = FakeRecord(json.dumps(envelope).encode(), [("content-type", b"application/cloudevents+json")])

    event = from_kafka(record, namespace="ns", source_name="src")

    assert event.attributes["id"] == "e-9"
    assert event.data == b"hi"


def test_record_with_broken_cloudevent_headers_is_wrapped_like_a_plain_record():
    record = FakeRecord(b"v", [("ce_specversion", b"1.0"), ("ce_type", b"t")], key_=b"k")

    event = from_kafka(record, namespace="ns", source_name="src")

    assert event.attributes["type"] == "dev.knative.kafka.event"
    assert event.attributes["kafkaheadercespecversion"] == "1.0"
    assert event.attributes["key"] == event.attributes["partitionkey"] == "k"


def test_wrapped_record_without_a_timestamp_or_key_has_neither_time_nor_key():
    event = from_kafka(FakeRecord(None, timestamp_=(0, -1)), namespace="ns", source_name="src")

    assert event.attributes == {
        "specversion": "1.0",
        "id": "partition:2/offset:7",
        "source": "/apis/v1/namespaces/ns/kafkasources/src#orders",
        "type": "dev.knative.kafka.event",
        "subject": "partition:2#7",
    }
    assert event.data is None
