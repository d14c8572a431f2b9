"""The JSON event format (CloudEvents 1.0 JSON format), behind the structured and batched content modes.

An event is a JSON object: its attributes as members, its data as `data` (a JSON
value for JSON media types and when none is given, else a string) or as
`data_base64` (anything else), never both (§3.1). A batch is a JSON array of such
objects, and may be empty (§4). Attributes keep their JSON types' canonical string
forms (§2.2); `null` means unset.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any

import orjson

from sentinel.codec.event import JSON_MEDIA_TYPE, Event, NotACloudEvent, checked, is_json_media_type, json_document
from sentinel.core.errors import ClientError

STRUCTURED_MEDIA_TYPE = "application/cloudevents+json"
BATCH_MEDIA_TYPE = "application/cloudevents-batch+json"
MAX_BATCH_EVENTS = 1000

# The attributes spec.md types as String, URI-reference, URI or Timestamp: JSON strings only (§2.2).
_STRING_ATTRIBUTES = frozenset(
    {"specversion", "id", "source", "type", "datacontenttype", "dataschema", "subject", "time"}
)
_INTEGER_RANGE = range(-(2**31), 2**31)  # spec.md, "Type System": Integer is signed 32-bit
_DATA_MEMBERS = ("data", "data_base64")


def parse_structured(body: bytes) -> Event:
    """The event in a structured-mode body."""
    return from_document(_json(body, "the structured CloudEvent"))


def parse_batch(body: bytes) -> list[Event]:
    """The events in a batched-mode body, in order; each one's problem names its place in the batch."""
    documents = _json(body, "the CloudEvents batch")
    if not isinstance(documents, list):
        raise NotACloudEvent("a CloudEvents batch must be a JSON array")
    if len(documents) > MAX_BATCH_EVENTS:
        raise ClientError(f"a batch holds at most {MAX_BATCH_EVENTS} events, got {len(documents)}", status=413)
    events = []
    for index, document in enumerate(documents):
        try:
            events.append(from_document(document))
        except ClientError as error:
            raise NotACloudEvent(f"batch item {index}: {error.message}", problems=error.problems) from None
    return events


def render_batch(events: Sequence[Event]) -> bytes:
    return orjson.dumps([to_document(event) for event in events])


def from_document(document: Any) -> Event:
    """The event a JSON-format object holds (§3)."""
    if not isinstance(document, dict):
        raise NotACloudEvent("a structured CloudEvent must be a JSON object")
    if "data" in document and "data_base64" in document:
        raise NotACloudEvent("an event carries either data or data_base64, not both (JSON format §3.1)")
    attributes = {
        name: _attribute_text(name, value)
        for name, value in document.items()
        if name not in _DATA_MEMBERS and value is not None
    }
    if document.get("data_base64") is not None:
        return checked(attributes, _base64(document["data_base64"]), opaque="datacontenttype" not in attributes)
    if "data" not in document:
        return checked(attributes, None)
    data = document["data"]
    if is_json_media_type(attributes.get("datacontenttype", "").split(";")[0].strip().lower()):
        # In the JSON format an absent datacontenttype means JSON; other modes must say so (§3.1.2).
        attributes.setdefault("datacontenttype", JSON_MEDIA_TYPE)
        return checked(attributes, _json_bytes(data))
    if not isinstance(data, str):
        raise NotACloudEvent("data of a datacontenttype other than JSON must be a JSON string (JSON format §3.1.2)")
    return checked(attributes, _utf8(data))


def to_document(event: Event) -> dict[str, Any]:
    """The event as a JSON-format object; JSON data is spliced in as it is, without decoding it.

    Data of no declared type is binary as far as the format knows: data_base64 (§3.1.1)."""
    document: dict[str, Any] = dict(event.attributes)
    if event.data is None:
        return document
    if "datacontenttype" in event.attributes and is_json_media_type(event.media_type):
        document["data"] = orjson.Fragment(event.data)
    else:
        document["data_base64"] = base64.b64encode(event.data).decode()
    return document


def _json(body: bytes, what: str) -> Any:
    try:
        return json_document(body, what)
    except ClientError as error:
        raise NotACloudEvent(error.message, problems=error.problems) from None


def _attribute_text(name: str, value: Any) -> str:
    """An attribute's canonical string form (spec.md, "Type System"; JSON format §2.2)."""
    if isinstance(value, str):
        return value
    if name in _STRING_ATTRIBUTES:
        raise NotACloudEvent(f"attribute {name!r} must be a JSON string, not {_json_type(value)}")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and value in _INTEGER_RANGE:
        return str(value)
    if isinstance(value, int):
        raise NotACloudEvent(f"attribute {name!r} is an Integer outside the signed 32-bit range")
    raise NotACloudEvent(f"attribute {name!r} must be a string, integer or boolean, not {_json_type(value)}")


def _base64(value: Any) -> bytes:
    if not isinstance(value, str):
        raise NotACloudEvent("data_base64 must be a JSON string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise NotACloudEvent("data_base64 is not valid base64 (RFC 4648 §4)") from None


def _json_bytes(data: Any) -> bytes:
    """JSON data as the bytes the event carries on; a document too deep to write back is the sender's fault."""
    try:
        return orjson.dumps(data)
    except orjson.JSONEncodeError as error:
        raise NotACloudEvent(f"the event data cannot be written back as JSON: {error}") from None


def _utf8(text: str) -> bytes:
    try:
        return text.encode()
    except UnicodeEncodeError:
        raise NotACloudEvent("the event data holds a lone surrogate, which UTF-8 cannot encode") from None


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a JSON boolean"
    if isinstance(value, (int, float)):
        return "a JSON number"
    return {dict: "a JSON object", list: "a JSON array"}.get(type(value), type(value).__name__)
