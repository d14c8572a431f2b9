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
_CE_PREFIXES = ("ce-", "Ce-", "CE-", "cE-")
# §3.1.3.2: space, double-quote, percent and everything outside U+0021-U+007E are percent-encoded.
_MUST_ENCODE = re.compile(r"[^\x21\x23\x24\x26-\x7e]")
# A header value needs decoding when it holds a double-quote or a percent sign; raw spaces
# are read as they are, as older versions of the binding sent them.
_NEEDS_DECODING = re.compile(r"[^\x20\x21\x23\x24\x26-\x7e]")
_NOT_PRINTABLE_ASCII = re.compile(r"[^\x20-\x7e]")
_QUOTED_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')  # RFC 7230 §3.2.6
_QUOTED_PAIR = re.compile(r"\\(.)")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_CHARSET = re.compile(r";[ \t]*charset=\"?([^\";]*)", re.IGNORECASE)


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
    """The content mode a Content-Type announces (§3); only the JSON event format is read, in UTF-8."""
    if content_type[: len(_PREFIX)].lower() != _PREFIX:
        return BINARY
    media_type = _media_type(content_type)
    mode = BATCHED if media_type.startswith(_BATCH_PREFIX) else STRUCTURED
    if media_type not in (STRUCTURED_MEDIA_TYPE, BATCH_MEDIA_TYPE):
        raise NotACloudEvent(
            f"event format {media_type!r} is not supported: use {STRUCTURED_MEDIA_TYPE} or {BATCH_MEDIA_TYPE}",
            status=415,
        )
    charset = _CHARSET.search(content_type)
    if charset and charset[1].strip().lower() not in ("utf-8", "utf8"):
        raise NotACloudEvent(f"charset {charset[1]!r} is not supported: JSON is UTF-8 (RFC 8259 §8.1)", status=415)
    return mode


def _single(headers: Mapping[str, str], content_type: str, mode: str, body: bytes) -> Event:
    if mode == STRUCTURED:
        return parse_structured(body)
    attributes: dict[str, str] = {}
    for name, value in headers.items():
        if not name.startswith(_CE_PREFIXES):
            continue
        attribute = name[3:].lower()
        if attribute in attributes:
            raise NotACloudEvent(f"attribute {attribute} appears in more than one header (spec.md: at most once)")
        attributes[attribute] = value if _NEEDS_DECODING.search(value) is None else _header_value(attribute, value)
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
    """A header's attribute value (§3.1.3.2): a quoted string unquoted (RFC 7230 §3.2.6), then percent-decoded once."""
    if _NOT_PRINTABLE_ASCII.search(value):
        raise NotACloudEvent(
            f"header ce-{name} holds characters outside printable ASCII: percent-encode them (§3.1.3.2)"
        )
    quoted = _QUOTED_STRING.fullmatch(value)
    if quoted:
        value = _QUOTED_PAIR.sub(r"\1", quoted[1])
    if "%" not in value:
        return value
    if _BAD_PERCENT.search(value):
        raise NotACloudEvent(f"header ce-{name} holds a % that is not followed by two hex digits (§3.1.3.2)")
    try:
        return unquote(value, errors="strict")
    except UnicodeDecodeError:
        raise NotACloudEvent(f"header ce-{name} is percent-encoded, but not as UTF-8 (§3.1.3.2)") from None
