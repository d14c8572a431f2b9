"""A CloudEvent as every hop holds it: its context attributes, and its data as raw bytes.

Data is kept as the bytes that arrived, so an event passes through the eventing hops
byte for byte, and nothing is added that its sender did not send (the cloudevents SDK
fills in `time` and re-serialises JSON data, which a pass-through must not do). A
function that wants the data as JSON asks for it (`Event.json`); one that makes an
event from a JSON document uses `json_event`, which encodes it once, for every hop
the event then takes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from sentinel.core.errors import ClientError, Problem

SPEC_VERSION = "1.0"
REQUIRED_ATTRIBUTES = ("specversion", "id", "source", "type")
JSON_MEDIA_TYPE = "application/json"

# CloudEvents 1.0, "Attribute Naming Convention": lower-case ASCII letters and digits only.
_ATTRIBUTE_NAME = re.compile(r"[a-z0-9]+")


class NotACloudEvent(ClientError):
    """Why a request or record is not a valid CloudEvent; the message names the problem."""


@dataclass(frozen=True)
class Event:
    attributes: Mapping[str, str]  # context attributes and extensions, datacontenttype included
    data: bytes | None = None

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
        return Event({**self.attributes, **extensions}, self.data)

    def json(self) -> Any:
        """The data as a JSON document; a ClientError (400, or 415 for data of another type) says why not."""
        if not is_json_media_type(self.media_type):
            raise ClientError(f"unsupported data content type {self.media_type!r}: event data must be JSON", status=415)
        if not self.data:
            raise ClientError("the event has no data", problems=[Problem("data", "missing")])
        try:
            return orjson.loads(self.data)
        except orjson.JSONDecodeError as error:
            raise ClientError("event data is not valid JSON", problems=[Problem("data", str(error))]) from None


def json_event(attributes: Mapping[str, str], document: Any) -> Event:
    """A CloudEvents 1.0 event carrying `document` as JSON data."""
    return Event(
        {"specversion": SPEC_VERSION, **attributes, "datacontenttype": JSON_MEDIA_TYPE},
        orjson.dumps(document),
    )


def is_json_media_type(media_type: str) -> bool:
    """JSON, by name or by suffix (RFC 6839); an event that declares no type is read as JSON too."""
    return media_type in ("", JSON_MEDIA_TYPE) or media_type.endswith("/json") or media_type.endswith("+json")


def checked(attributes: dict[str, str], data: bytes | None) -> Event:
    """The event, after the checks every binding makes: required attributes, version, attribute names."""
    missing = [name for name in REQUIRED_ATTRIBUTES if not attributes.get(name)]
    if missing:
        raise NotACloudEvent(
            "malformed CloudEvent: missing required attribute(s) " + ", ".join(missing),
            problems=[Problem(name, "missing attribute") for name in missing],
        )
    if attributes["specversion"] != SPEC_VERSION:
        raise NotACloudEvent(f"specversion {attributes['specversion']!r} is not supported; use {SPEC_VERSION}")
    invalid = sorted(name for name in attributes if not _ATTRIBUTE_NAME.fullmatch(name))
    if invalid:
        raise NotACloudEvent(
            "invalid attribute name(s): " + ", ".join(invalid) + " (only lower-case letters and digits)"
        )
    return Event(attributes, data)
