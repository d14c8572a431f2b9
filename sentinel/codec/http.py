"""The CloudEvents HTTP protocol binding 1.0: events in and out of HTTP messages.

Reading tells the content mode by the Content-Type (§3): `application/cloudevents-batch`
is batched, `application/cloudevents` structured, anything else binary, where the
attributes are the `ce-*` headers and the body is the data as it came. Writing is
binary mode, the mode every Knative hop delivers in. Header values are
percent-encoded exactly as §3.1.3.2 says, and decoded likewise.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from urllib.parse import unquote

from sentinel.codec.event import Event, NotACloudEvent, checked, is_json_media_type
from sentinel.codec.json_format import (
    BATCH_MEDIA_TYPE,
    STRUCTURED_MEDIA_TYPE,
    parse_batch,
    parse_structured,
    render_batch,
)

BINARY, STRUCTURED, BATCHED = "binary", "structured", "batched"
_PREFIX, _BATCH_PREFIX = "application/cloudevents", "application/cloudevents-batch"
# §3.1.3.2: space, double-quote, percent and everything outside U+0021-U+007E are percent-encoded.
_MUST_ENCODE = re.compile(r"[^\x21\x23\x24\x26-\x7e]")


def read_events(headers: Mapping[str, str], body: bytes) -> list[Event]:
    """Every event in an HTTP message, whichever content mode it uses."""
    content_type = _content_type(headers)
    mode = _mode(content_type)
    if mode == BATCHED:
        return parse_batch(body)
    return [_single(headers, content_type, mode, body)]


def read_event(headers: Mapping[str, str], body: bytes) -> Event:
    """The one event in an HTTP message in binary or structured mode; a batch is refused."""
    content_type = _content_type(headers)
    mode = _mode(content_type)
    if mode == BATCHED:
        raise NotACloudEvent("batched content mode is not accepted here: send one event per request")
    return _single(headers, content_type, mode, body)


def binary(event: Event) -> tuple[dict[str, str], bytes]:
    """Headers and body of the event in binary content mode (§3.1)."""
    headers = {}
    for name, value in event.attributes.items():
        if name == "datacontenttype":
            headers["Content-Type"] = value
        else:
            headers[f"ce-{name}"] = _percent_encoded(value)
    return headers, event.data or b""


def batch(events: Sequence[Event]) -> tuple[dict[str, str], bytes]:
    """Headers and body of events in batched content mode (§3.3)."""
    return {"Content-Type": BATCH_MEDIA_TYPE}, render_batch(events)


def _mode(content_type: str) -> str:
    """The content mode a Content-Type announces (§3); only the JSON event format is read."""
    media_type = _media_type(content_type)
    mode = BATCHED if media_type.startswith(_BATCH_PREFIX) else STRUCTURED if media_type.startswith(_PREFIX) else BINARY
    if mode != BINARY and media_type not in (STRUCTURED_MEDIA_TYPE, BATCH_MEDIA_TYPE):
        raise NotACloudEvent(
            f"event format {media_type!r} is not supported: use {STRUCTURED_MEDIA_TYPE} or {BATCH_MEDIA_TYPE}",
            status=415,
        )
    return mode


def _single(headers: Mapping[str, str], content_type: str, mode: str, body: bytes) -> Event:
    if mode == STRUCTURED:
        return parse_structured(body)
    attributes: dict[str, str] = {}
    for name, value in headers.items():
        lowered = name.lower()
        if lowered.startswith("ce-"):
            attributes[lowered[3:]] = _header_value(lowered, value)
    if not attributes:
        raise NotACloudEvent(
            f"not a CloudEvent: content type {content_type or 'none'!r} without ce-* headers; send binary mode "
            f"(ce-specversion, ce-id, ce-source, ce-type headers and a JSON body), structured mode "
            f"({STRUCTURED_MEDIA_TYPE}) or batch mode ({BATCH_MEDIA_TYPE})",
            status=400 if is_json_media_type(_media_type(content_type)) else 415,
        )
    if "datacontenttype" in attributes:
        raise NotACloudEvent(
            "binary mode carries datacontenttype as Content-Type; a ce-datacontenttype header is not allowed (§3.1.1)"
        )
    if content_type:
        attributes["datacontenttype"] = content_type
    return checked(attributes, body or None)


def _content_type(headers: Mapping[str, str]) -> str:
    """The Content-Type header, whatever the case of its name (RFC 7230 §3.2)."""
    value = headers.get("Content-Type")
    if value is None:
        value = next((value for name, value in headers.items() if name.lower() == "content-type"), "")
    return value


def _media_type(content_type: str) -> str:
    return content_type.split(";")[0].strip().lower()


def _percent_encoded(value: str) -> str:
    if not _MUST_ENCODE.search(value):
        return value
    return _MUST_ENCODE.sub(lambda match: "".join(f"%{byte:02X}" for byte in match[0].encode()), value)


def _header_value(name: str, value: str) -> str:
    """A header's attribute value: a quoted string unquoted (RFC 7230 §3.2.6), then one round of percent-decoding."""
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = _unquoted(value[1:-1])
    if "%" not in value:
        return value
    try:
        return unquote(value, errors="strict")
    except UnicodeDecodeError:
        raise NotACloudEvent(f"header {name} is percent-encoded, but not as UTF-8") from None


def _unquoted(quoted: str) -> str:
    characters, escaped = [], False
    for character in quoted:
        if escaped or character != "\\":
            characters.append(character)
            escaped = False
        else:
            escaped = True
    return "".join(characters)
