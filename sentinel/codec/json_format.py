"""The JSON event format (CloudEvents 1.0 JSON format), behind the structured and batched content modes.

An event is a JSON object: its attributes as members, its data as `data` (a JSON
value, for JSON media types and when none is given, or a string for text) or as
`data_base64` (anything else), never both (§3.1). A batch is a JSON array of such
objects, and may be empty (§4).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any

import orjson

from sentinel.codec.event import Event, NotACloudEvent, checked, is_json_media_type
from sentinel.core.errors import ClientError

STRUCTURED_MEDIA_TYPE = "application/cloudevents+json"
BATCH_MEDIA_TYPE = "application/cloudevents-batch+json"
MAX_BATCH_EVENTS = 1000


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
    if not isinstance(document, dict):
        raise NotACloudEvent("a structured CloudEvent must be a JSON object")
    if "data" in document and "data_base64" in document:
        raise NotACloudEvent("an event carries either data or data_base64, not both")
    attributes = {
        name: _attribute_text(name, value)
        for name, value in document.items()
        if name not in ("data", "data_base64") and value is not None
    }
    data: bytes | None = None
    if document.get("data_base64") is not None:
        try:
            data = base64.b64decode(document["data_base64"], validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise NotACloudEvent("data_base64 is not valid base64") from None
    elif document.get("data") is not None:
        media_type = attributes.get("datacontenttype", "").split(";")[0].strip().lower()
        if isinstance(document["data"], str) and not is_json_media_type(media_type):
            data = document["data"].encode()
        else:
            data = orjson.dumps(document["data"])
            # In the JSON format an absent datacontenttype means JSON; other modes must say so.
            attributes.setdefault("datacontenttype", "application/json")
    return checked(attributes, data)


def to_document(event: Event) -> dict[str, Any]:
    """The event as a JSON-format object; JSON data is spliced in as it is, without decoding it."""
    document: dict[str, Any] = dict(event.attributes)
    if event.data is None:
        return document
    if is_json_media_type(event.media_type):
        document["data"] = orjson.Fragment(event.data)
    else:
        document["data_base64"] = base64.b64encode(event.data).decode()
    return document


def _attribute_text(name: str, value: Any) -> str:
    """An attribute's canonical string form (CloudEvents 1.0, "Type System")."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    raise NotACloudEvent(f"attribute {name!r} must be a string, integer or boolean, not JSON {type(value).__name__}")


def _json(body: bytes, what: str) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise NotACloudEvent(f"{what} is not valid JSON: {error}") from None
