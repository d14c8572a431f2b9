"""The CloudEvents Kafka protocol binding 1.0: events in and out of Kafka records.

Writing is binary mode: each attribute a `ce_` header, the data the record's value,
the `partitionkey` extension the record key (§3.2, §3.3). Reading takes binary and
structured records; any other record is wrapped the way Knative's KafkaSource wraps
it (DESIGN.md §4): type `dev.knative.kafka.event`, its coordinates as id and subject.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from sentinel.codec.event import SPEC_VERSION, Event, NotACloudEvent, checked
from sentinel.codec.json_format import STRUCTURED_MEDIA_TYPE, parse_structured

WRAPPED_EVENT_TYPE = "dev.knative.kafka.event"
_TIMESTAMP_NOT_AVAILABLE = 0


@dataclass(frozen=True)
class KafkaRecord:
    key: bytes | None
    headers: list[tuple[str, bytes]]
    value: bytes | None


class ConsumedRecord(Protocol):
    """The parts of a confluent_kafka.Message that an event is read from."""

    def topic(self) -> str | None: ...
    def partition(self) -> int | None: ...
    def offset(self) -> int | None: ...
    def key(self) -> bytes | None: ...
    def value(self) -> bytes | None: ...
    def headers(self) -> list[tuple[str, bytes | None]] | None: ...
    def timestamp(self) -> tuple[int, int]: ...


def to_kafka(event: Event) -> KafkaRecord:
    """The event as a binary-mode Kafka record, keyed by its `partitionkey` extension."""
    headers = [
        ("content-type" if name == "datacontenttype" else f"ce_{name}", value.encode())
        for name, value in event.attributes.items()
    ]
    partition_key = event.attributes.get("partitionkey")
    return KafkaRecord(
        key=partition_key.encode() if partition_key is not None else None,
        headers=headers,
        value=event.data,
    )


def from_kafka(record: ConsumedRecord, *, namespace: str, source_name: str) -> Event:
    """The CloudEvent a record carries, or, for any other record, the event KafkaSource wraps it in."""
    headers = record.headers() or []
    try:
        return _cloudevent(headers, record.value())
    except NotACloudEvent:
        return _wrapped(record, headers, namespace, source_name)


def _cloudevent(headers: Iterable[tuple[str, bytes | None]], value: bytes | None) -> Event:
    decoded = [(name.lower(), (raw or b"").decode("utf-8", "replace")) for name, raw in headers]
    content_type = next((text for name, text in reversed(decoded) if name == "content-type"), "")
    if content_type.split(";")[0].strip().lower() == STRUCTURED_MEDIA_TYPE:
        return parse_structured(value or b"")
    attributes = {name[3:]: text for name, text in decoded if name.startswith("ce_")}
    if "specversion" not in attributes:
        raise NotACloudEvent("no ce_specversion header")
    if content_type:
        attributes["datacontenttype"] = content_type
    return checked(attributes, value)


def _wrapped(
    record: ConsumedRecord, headers: Iterable[tuple[str, bytes | None]], namespace: str, source_name: str
) -> Event:
    partition, offset = record.partition(), record.offset()
    attributes = {
        "specversion": SPEC_VERSION,
        "id": f"partition:{partition}/offset:{offset}",
        "source": f"/apis/v1/namespaces/{namespace}/kafkasources/{source_name}#{record.topic()}",
        "type": WRAPPED_EVENT_TYPE,
        "subject": f"partition:{partition}#{offset}",
    }
    timestamp_type, timestamp_ms = record.timestamp()
    if timestamp_type != _TIMESTAMP_NOT_AVAILABLE:
        attributes["time"] = _rfc3339(timestamp_ms)
    key = record.key()
    if key is not None:
        attributes["partitionkey"] = attributes["key"] = key.decode("utf-8", "replace")
    for name, raw in headers:
        text = (raw or b"").decode("utf-8", "replace")
        if name.lower() == "content-type":
            attributes["datacontenttype"] = text.lower()
        else:
            attributes["kafkaheader" + re.sub(r"[^a-z0-9]", "", name.lower())] = text
    return Event(attributes, record.value())


def _rfc3339(epoch_ms: int) -> str:
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{epoch_ms % 1000:03d}Z"
