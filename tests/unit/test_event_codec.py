"""CloudEvents between HTTP requests, Kafka records and the dispatcher's wrapping of plain records."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from eventing.event_codec import (
    Event,
    NotACloudEvent,
    from_http,
    from_kafka,
    to_http,
    to_kafka,
)

REQUIRED = {"ce-specversion": "1.0", "ce-id": "e-1", "ce-source": "/tests", "ce-type": "t"}


@dataclass
class FakeRecord:
    """The parts of a consumed Kafka record the codec reads."""

    value_: bytes | None
    headers_: list[tuple[str, bytes | None]] = field(default_factory=list)
    key_: bytes | None = None
    timestamp_: tuple[int, int] = (1, 1767225600123)

    def topic(self) -> str:
        return "orders"

    def partition(self) -> int:
        return 2

    def offset(self) -> int:
        return 7

    def key(self) -> bytes | None:
        return self.key_

    def value(self) -> bytes | None:
        return self.value_

    def headers(self) -> list[tuple[str, bytes | None]]:
        return self.headers_

    def timestamp(self) -> tuple[int, int]:
        return self.timestamp_


def test_binary_http_request_keeps_attributes_and_the_exact_body():
    event = from_http({**REQUIRED, "Ce-Subject": "caf%C3%A9", "Content-Type": "application/json"}, b'{"a": 1.50}')

    assert event.attributes == {
        "specversion": "1.0",
        "id": "e-1",
        "source": "/tests",
        "type": "t",
        "subject": "café",
        "datacontenttype": "application/json",
    }
    assert event.data == b'{"a": 1.50}'


def test_structured_http_request_becomes_attributes_and_data_bytes():
    envelope = {
        "specversion": "1.0",
        "id": "e-1",
        "source": "/s",
        "type": "t",
        "sequence": 4,
        "sampled": True,
        "data": {"a": 1},
    }

    event = from_http({"Content-Type": "application/cloudevents+json; charset=utf-8"}, json.dumps(envelope).encode())

    assert event.attributes["sequence"] == "4"
    assert event.attributes["sampled"] == "true"
    assert event.attributes["datacontenttype"] == "application/json"
    assert json.loads(event.data) == {"a": 1}


def test_structured_data_base64_is_decoded_to_bytes():
    envelope = {"specversion": "1.0", "id": "e-1", "source": "/s", "type": "t", "data_base64": "AAEC"}

    event = from_http({"Content-Type": "application/cloudevents+json"}, json.dumps(envelope).encode())

    assert event.data == b"\x00\x01\x02"


@pytest.mark.parametrize(
    ("headers", "problem"),
    [
        ({"ce-specversion": "1.0", "ce-type": "t"}, "missing required attribute(s): id, source"),
        ({**REQUIRED, "ce-Bad_Name": "x"}, "invalid attribute name(s): bad_name"),
        ({**REQUIRED, "ce-specversion": "0.3"}, "specversion '0.3' is not supported"),
    ],
)
def test_invalid_events_are_refused_with_the_problem_named(headers: dict[str, str], problem: str):
    with pytest.raises(NotACloudEvent, match=problem.replace("(", r"\(").replace(")", r"\)")):
        from_http(headers, b"")


def test_binary_http_percent_encodes_only_what_a_header_cannot_carry():
    headers, body = to_http(Event({"id": "100% café", "datacontenttype": "text/plain"}, b"x"))

    assert headers == {"ce-id": "100% caf%C3%A9", "Content-Type": "text/plain"}
    assert body == b"x"


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
