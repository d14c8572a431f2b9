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
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sentinel.codec.event import SPEC_VERSION, Event, NotACloudEvent, checked, is_media_type
from sentinel.codec.json_format import STRUCTURED_MEDIA_TYPE, parse_structured
from sentinel.core.transaction import FORBIDDEN_CHARACTERS

WRAPPED_EVENT_TYPE = "dev.knative.kafka.event"
_TIMESTAMP_NOT_AVAILABLE = 0
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NOT_NAME_CHARACTER = re.compile(r"[^a-z0-9]")


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
    content_type = ""
    attributes: dict[str, str] = {}
    for name, raw in headers:
        lowered = name.lower()
        if lowered == "content-type":
            content_type = _utf8(lowered, raw)
        elif lowered.startswith("ce_"):
            if lowered[3:] in attributes:
                raise NotACloudEvent(f"header {lowered} appears more than once (spec.md: each attribute at most once)")
            attributes[lowered[3:]] = _utf8(lowered, raw)
    if content_type.split(";")[0].strip().lower() == STRUCTURED_MEDIA_TYPE:
        return parse_structured(value or b"")
    if "specversion" not in attributes:
        raise NotACloudEvent("no ce_specversion header")
    if content_type:
        attributes["datacontenttype"] = content_type
    return checked(attributes, value)


def _utf8(name: str, raw: bytes | None) -> str:
    """A header value: UTF-8, as §3.2.3 says every header key and value is."""
    try:
        return (raw or b"").decode()
    except UnicodeDecodeError:
        raise NotACloudEvent(f"header {name} is not UTF-8 (Kafka binding §3.2.3)") from None


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
    time = _rfc3339(timestamp_ms) if timestamp_type != _TIMESTAMP_NOT_AVAILABLE else None
    if time is not None:
        attributes["time"] = time
    key = record.key()
    if key is not None:
        attributes["partitionkey"] = attributes["key"] = _text(key)
    for name, raw in headers:
        if name.lower() == "content-type" and is_media_type(_text(raw)):
            attributes["datacontenttype"] = _text(raw).lower()
        else:
            attributes["kafkaheader" + _NOT_NAME_CHARACTER.sub("", name.lower())] = _text(raw)
    return Event(attributes, record.value())


def _text(raw: bytes | None) -> str:
    """Bytes as a CloudEvents String: what is not UTF-8, or not allowed in a String, becomes U+FFFD."""
    return FORBIDDEN_CHARACTERS.sub("\ufffd", (raw or b"").decode("utf-8", "replace"))


def _rfc3339(epoch_ms: int) -> str | None:
    """A record timestamp as RFC 3339 in UTC, to the millisecond; None when no datetime holds it."""
    try:
        moment = _EPOCH + timedelta(milliseconds=epoch_ms)
    except OverflowError:
        return None
    return moment.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"
