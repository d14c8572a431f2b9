"""Event signatures: an HMAC-SHA256 a function adds to the events it emits and the next hop checks.

The signature covers a canonical form of the event, not its bytes, so it survives
every hop: the HTTP content modes re-encode the data (structured and batched mode
parse and write it again), headers are percent-encoded, Kafka carries attributes as
record headers. The canonical form is one JSON array, written with sorted member
names, no whitespace and every number as a float (a hop that writes 3600.0 as 3600
changes no value Sentinel reads):

    ["sentinel-event/1", type, source, id, subject or null, data]

A JSON array cannot be confused with another split of the same fields, so no
separator can be smuggled into an attribute. The signature travels in the
`sentinelsig` extension attribute as `v1=<hex>`.

Each key family (received, scored) signs with its current key and accepts the
current and, during a rotation, one other key (docs/eventing.md, "Integrity").
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ATTRIBUTE = "sentinelsig"  # CloudEvents extension names: a-z0-9, at most 20 characters
SCHEME = "v1="
CANONICAL_FORMAT = "sentinel-event/1"


@dataclass(frozen=True)
class SigningKeys:
    """One key family: `current` signs and verifies; `other` (during a rotation) only verifies.

    `setting` names the variable the current key comes from, for the reason a function gives
    when it has none."""

    setting: str
    current: str | None = field(default=None, repr=False)
    other: str | None = field(default=None, repr=False)

    def missing(self) -> str | None:
        """None when these keys can sign, else why not."""
        return None if self.current else f"{self.setting} is not set: events cannot be signed or verified"

    def sign(self, attributes: Mapping[str, str], data: Any) -> str:
        """The signature attribute value of an event with these attributes and JSON data."""
        if not self.current:
            raise ValueError(self.missing())
        return SCHEME + _mac(self.current, canonical(attributes, data))

    def verifies(self, signature: str | None, attributes: Mapping[str, str], data: Any) -> bool:
        """Whether `signature` was made by the current or the other key over this event."""
        if not signature or not signature.startswith(SCHEME):
            return False
        message = canonical(attributes, data)
        presented = signature[len(SCHEME) :].encode("ascii", "replace")
        matches = [
            hmac.compare_digest(presented, _mac(key, message).encode()) for key in (self.current, self.other) if key
        ]
        return any(matches)


def canonical(attributes: Mapping[str, str], data: Any) -> bytes:
    """The bytes a signature covers (see the module docstring)."""
    fields = [
        CANONICAL_FORMAT,
        attributes.get("type"),
        attributes.get("source"),
        attributes.get("id"),
        attributes.get("subject"),
        data,
    ]
    return canonical_json(fields)


def canonical_json(value: Any) -> bytes:
    """`value` as JSON with sorted member names, no whitespace and every number as a float:
    the same bytes for the same values, however they were written on the way."""
    return json.dumps(
        _numbers_as_floats(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8", "surrogatepass")


def _mac(key: str, message: bytes) -> str:
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def _numbers_as_floats(value: Any) -> Any:
    if isinstance(value, dict):
        return {name: _numbers_as_floats(item) for name, item in value.items()}
    if isinstance(value, list):
        return [_numbers_as_floats(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value) if abs(value) < 2**53 else value
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("event data holds a number JSON cannot carry")
    return value
