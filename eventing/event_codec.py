"""CloudEvents as the eventing layer moves them: context attributes plus raw data bytes.

Reads an event from an HTTP request (binary or structured content mode) or from a
Kafka record (binary or structured mode, or any other record, which is wrapped the
way Knative's KafkaSource wraps it), and writes one as a binary-mode HTTP request or
Kafka record. The data is never decoded and re-encoded, so it passes through byte for
byte, and nothing is added that the sender did not send (the cloudevents SDK fills in
`time` and re-serialises JSON data, which a pass-through must not do).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote, unquote

SPEC_VERSION = "1.0"
REQUIRED_ATTRIBUTES = ("specversion", "id", "source", "type")
STRUCTURED_MEDIA_TYPE = "application/cloudevents+json"
BATCH_MEDIA_TYPE = "application/cloudevents-batch+json"
WRAPPED_EVENT_TYPE = "dev.knative.kafka.event"

_ATTRIBUTE_NAME = re.compile(r"[a-z0-9]+")
# HTTP header values carry printable ASCII; anything else is percent-encoded
# (CloudEvents HTTP binding §3.1.3.2).
_HEADER_SAFE = "".join(chr(code) for code in range(0x20, 0x7F))
_TIMESTAMP_NOT_AVAILABLE = 0


class NotACloudEvent(ValueError):
    """Why a request or record is not a valid CloudEvent; the message names the problem."""


@dataclass(frozen=True)
class Event:
    attributes: dict[str, str]  # context attributes and extensions, datacontenttype included
    data: bytes | None

    @property
    def id(self) -> str:
        return self.attributes["id"]

    def with_extensions(self, extensions: Mapping[str, str]) -> Event:
        return Event({**self.attributes, **extensions}, self.data)


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


def from_http(headers: Mapping[str, str], body: bytes) -> Event:
    """The event in an HTTP request, in binary or structured content mode."""
    lowered = {name.lower(): value for name, value in headers.items()}
    content_type = lowered.get("content-type", "")
    media_type = content_type.split(";")[0].strip().lower()
    if media_type == BATCH_MEDIA_TYPE:
        raise NotACloudEvent("batched content mode is not accepted: send one event per request")
    if media_type == STRUCTURED_MEDIA_TYPE:
        return _from_structured(body)
    if "ce-specversion" not in lowered:
        raise NotACloudEvent(
            "no ce-specversion header and not application/cloudevents+json: "
            "send a CloudEvent in binary or structured content mode"
        )
    attributes = {name[3:]: unquote(value) for name, value in lowered.items() if name.startswith("ce-")}
    if content_type:
        attributes["datacontenttype"] = content_type
    return _checked(attributes, body or None)


def to_http(event: Event) -> tuple[dict[str, str], bytes | None]:
    """Headers and body of the event in binary content mode."""
    headers = {}
    for name, value in event.attributes.items():
        if name == "datacontenttype":
            headers["Content-Type"] = value
        else:
            headers[f"ce-{name}"] = quote(value, safe=_HEADER_SAFE)
    return headers, event.data


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
        return _from_kafka_cloudevent(headers, record.value())
    except NotACloudEvent:
        return _wrapped(record, headers, namespace, source_name)


def _from_kafka_cloudevent(headers: Iterable[tuple[str, bytes | None]], value: bytes | None) -> Event:
    decoded = [(name.lower(), (raw or b"").decode("utf-8", "replace")) for name, raw in headers]
    content_type = next((text for name, text in reversed(decoded) if name == "content-type"), "")
    if content_type.split(";")[0].strip().lower() == STRUCTURED_MEDIA_TYPE:
        return _from_structured(value or b"")
    attributes = {name[3:]: text for name, text in decoded if name.startswith("ce_")}
    if "specversion" not in attributes:
        raise NotACloudEvent("no ce_specversion header")
    if content_type:
        attributes["datacontenttype"] = content_type
    return _checked(attributes, value)


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


def _from_structured(body: bytes) -> Event:
    try:
        envelope = json.loads(body)
    except ValueError:
        raise NotACloudEvent("the application/cloudevents+json body is not JSON") from None
    if not isinstance(envelope, dict):
        raise NotACloudEvent("the application/cloudevents+json body is not a JSON object")
    if "data" in envelope and "data_base64" in envelope:
        raise NotACloudEvent("an event carries either data or data_base64, not both")
    attributes = {
        name: _attribute_text(name, value)
        for name, value in envelope.items()
        if name not in ("data", "data_base64") and value is not None
    }
    data: bytes | None = None
    if envelope.get("data_base64") is not None:
        try:
            data = base64.b64decode(envelope["data_base64"], validate=True)
        except (binascii.Error, TypeError):
            raise NotACloudEvent("data_base64 is not valid base64") from None
    elif envelope.get("data") is not None:
        data = _data_bytes(envelope["data"], attributes.get("datacontenttype"))
        # In the JSON format an absent datacontenttype means JSON; binary mode must say so.
        attributes.setdefault("datacontenttype", "application/json")
    return _checked(attributes, data)


def _attribute_text(name: str, value: Any) -> str:
    """An attribute's canonical string form (CloudEvents type system)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    raise NotACloudEvent(f"attribute {name!r} must be a string, integer or boolean, not JSON {type(value).__name__}")


def _data_bytes(data: Any, content_type: str | None) -> bytes:
    """Structured-mode `data`: JSON for JSON media types (and when none is given), else text."""
    media_type = (content_type or "application/json").split(";")[0].strip().lower()
    if isinstance(data, str) and not (media_type.endswith("/json") or media_type.endswith("+json")):
        return data.encode()
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def _checked(attributes: dict[str, str], data: bytes | None) -> Event:
    missing = [name for name in REQUIRED_ATTRIBUTES if not attributes.get(name)]
    if missing:
        raise NotACloudEvent("missing required attribute(s): " + ", ".join(missing))
    if attributes["specversion"] != SPEC_VERSION:
        raise NotACloudEvent(f"specversion {attributes['specversion']!r} is not supported; use {SPEC_VERSION}")
    invalid = sorted(name for name in attributes if not _ATTRIBUTE_NAME.fullmatch(name))
    if invalid:
        raise NotACloudEvent(
            "invalid attribute name(s): " + ", ".join(invalid) + " (only lower-case letters and digits)"
        )
    return Event(attributes, data)


def _rfc3339(epoch_ms: int) -> str:
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{epoch_ms % 1000:03d}Z"
