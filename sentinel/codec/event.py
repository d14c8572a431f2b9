"""A CloudEvent as every hop holds it: its context attributes, and its data as raw bytes.

Data is kept as the bytes that arrived, so an event passes through the eventing hops
byte for byte, and nothing is added that its sender did not send (the cloudevents SDK
fills in `time` and re-serialises JSON data, which a pass-through must not do). A
function that wants the data as JSON asks for it (`Event.json`); one that makes an
event from a JSON document uses `json_event`, which encodes it once, for every hop
the event then takes.

Every binding reads an event through `checked`, which holds it to CloudEvents 1.0
(spec.md, "Context Attributes"): the required attributes, each attribute's type, and
the naming convention. JSON is read through `json_document`, which also refuses what
RFC 8259 leaves open (duplicate member names) and bounds the nesting.
"""

from __future__ import annotations

import json as stdlib_json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from sentinel.core.errors import ClientError, Problem
from sentinel.core.transaction import is_text, rfc3339, shown

SPEC_VERSION = "1.0"
REQUIRED_ATTRIBUTES = ("specversion", "id", "source", "type")
JSON_MEDIA_TYPE = "application/json"
# RFC 8259 §9 lets a parser limit nesting. Sentinel's own events are 3 levels deep.
MAX_JSON_DEPTH = 64

# spec.md, "Naming Conventions": lower-case ASCII letters and digits (MUST); starting
# with a letter and at most 20 characters (SHOULD). Knative's KafkaSource names the
# headers of a record it wraps `kafkaheader<name>`, which may be longer: allowed, so
# such an event can still be dead-lettered.
_ATTRIBUTE_NAME = re.compile(r"[a-z][a-z0-9]{0,19}|kafkaheader[a-z0-9]*")
_COMMON_NAMES = frozenset(
    {*REQUIRED_ATTRIBUTES, "datacontenttype", "dataschema", "subject", "time", "partitionkey", "traceparent"}
)
_RESERVED_NAME = "data"

# RFC 3986 §4.1 URI-reference (an IP literal's inside is checked only for its characters).
_PCT = r"%[0-9A-Fa-f]{2}"
_UNRESERVED_OR_SUB = r"A-Za-z0-9\-._~!$&'()*+,;="
_PCHAR = rf"(?:[{_UNRESERVED_OR_SUB}:@]|{_PCT})"
_PCHAR_NO_COLON = rf"(?:[{_UNRESERVED_OR_SUB}@]|{_PCT})"
_AUTHORITY = (
    rf"(?:(?:[{_UNRESERVED_OR_SUB}:]|{_PCT})*@)?"
    rf"(?:\[[0-9A-Za-z:.\-_~!$&'()*+,;=]+\]|(?:[{_UNRESERVED_OR_SUB}]|{_PCT})*)(?::[0-9]*)?"
)
_SEGMENTS = rf"(?:/{_PCHAR}*)*"
_QUERY_FRAGMENT = rf"(?:\?(?:{_PCHAR}|[/?])*)?(?:#(?:{_PCHAR}|[/?])*)?"
_ABSOLUTE = rf"[A-Za-z][A-Za-z0-9+\-.]*:(?://{_AUTHORITY}{_SEGMENTS}|/?(?:{_PCHAR}+{_SEGMENTS})?){_QUERY_FRAGMENT}"
_RELATIVE = rf"(?://{_AUTHORITY}{_SEGMENTS}|/(?:{_PCHAR}+{_SEGMENTS})?|{_PCHAR_NO_COLON}+{_SEGMENTS}|){_QUERY_FRAGMENT}"
_URI = re.compile(_ABSOLUTE)
_URI_REFERENCE = re.compile(rf"{_ABSOLUTE}|{_RELATIVE}")

# RFC 2045 §5.1: type "/" subtype *(";" parameter), parameter = attribute "=" (token / quoted-string).
_TOKEN = r"[!#$%&'*+\-.^_`{|}~0-9A-Za-z]+"
_MEDIA_TYPE = re.compile(rf"{_TOKEN}/{_TOKEN}(?:[ \t]*;[ \t]*{_TOKEN}=(?:{_TOKEN}|\"(?:[^\"\\\r\n]|\\.)*\"))*")


class NotACloudEvent(ClientError):
    """Why a request or record is not a valid CloudEvent; the message names the problem."""


@dataclass(frozen=True)
class Event:
    attributes: Mapping[str, str]  # context attributes and extensions, datacontenttype included
    data: bytes | None = None
    # Data that came as data_base64 without a datacontenttype: of unknown type, so it is
    # never read as JSON (JSON format §3.1.2), where a binary-mode body without one is.
    opaque: bool = False

    @property
    def id(self) -> str:
        return self.attributes["id"]

    @property
    def type(self) -> str:
        return self.attributes["type"]

    @property
    def source(self) -> str:
        return self.attributes["source"]

    @property
    def subject(self) -> str | None:
        return self.attributes.get("subject")

    @property
    def media_type(self) -> str:
        """The data's media type without parameters, lower-cased; '' when none is declared."""
        return self.attributes.get("datacontenttype", "").split(";")[0].strip().lower()

    def with_extensions(self, extensions: Mapping[str, str]) -> Event:
        return Event({**self.attributes, **extensions}, self.data, self.opaque)

    def json(self) -> Any:
        """The data as a JSON document; a ClientError (400, or 415 for data of another type) says why not."""
        if self.opaque:
            raise ClientError(
                "the event data came as data_base64 without a datacontenttype: it is not JSON", status=415
            )
        if self.attributes.get("datacontenttype") != JSON_MEDIA_TYPE and not is_json_media_type(self.media_type):
            raise ClientError(f"unsupported data content type {self.media_type!r}: event data must be JSON", status=415)
        if not self.data:
            raise ClientError("the event has no data", problems=[Problem("data", "missing")])
        return json_document(self.data, "event data", field="data")


def json_event(attributes: Mapping[str, str], document: Any) -> Event:
    """A CloudEvents 1.0 event carrying `document` as JSON data."""
    return Event(
        {"specversion": SPEC_VERSION, **attributes, "datacontenttype": JSON_MEDIA_TYPE},
        orjson.dumps(document),
    )


def is_json_media_type(media_type: str) -> bool:
    """JSON, by name or by suffix (RFC 6839); an event that declares no type is read as JSON too."""
    return media_type in ("", JSON_MEDIA_TYPE) or media_type.endswith("/json") or media_type.endswith("+json")


def is_media_type(value: str) -> bool:
    """Whether `value` is a media type with optional parameters (RFC 2046, in the syntax of RFC 2045 §5.1)."""
    return value == JSON_MEDIA_TYPE or _MEDIA_TYPE.fullmatch(value) is not None


def json_document(raw: bytes, what: str, *, field: str | None = None) -> Any:
    """`raw` parsed as JSON; a 400 naming the problem when it is not JSON, repeats a member name or nests too deep.

    RFC 8259 §4 leaves the meaning of a repeated member name open (parsers keep the
    first, the last, or both), so one is refused rather than guessed at. `field`
    names where the JSON came from in the problems of the error."""
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise ClientError(f"{what} is not valid JSON: {error}", problems=_problems(field, str(error))) from None
    if not _shallow(raw) and _depth(document) > MAX_JSON_DEPTH:
        message = f"is nested deeper than {MAX_JSON_DEPTH} levels"
        raise ClientError(f"{what} {message}", problems=_problems(field, message))
    repeated = _repeated_name(raw, document)
    if repeated is not None:
        name = shown(repeated)
        raise ClientError(
            f"{what} repeats the member name {name!r}", problems=[Problem(name, "appears more than once")]
        )
    return document


def checked(attributes: dict[str, str], data: bytes | None, *, opaque: bool = False) -> Event:
    """The event, after the checks every binding makes (spec.md, "Context Attributes")."""
    missing = [name for name in REQUIRED_ATTRIBUTES if not attributes.get(name)]
    if missing:
        raise NotACloudEvent(
            "malformed CloudEvent: missing required attribute(s) " + ", ".join(missing),
            problems=[Problem(name, "missing or empty") for name in missing],
        )
    if attributes["specversion"] != SPEC_VERSION:
        raise NotACloudEvent(f"specversion {attributes['specversion']!r} is not supported; use {SPEC_VERSION}")
    invalid = [] if _COMMON_NAMES.issuperset(attributes) else _invalid_names(attributes)
    if invalid:
        raise NotACloudEvent(
            "invalid attribute name(s): "
            + ", ".join(invalid)
            + " (lower-case letters a-z and digits, starting with a letter, at most 20 characters, not 'data')"
        )
    problems = _value_problems(attributes)
    if problems:
        raise NotACloudEvent(
            "invalid CloudEvent attribute(s): " + ", ".join(problem.field or "" for problem in problems),
            problems=problems,
        )
    return Event(attributes, data, opaque)


def _invalid_names(attributes: dict[str, str]) -> list[str]:
    return sorted(
        name
        for name in attributes
        if name not in _COMMON_NAMES and (name == _RESERVED_NAME or not _ATTRIBUTE_NAME.fullmatch(name))
    )


def _value_problems(attributes: dict[str, str]) -> list[Problem]:
    """What is wrong with the attribute values, by their types (spec.md, "Type System", and each attribute)."""
    problems = []
    if not is_text("".join(attributes.values())):
        problems.extend(
            Problem(name, "holds a control character, a surrogate or a Unicode noncharacter (a String must not)")
            for name, value in attributes.items()
            if not is_text(value)
        )
    if not _URI_REFERENCE.fullmatch(attributes["source"]):
        problems.append(Problem("source", "must be a URI-reference (RFC 3986 §4.1)"))
    subject = attributes.get("subject")
    if subject is not None and not subject:
        problems.append(Problem("subject", "must not be empty when present"))
    dataschema = attributes.get("dataschema")
    if dataschema is not None and not _URI.fullmatch(dataschema):
        problems.append(Problem("dataschema", "must be an absolute URI (RFC 3986 §4.3)"))
    time = attributes.get("time")
    if time is not None and rfc3339(time) is None:
        problems.append(Problem("time", "must be an RFC 3339 timestamp such as 2026-11-29T10:00:00Z"))
    content_type = attributes.get("datacontenttype")
    if content_type is not None and not is_media_type(content_type):
        problems.append(Problem("datacontenttype", "must be a media type such as application/json (RFC 2046)"))
    return problems


def _problems(field: str | None, message: str) -> list[Problem]:
    return [Problem(field, message)] if field else []


def _shallow(raw: bytes) -> bool:
    """Whether JSON text surely nests no deeper than MAX_JSON_DEPTH, told without parsing.

    Nesting is no deeper than the number of brackets; a flat object (one '{', first)
    is told by two byte searches, anything else by counting."""
    if b"[" not in raw and raw.find(b"{", 1) < 0:
        return True
    return raw.count(b"[") + raw.count(b"{") <= MAX_JSON_DEPTH


def _depth(document: Any) -> int:
    """How deeply arrays and objects nest in `document` (a scalar is 0)."""
    deepest, level = 0, [(document, 1)]
    while level:
        value, depth = level.pop()
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else None
        if children is not None:
            deepest = max(deepest, depth)
            level.extend((child, depth + 1) for child in children)
    return deepest


def _repeated_name(raw: bytes, document: Any) -> str | None:
    """A member name some object of `raw` repeats, or None.

    `document` written back is `raw` itself when `raw` is compact (as every event
    Sentinel writes is), so nothing was dropped. Otherwise, when no string holds an
    escaped quote, every '"' of either delimits a string, so both hold as many quotes
    exactly when no member was dropped as a repeat. Else `raw` is parsed again, object
    by object."""
    written = orjson.dumps(document)
    if written == raw or (_no_escaped_quote(raw) and raw.count(b'"') == written.count(b'"')):
        return None
    try:
        stdlib_json.loads(raw, object_pairs_hook=_unique_members)
    except _RepeatedName as repeated:
        return repeated.name
    return None


def _no_escaped_quote(raw: bytes) -> bool:
    return b'\\"' not in raw and b"\\u0022" not in raw


class _RepeatedName(Exception):
    def __init__(self, name: str) -> None:
        self.name = name


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members = dict(pairs)
    if len(members) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise _RepeatedName(name)
            seen.add(name)
    return members
