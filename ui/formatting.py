"""How values look: Jinja filters for the pages and the JSON encoding of the API.

Times are shown in UTC, which is what the filters take when no zone is given.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from flask import Flask
from flask.json.provider import DefaultJSONProvider


class JSONProvider(DefaultJSONProvider):
    """ISO 8601 times and plain numbers, where Flask would write HTTP dates and strings."""

    sort_keys = False

    @staticmethod
    def default(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, timedelta):
            return value.total_seconds()
        if isinstance(value, Decimal):
            return float(value)
        return DefaultJSONProvider.default(value)


def when(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def iso(value: datetime) -> str:
    """UTC ISO 8601, so that two of them compare as strings do (the live list relies on it)."""
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def ago(value: datetime | None, now: datetime | None = None) -> str:
    if value is None:
        return "—"
    seconds = ((now or datetime.now(UTC)) - value).total_seconds()
    if seconds < 0:
        return "just now"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return f"{int(seconds)} s ago"


def money(value: Decimal | float | None, currency: str | None = None) -> str:
    if value is None:
        return "—"
    text = f"{value:,.2f}"
    return f"{text} {currency}" if currency else text


def risk(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def number(value: Any) -> str:
    """A metric or count, readable: thousands separated, floats to four significant places."""
    if isinstance(value, bool) or value is None:
        return {True: "yes", False: "no", None: "—"}[value]
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float | Decimal):
        return f"{value:,.4g}" if abs(value) >= 1 else f"{value:.4g}"
    return str(value)


def duration(value: timedelta | None) -> str:
    if value is None:
        return "—"
    milliseconds = value.total_seconds() * 1000
    return f"{milliseconds:,.0f} ms" if milliseconds < 10_000 else f"{milliseconds / 1000:,.1f} s"


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(when=when, iso=iso, ago=ago, money=money, risk=risk, number=number, duration=duration)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
