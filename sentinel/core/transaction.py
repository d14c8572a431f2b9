"""The Transaction schema (DESIGN.md §3) and its validation.

Field names are those of the public credit-card fraud dataset, so the original
Sentinel clients keep working. Unknown fields are rejected: a typo must never
silently zero a feature.

What validation accepts, PostgreSQL stores and reads back as it was sent
(docs/bad-input.md): text without control characters, timestamps in the strict
RFC 3339 form within the range both PostgreSQL and Python hold, and numbers the
model and a jsonb column keep exactly.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sentinel.core.api_keys import NAME_PATTERN, NAME_RULE
from sentinel.core.errors import ClientError, Problem

Transaction = dict[str, Any]

PCA_FIELDS = tuple(f"V{i}" for i in range(1, 29))
FEATURE_NAMES: tuple[str, ...] = ("Time", *PCA_FIELDS, "Amount")
MAX_AMOUNT = 10_000_000
# Time and V1..V28 stay within ±10^15: jsonb keeps a number as the decimal it was sent
# as, and one of 10^16 or more comes back as an integer that is not the float sent.
MAX_FEATURE = 1e15
ID_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,64}")
ID_RULE = "must be 1-64 characters of A-Z a-z 0-9 . _ : -"
_CURRENCY_PATTERN = re.compile(r"[A-Z]{3}")

_PCA_FEATURES = frozenset(PCA_FIELDS)  # any sign, within ±MAX_FEATURE

REQUIRED_FIELDS = ("transaction_id", "user_id", *FEATURE_NAMES)
OPTIONAL_FIELDS = ("currency", "merchant_id", "event_time")

# What no text may hold: the control characters C0 (NUL among them, which PostgreSQL
# text cannot store), DEL and C1; surrogates, which UTF-8 cannot encode; and Unicode's
# noncharacters. These are the characters the CloudEvents String type excludes.
FORBIDDEN_CHARACTERS = re.compile(
    "[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef"
    + "".join(chr(plane + 0xFFFE) + chr(plane + 0xFFFF) for plane in range(0, 0x110000, 0x10000))
    + "]"
)
TEXT_RULE = "must not hold control characters, surrogates or Unicode noncharacters"

# The form every stored timestamp has: RFC 3339 with upper-case T and Z, at most
# microseconds, an offset under 16 hours. Its values are checked by datetime.fromisoformat.
_STORED_FORM = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?(?:Z|[+-](?:0[0-9]|1[0-5]):[0-5][0-9])"
)
# RFC 3339 §5.6 date-time; "T" and "Z" may be lower case (its note on ABNF).
_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))"
)
# PostgreSQL refuses offsets of 16 hours or more ("time zone displacement out of range").
_MAX_OFFSET_MINUTES = 16 * 60 - 1
# A day inside Python's datetime range, so the instant reads back as a datetime in any
# session time zone (PostgreSQL has no year 0, Python no year 10000).
_EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
_LATEST = datetime(9999, 12, 31, tzinfo=UTC)
TIMESTAMP_EXAMPLE = "2026-11-29T10:00:00Z"
_MONTH_DAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


class DateTime(NamedTuple):
    """The fields of an RFC 3339 date-time, as written."""

    year: int
    month: int
    day: int
    hour: int
    minute: int
    second: int
    fraction: str
    offset_minutes: int


CLIENT_FIELD = "client_id"  # whose transaction it is: ingest adds it from the caller's key


def validate(data: Any, *, extra_fields: tuple[str, ...] = (), with_client: bool = False) -> Transaction:
    """Return the transaction with numbers as floats, or raise ClientError naming every problem.

    `extra_fields` are further timestamp fields a later stage adds (ingest's `received_at`);
    `with_client`: the data also names its client, as ingest's received events do.
    """
    if not isinstance(data, dict):
        raise ClientError("the transaction must be a JSON object", problems=[Problem(None, f"got {_json_type(data)}")])

    problems: list[Problem] = []
    allowed = {*REQUIRED_FIELDS, *OPTIONAL_FIELDS, *extra_fields, *([CLIENT_FIELD] if with_client else [])}
    for name in sorted((name for name in data if name not in allowed), key=str):
        problems.append(Problem(shown(name), "unknown field"))
    for name in REQUIRED_FIELDS:
        if data.get(name) is None:
            problems.append(Problem(name, "missing"))

    clean: Transaction = {}
    for name in ("transaction_id", "user_id"):
        value = data.get(name)
        if value is not None:
            if isinstance(value, str) and ID_PATTERN.fullmatch(value):
                clean[name] = value
            else:
                problems.append(Problem(name, ID_RULE))

    for name in FEATURE_NAMES:
        value = data.get(name)
        if type(value) is float and -MAX_FEATURE <= value <= MAX_FEATURE and name in _PCA_FEATURES:
            clean[name] = value  # the common case, decided without a call
        elif value is not None:
            number = finite_number(value)
            problem = _feature_problem(name, number)
            if problem:
                problems.append(Problem(name, problem))
            else:
                clean[name] = number

    currency = data.get("currency")
    if currency is not None:
        if isinstance(currency, str) and _CURRENCY_PATTERN.fullmatch(currency):
            clean["currency"] = currency
        else:
            problems.append(Problem("currency", "must be an ISO 4217 code such as EUR"))
    merchant = data.get("merchant_id")
    if merchant is not None:
        if isinstance(merchant, str) and 1 <= len(merchant) <= 64 and is_text(merchant):
            clean["merchant_id"] = merchant
        else:
            problems.append(Problem("merchant_id", f"must be a string of 1-64 characters; it {TEXT_RULE}"))
    for name in ("event_time", *extra_fields):
        if data.get(name) is not None:
            problem = timestamp_problem(data[name])
            if problem:
                problems.append(Problem(name, problem))
            else:
                clean[name] = data[name]

    if with_client:
        client = data.get(CLIENT_FIELD)
        if isinstance(client, str) and NAME_PATTERN.fullmatch(client):
            clean[CLIENT_FIELD] = client
        else:
            problems.append(Problem(CLIENT_FIELD, f"must be a client name: {NAME_RULE}"))

    if problems:
        raise ClientError("invalid transaction", problems=problems)
    return clean


def is_text(value: str) -> bool:
    """Whether every character of `value` may be stored and sent as text (FORBIDDEN_CHARACTERS)."""
    if value.isascii():  # then only C0 and DEL can be wrong, and isprintable() finds them at C speed
        return value.isprintable()
    return FORBIDDEN_CHARACTERS.search(value) is None


def finite_number(value: Any) -> float | None:
    """A JSON number as a finite float; None for anything else, or for an integer no float can hold."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def rfc3339(value: str) -> DateTime | None:
    """The fields of an RFC 3339 §5.6 date-time, checked to the letter; None when `value` is not one.

    Days must exist in their month, and a leap second (:60) is accepted only where one
    can fall, at 23:59 UTC."""
    match = _RFC3339.fullmatch(value)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.group(1, 2, 3, 4, 5, 6))
    offset_hour, offset_minute = (int(match[9]), int(match[10])) if match[8] else (0, 0)
    if not (1 <= month <= 12 and hour <= 23 and minute <= 59 and second <= 60 and offset_hour <= 23):
        return None
    if offset_minute > 59 or not 1 <= day <= _days_in(year, month):
        return None
    offset = (offset_hour * 60 + offset_minute) * (-1 if match[8] == "-" else 1)
    if second == 60 and (hour * 60 + minute - offset) % 1440 != 1439:
        return None
    return DateTime(year, month, day, hour, minute, second, match[7] or "", offset)


def timestamp_problem(value: Any) -> str | None:
    """Why `value` is not a timestamp PostgreSQL stores and reads back as sent; None when it is one."""
    parsed = _stored_timestamp(value)
    return parsed if isinstance(parsed, str) else None


def parse_timestamp(value: Any) -> datetime | None:
    """A timestamp PostgreSQL stores and reads back as sent, as an aware datetime; None for anything else."""
    parsed = _stored_timestamp(value)
    return parsed if isinstance(parsed, datetime) else None


def _stored_timestamp(value: Any) -> datetime | str:
    """The timestamp as a datetime, or the reason it cannot be stored."""
    if isinstance(value, str) and _STORED_FORM.fullmatch(value):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:  # a day, hour, minute or second out of range, a leap second, or the year 0000
            pass
        else:
            if 1 < moment.year < 9999 or _EARLIEST <= moment < _LATEST:
                return moment
    return _why_not_stored(value)


def _why_not_stored(value: Any) -> str:
    """Why `value` is not a timestamp PostgreSQL stores and reads back as sent."""
    fields = rfc3339(value) if isinstance(value, str) else None
    if fields is None:
        return f"must be an RFC 3339 timestamp such as {TIMESTAMP_EXAMPLE} or 2026-11-29T11:00:00.25+01:00"
    if value[10] == "t" or value[-1] == "z":  # RFC 3339 §5.6 lets a specification require upper case
        return "must write T and Z in upper case"
    if fields.second == 60:
        return "must not be a leap second: PostgreSQL would store the next minute instead"
    if len(fields.fraction) > 6:
        return "must have at most 6 fractional digits (microseconds), as PostgreSQL keeps"
    if abs(fields.offset_minutes) > _MAX_OFFSET_MINUTES:
        return "must have a UTC offset under 16 hours, as PostgreSQL keeps"
    return "must be between 0001-01-02 and 9999-12-30 (UTC)"


def _days_in(year: int, month: int) -> int:
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        return 29
    return _MONTH_DAYS[month]


def shown(name: Any) -> str:
    """A field name as an error may quote it: itself when it is short text, else an escaped, shortened form."""
    if isinstance(name, str) and len(name) <= 64 and is_text(name):
        return name
    return ascii(name)[:66]


def _feature_problem(name: str, number: float | None) -> str | None:
    if number is None:
        return "must be a finite number"
    if name == "Amount":
        if not 0 <= number <= MAX_AMOUNT:
            return f"must be between 0 and {MAX_AMOUNT:,}"
        if round(number, 2) != number:
            return "must have at most 2 decimal places, as stored"
        return None
    if name == "Time" and number < 0:
        return "must be >= 0 seconds"
    if abs(number) > MAX_FEATURE:
        return "must be between -10^15 and 10^15"
    return None


def _json_type(value: Any) -> str:
    return {list: "an array", str: "a string", type(None): "null", bool: "a boolean"}.get(
        type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__
    )
