"""Strict reading of query parameters and form fields.

A bad value is a 400 whose message says which parameter is wrong and what it
takes; unknown parameters are refused too, so a typo (`decison=block`) never
silently shows everything. Empty values count as absent, because a GET form
sends every field, filled in or not.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest

# The transaction schema's rule for transaction and user ids; model versions and client ids
# (API key client names, and '-' for rows stored before ids were scoped per client) fit it too.
ID_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,64}")
ID_RULE = "1-64 characters of A-Z a-z 0-9 . _ : -"
MAX_VALUE_LENGTH = 512


class Arguments:
    """One request's parameters, read one by one; names outside `allowed` are refused."""

    def __init__(self, values: MultiDict[str, str], allowed: Iterable[str]) -> None:
        allowed = set(allowed)
        unknown = sorted(set(values) - allowed)
        if unknown:
            raise BadRequest(
                f"unknown parameter {', '.join(map(repr, unknown))}; this page takes {', '.join(sorted(allowed))}"
            )
        self._values = values

    def raw(self, name: str) -> str | None:
        """The parameter's one value, stripped; None when it is absent or empty."""
        given = self._values.getlist(name)
        if len(given) > 1:
            raise BadRequest(f"{name} is given {len(given)} times; give it once")
        value = given[0].strip() if given else ""
        if len(value) > MAX_VALUE_LENGTH:
            raise BadRequest(f"{name} is longer than {MAX_VALUE_LENGTH} characters")
        if "\x00" in value:
            raise BadRequest(f"{name} contains a NUL character")
        return value or None

    def identifier(self, name: str) -> str | None:
        value = self.raw(name)
        if value is not None and not ID_PATTERN.fullmatch(value):
            raise BadRequest(f"{name} must be {ID_RULE}; got {value!r}")
        return value

    def text(self, name: str, *, max_length: int) -> str | None:
        value = self.raw(name)
        if value is not None and len(value) > max_length:
            raise BadRequest(f"{name} must be at most {max_length} characters")
        return value

    def choice(self, name: str, choices: Sequence[str], default: str | None = None) -> str | None:
        value = self.raw(name)
        if value is None:
            return default
        if value not in choices:
            raise BadRequest(f"{name} must be one of {', '.join(choices)}; got {value!r}")
        return value

    def number(self, name: str, *, low: float, high: float) -> float | None:
        value = self.raw(name)
        if value is None:
            return None
        try:
            number = float(value)
        except ValueError:
            raise BadRequest(f"{name} must be a number from {low:g} to {high:g}; got {value!r}") from None
        if not math.isfinite(number) or not low <= number <= high:
            raise BadRequest(f"{name} must be a number from {low:g} to {high:g}; got {value!r}")
        return number

    def integer(self, name: str, *, low: int, high: int, default: int) -> int:
        value = self.raw(name)
        if value is None:
            return default
        if not re.fullmatch(r"[0-9]{1,9}", value) or not low <= int(value) <= high:
            raise BadRequest(f"{name} must be a whole number from {low} to {high}; got {value!r}")
        return int(value)

    def timestamp(self, name: str) -> datetime | None:
        """An ISO 8601 date or date and time; without a zone it is UTC, as the pages show times."""
        value = self.raw(name)
        if value is None:
            return None
        return parse_timestamp(name, value)


def parse_timestamp(name: str, value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest(
            f"{name} must be an ISO 8601 date or time such as 2026-01-31 or 2026-01-31T09:30; got {value!r}"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def safe_next(target: str | None, default: str) -> str:
    """Where to go after a form: a path on this site only, never another host; else `default`."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


def ordered_pair(low_name: str, low: Any, high_name: str, high: Any, *, strict: bool = False) -> None:
    """Refuse a range whose ends are the wrong way round."""
    if low is not None and high is not None and (low >= high if strict else low > high):
        raise BadRequest(f"{low_name} must be {'before' if strict else 'at most'} {high_name}")


@dataclass(frozen=True)
class Cursor:
    """Where a page of a keyset-paginated list starts: the sort key's value and the identity
    (client and transaction id) of the row beside it.

    It travels in the URL as an opaque token naming the sort it belongs to, so a
    token from another ordering is refused instead of skipping rows.
    """

    sort: str
    value: str
    client: str
    id: str

    def encode(self) -> str:
        document = json.dumps([self.sort, self.value, self.client, self.id], separators=(",", ":"))
        return base64.urlsafe_b64encode(document.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, name: str, token: str, sort: str) -> Cursor:
        try:
            document = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            token_sort, value, client, row_id = document
            if not all(isinstance(part, str) for part in document):
                raise ValueError
        except (ValueError, TypeError, binascii.Error):
            raise BadRequest(f"{name} is not a page position this list gave out") from None
        if token_sort != sort:
            raise BadRequest(f"{name} belongs to another sort order; start again from the first page")
        if not (ID_PATTERN.fullmatch(client) and ID_PATTERN.fullmatch(row_id)):
            raise BadRequest(f"{name} is not a page position this list gave out")
        return cls(sort, value, client, row_id)
