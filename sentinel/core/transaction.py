"""The Transaction schema (DESIGN.md §3) and its validation.

Field names are those of the public credit-card fraud dataset, so the original
Sentinel clients keep working. Unknown fields are rejected: a typo must never
silently zero a feature.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

from sentinel.core.errors import ClientError, Problem

Transaction = dict[str, Any]

PCA_FIELDS = tuple(f"V{i}" for i in range(1, 29))
FEATURE_NAMES: tuple[str, ...] = ("Time", *PCA_FIELDS, "Amount")
MAX_AMOUNT = 10_000_000
_ID_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_CURRENCY_PATTERN = re.compile(r"[A-Z]{3}")

REQUIRED_FIELDS = ("transaction_id", "user_id", *FEATURE_NAMES)
OPTIONAL_FIELDS = ("currency", "merchant_id", "event_time")


def validate(data: Any, *, extra_fields: tuple[str, ...] = ()) -> Transaction:
    """Return the transaction with numbers as floats, or raise ClientError naming every problem.

    `extra_fields` are further timestamp fields a later stage adds (ingest's `received_at`).
    """
    if not isinstance(data, dict):
        raise ClientError("the transaction must be a JSON object", problems=[Problem(None, f"got {_json_type(data)}")])

    problems: list[Problem] = []
    allowed = {*REQUIRED_FIELDS, *OPTIONAL_FIELDS, *extra_fields}
    unknown = sorted(set(data) - allowed)
    for name in unknown:
        problems.append(Problem(name, "unknown field"))
    for name in REQUIRED_FIELDS:
        if name not in data or data[name] is None:
            problems.append(Problem(name, "missing"))

    clean: Transaction = {}
    for name in ("transaction_id", "user_id"):
        if name in data and data[name] is not None:
            value = data[name]
            if not isinstance(value, str) or not _ID_PATTERN.fullmatch(value):
                problems.append(Problem(name, "must be 1-64 characters of A-Z a-z 0-9 . _ : -"))
            else:
                clean[name] = value

    for name in FEATURE_NAMES:
        if name in data and data[name] is not None:
            number = _finite_number(data[name])
            if number is None:
                problems.append(Problem(name, "must be a finite number"))
            elif name == "Time" and number < 0:
                problems.append(Problem(name, "must be >= 0 seconds"))
            elif name == "Amount" and not 0 <= number <= MAX_AMOUNT:
                problems.append(Problem(name, f"must be between 0 and {MAX_AMOUNT:,}"))
            else:
                clean[name] = number

    if data.get("currency") is not None:
        if not isinstance(data["currency"], str) or not _CURRENCY_PATTERN.fullmatch(data["currency"]):
            problems.append(Problem("currency", "must be an ISO 4217 code such as EUR"))
        else:
            clean["currency"] = data["currency"]
    if data.get("merchant_id") is not None:
        if not isinstance(data["merchant_id"], str) or not 1 <= len(data["merchant_id"]) <= 64:
            problems.append(Problem("merchant_id", "must be a string of 1-64 characters"))
        else:
            clean["merchant_id"] = data["merchant_id"]
    for name in ("event_time", *extra_fields):
        if data.get(name) is not None:
            if parse_timestamp(data[name]) is None:
                problems.append(Problem(name, "must be an RFC 3339 timestamp"))
            else:
                clean[name] = data[name]

    if problems:
        raise ClientError("invalid transaction", problems=problems)
    return clean


def parse_timestamp(value: Any) -> datetime | None:
    """An RFC 3339 timestamp with its offset, or None when it is not one."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _finite_number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _json_type(value: Any) -> str:
    return {list: "an array", str: "a string", type(None): "null", bool: "a boolean"}.get(
        type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__
    )
