"""Keyset pagination: a page starts after (or ends before) the row at the previous page's edge.

Unlike OFFSET, which reads and throws away every row before the page, a keyset
page is one index range scan wherever it is, so the thousandth page of a million
rows costs what the first does. Ties on the sort column are broken by the row's
identity, (client_id, transaction_id): a transaction id is unique per client only.
The indexes end in those two columns, so the row comparison is an index range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from werkzeug.exceptions import BadRequest

from ui.database import Row, fetch_all
from ui.params import Cursor, parse_timestamp

Value = datetime | float | Decimal


@dataclass(frozen=True)
class Order:
    """One way to sort a list: its name in URLs, the column, the direction, and the column's type."""

    name: str
    column: str
    descending: bool
    title: str
    kind: type[datetime] | type[float] | type[Decimal] = datetime

    def value(self, cursor: Cursor) -> Value:
        """The cursor's sort value in the column's type; a 400 when it is not one."""
        if self.kind is datetime:
            return parse_timestamp("the page position", cursor.value)
        try:
            value = self.kind(cursor.value)
        except (ValueError, InvalidOperation):
            value = math.nan
        if not math.isfinite(value):
            raise BadRequest("the page position is not one this list gave out")
        return value

    def cursor_at(self, row: Row) -> Cursor:
        value = row[self.column]
        if isinstance(value, datetime):
            text = value.isoformat()
        else:
            text = repr(value) if isinstance(value, float) else str(value)
        return Cursor(self.name, text, row["client_id"], row["transaction_id"])


@dataclass(frozen=True)
class Page:
    rows: list[Row]
    previous: Cursor | None  # `before` for the page above, when there is one
    next: Cursor | None  # `after` for the page below, when there is one


def fetch_page(
    *,
    columns: str,
    table: str,
    clauses: list[str],
    params: dict[str, Any],
    order: Order,
    limit: int,
    after: Cursor | None = None,
    before: Cursor | None = None,
) -> Page:
    backwards = before is not None
    cursor = before or after
    descending = order.descending != backwards
    clauses = list(clauses)
    if cursor is not None:
        # The first clause lets the index range start at the cursor even where a filter's
        # index leads with another column; the row comparison breaks ties between rows
        # with the same sort value by their identity, in the indexes' column order.
        comparison = "<" if descending else ">"
        clauses.append(f"{order.column} {comparison}= %(cursor_value)s")
        clauses.append(
            f"({order.column}, client_id, transaction_id) {comparison}"
            " (%(cursor_value)s, %(cursor_client)s, %(cursor_id)s)"
        )
        params = {**params, "cursor_value": order.value(cursor), "cursor_client": cursor.client, "cursor_id": cursor.id}
    direction = "DESC" if descending else "ASC"
    rows = fetch_all(
        f"SELECT {columns} FROM {table} {where(clauses)}"
        f" ORDER BY {order.column} {direction}, client_id {direction}, transaction_id {direction} LIMIT %(limit)s",
        {**params, "limit": limit + 1},
    )
    more = len(rows) > limit
    rows = rows[:limit]
    if backwards:
        rows.reverse()
    has_previous = more if backwards else after is not None
    has_next = True if backwards else more
    return Page(
        rows=rows,
        previous=order.cursor_at(rows[0]) if rows and has_previous else None,
        next=order.cursor_at(rows[-1]) if rows and has_next else None,
    )


def where(clauses: list[str]) -> str:
    return f"WHERE {' AND '.join(clauses)}" if clauses else ""
