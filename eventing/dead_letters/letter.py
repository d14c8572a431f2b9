"""A dead letter decoded from its record: the original event, where it failed to go and why, and its id."""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from eventing.dead_letters.errors import NoSuchDeadLetter
from sentinel.codec.event import Event, is_json_media_type

ERROR_EXTENSION_PREFIX = "knativeerror"
ONE_LINE_MAX_CHARS = 300
_ID = re.compile(r"(?:([0-9]{1,6}):)?([0-9]{1,18})")


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    dead_lettered_at: datetime | None  # the record's timestamp: when the dead-letter sink accepted it
    event: Event

    @property
    def id(self) -> str:
        return format_id(self.partition, self.offset)

    @property
    def event_id(self) -> str:
        return self.event.id

    @property
    def event_type(self) -> str:
        return self.event.type

    @property
    def subject(self) -> str | None:
        return self.event.subject

    @property
    def destination(self) -> str | None:
        return self.event.attributes.get("knativeerrordest")

    @property
    def error_code(self) -> int | None:
        code = self.event.attributes.get("knativeerrorcode", "")
        return int(code) if code.isdigit() else None

    @property
    def error_data(self) -> bytes | None:
        """The destination's last answer, as far as it was kept (1,024 bytes)."""
        encoded = self.event.attributes.get("knativeerrordata")
        if encoded is None:
            return None
        try:
            return base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            return encoded.encode()  # not base64 after all: show it as it came

    @property
    def error(self) -> str | None:
        """What went wrong, on one line: the message of the answer's JSON body, else its text."""
        data = self.error_data
        if data:
            return error_message(data)
        if self.error_code is None:
            return "no HTTP answer: the destination could not be reached or did not answer in time"
        return None

    def original(self) -> Event:
        """The event as it was before it was dead-lettered."""
        kept = {
            name: value for name, value in self.event.attributes.items() if not name.startswith(ERROR_EXTENSION_PREFIX)
        }
        return replace(self.event, attributes=kept)

    def to_json(self, *, detail: bool = False) -> dict[str, Any]:
        document: dict[str, Any] = {
            "id": self.id,
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "dead_lettered_at": self.dead_lettered_at.isoformat() if self.dead_lettered_at else None,
            "event_id": self.event_id,
            "type": self.event_type,
            "subject": self.subject,
            "error_code": self.error_code,
            "destination": self.destination,
            "error": self.error,
        }
        if detail:
            document["attributes"] = dict(self.event.attributes)
            document["error_data"] = _readable(self.error_data, json_expected=True)
            document["data"] = _readable(self.event.data, json_expected=is_json_media_type(self.event.media_type))
        return document


@dataclass(frozen=True)
class DeadLetters:
    """The newest dead letters of a topic, newest first, and how many it holds in all."""

    topic: str
    count: int
    letters: tuple[DeadLetter, ...]
    oldest_at: datetime | None

    @property
    def newest_at(self) -> datetime | None:
        return self.letters[0].dead_lettered_at if self.letters else None

    def to_json(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "count": self.count,
            "newest_at": self.newest_at.isoformat() if self.newest_at else None,
            "oldest_at": self.oldest_at.isoformat() if self.oldest_at else None,
            "dead_letters": [letter.to_json() for letter in self.letters],
        }


def error_message(body: bytes) -> str:
    """A function's error answer on one line: `{"error": ..., "problems": [...]}` as its message and problems."""
    text = body.decode("utf-8", "replace")
    try:
        document = json.loads(text)
    except ValueError:
        return _one_line(text)
    if not isinstance(document, dict) or not isinstance(document.get("error"), str):
        return _one_line(text)
    problems = [_problem(item) for item in document.get("problems") or [] if isinstance(item, dict)]
    return _one_line(document["error"] + (f" ({'; '.join(problems)})" if problems else ""))


def _problem(item: dict[str, Any]) -> str:
    message = str(item.get("message", item))
    return f"{item['field']}: {message}" if item.get("field") else message


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= ONE_LINE_MAX_CHARS else line[: ONE_LINE_MAX_CHARS - 1] + "…"


def _readable(data: bytes | None, *, json_expected: bool) -> Any:
    """Bytes for people: the JSON document they hold, else their text."""
    if data is None:
        return None
    if json_expected:
        try:
            return json.loads(data)
        except ValueError:
            pass
    return data.decode("utf-8", "replace")


def parse_id(text: str) -> tuple[int, int]:
    """A dead letter's (partition, offset) from its id: `12`, or `3:12` for partition 3."""
    match = _ID.fullmatch(text.strip())
    if match is None:
        raise NoSuchDeadLetter(
            f"{text!r} is not a dead-letter id: an id is the record's offset, e.g. 12 (3:12 on partition 3)"
        )
    return int(match.group(1) or 0), int(match.group(2))


def format_id(partition: int, offset: int) -> str:
    """A dead letter's id from its (partition, offset): what parse_id reads back."""
    return str(offset) if partition == 0 else f"{partition}:{offset}"
