"""Scored transactions: the filtered, sorted list with live updates, the detail page, and labels.

A transaction id is unique per client only, so a transaction is named by both:
/transactions/<client_id>/<transaction_id>. The id alone (/transactions/<id>, the
list's `transaction` filter) finds it whichever client sent it: one, several or none.

The list pages by keyset (the sort value and identity of the row at the page's edge),
not by offset, so the thousandth page costs what the first does. New decisions
reach an open list through /partials/transactions, which returns the rows stored
since a moment the page gave out, rendered by the same template as the list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest
from werkzeug.wrappers import Response

from sentinel.core import behaviour
from sentinel.core.decision import DECISIONS
from sentinel.core.transaction import FEATURE_NAMES
from sentinel.stores.audit import record_in
from ui.auth import current_user
from ui.database import Row, database, fetch_all, fetch_one
from ui.keyset import Order, Page, fetch_page, where
from ui.params import ID_PATTERN, Arguments, Cursor, ordered_pair

blueprint = Blueprint("transactions", __name__)

LABELS = ("fraud", "legitimate")
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
LIVE_BATCH = 100
RECENT_OF_USER = 10
BEHAVIOUR_MEANINGS = {
    "user_count_10m": "the user's transactions in the 10 minutes before",
    "user_amount_10m": "what they spent in those 10 minutes",
    "user_count_1h": "the user's transactions in the hour before",
    "user_amount_1h": "what they spent in that hour",
    "user_count_24h": "the user's transactions in the 24 hours before",
    "user_amount_24h": "what they spent in those 24 hours",
    "amount_vs_user_usual": "the amount against the user's usual (1 = usual)",
    "seconds_since_user_previous": "seconds since the user's previous transaction (-1: none)",
    "merchant_new_for_user": "1 when the merchant is new for the user",
    "hours_from_user_usual": "hours from the user's usual time of day",
    "user_previous_count": "the user's transactions seen before",
}
# persisted_at is stamped when persist's database transaction starts, so a row can
# commit a moment after one stamped later is already shown. Live polls look back
# this far, and the page skips the rows it already has.
LIVE_OVERLAP = "10 seconds"


ORDERS: dict[str, Order] = {
    order.name: order
    for order in (
        Order("-time", "scored_at", True, "newest first"),
        Order("time", "scored_at", False, "oldest first"),
        Order("-risk", "risk_score", True, "highest risk first", float),
        Order("risk", "risk_score", False, "lowest risk first", float),
        Order("-amount", "amount", True, "largest amount first", Decimal),
        Order("amount", "amount", False, "smallest amount first", Decimal),
    )
}
DEFAULT_SORT = "-time"

FILTER_PARAMETERS = ("transaction", "decision", "min_risk", "max_risk", "user", "since", "until", "model")
LIST_PARAMETERS = (*FILTER_PARAMETERS, "sort", "limit", "after", "before")

LIST_COLUMNS = (
    "client_id, transaction_id, user_id, amount, payload->>'currency' AS currency, risk_score, decision,"
    " model_version, thresholds, scored_at, persisted_at"
)


@dataclass(frozen=True)
class Filters:
    """What the analyst narrowed the list to; every field is optional."""

    transaction: str | None = None  # a transaction id, whichever client sent it
    decision: str | None = None
    min_risk: float | None = None
    max_risk: float | None = None
    user: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    model: str | None = None

    @classmethod
    def read(cls, arguments: Arguments) -> Filters:
        filters = cls(
            transaction=arguments.identifier("transaction"),
            decision=arguments.choice("decision", DECISIONS),
            min_risk=arguments.number("min_risk", low=0, high=1),
            max_risk=arguments.number("max_risk", low=0, high=1),
            user=arguments.identifier("user"),
            since=arguments.timestamp("since"),
            until=arguments.timestamp("until"),
            model=arguments.identifier("model"),
        )
        ordered_pair("min_risk", filters.min_risk, "max_risk", filters.max_risk)
        ordered_pair("since", filters.since, "until", filters.until, strict=True)
        return filters

    @property
    def active(self) -> bool:
        return any(value is not None for value in self.args().values())

    def conditions(self) -> tuple[list[str], dict[str, Any]]:
        """SQL conditions and their parameters; each one has an index to use."""
        clauses, params = [], {}
        for name, clause in (
            ("transaction", "transaction_id = %(transaction)s"),
            ("decision", "decision = %(decision)s"),
            ("min_risk", "risk_score >= %(min_risk)s"),
            ("max_risk", "risk_score <= %(max_risk)s"),
            ("user", "user_id = %(user)s"),
            ("since", "scored_at >= %(since)s"),
            ("until", "scored_at < %(until)s"),
            ("model", "model_version = %(model)s"),
        ):
            value = getattr(self, name)
            if value is not None:
                clauses.append(clause)
                params[name] = value
        return clauses, params

    def args(self) -> dict[str, str]:
        """The filters as URL parameters, in the form the filter form shows them."""
        values: dict[str, Any] = {
            "transaction": self.transaction,
            "decision": self.decision,
            "min_risk": None if self.min_risk is None else repr(self.min_risk),
            "max_risk": None if self.max_risk is None else repr(self.max_risk),
            "user": self.user,
            "since": _url_time(self.since),
            "until": _url_time(self.until),
            "model": self.model,
        }
        return {name: value for name, value in values.items() if value is not None}


@dataclass(frozen=True)
class ListQuery:
    """One request for a page of the list: filters, order, size and where the page starts."""

    filters: Filters = field(default_factory=Filters)
    sort: str = DEFAULT_SORT
    limit: int = DEFAULT_PAGE_SIZE
    after: Cursor | None = None
    before: Cursor | None = None

    @classmethod
    def read(cls, values: MultiDict[str, str]) -> ListQuery:
        arguments = Arguments(values, LIST_PARAMETERS)
        sort = arguments.choice("sort", tuple(ORDERS), DEFAULT_SORT)
        after, before = arguments.raw("after"), arguments.raw("before")
        if after and before:
            raise BadRequest("give after or before, not both")
        query = cls(
            filters=Filters.read(arguments),
            sort=sort,
            limit=arguments.integer("limit", low=1, high=MAX_PAGE_SIZE, default=DEFAULT_PAGE_SIZE),
            after=Cursor.decode("after", after, sort) if after else None,
            before=Cursor.decode("before", before, sort) if before else None,
        )
        for cursor in (query.after, query.before):
            if cursor is not None:
                query.order.value(cursor)
        return query

    @property
    def order(self) -> Order:
        return ORDERS[self.sort]

    @property
    def is_live(self) -> bool:
        """New decisions belong at the top of this page: the first page, newest first."""
        return self.sort == DEFAULT_SORT and self.after is None and self.before is None

    def args(self, **changes: Any) -> dict[str, str]:
        """URL parameters for this list with `changes` applied; pages reset unless given."""
        values: dict[str, Any] = {
            **self.filters.args(),
            "sort": None if self.sort == DEFAULT_SORT else self.sort,
            "limit": None if self.limit == DEFAULT_PAGE_SIZE else str(self.limit),
        }
        values.update(changes)
        return {name: value for name, value in values.items() if value is not None}


def list_transactions(query: ListQuery) -> Page:
    clauses, params = query.filters.conditions()
    if query.filters.model is not None:
        # A model scores one stretch of time. The planner takes model and time to be
        # independent and, for an old model, would walk the newest rows looking for
        # its first; bounding the time to the model's stretch starts the walk there.
        span = fetch_one(
            "SELECT min(scored_at) AS first, max(scored_at) AS last FROM transactions WHERE model_version = %s",
            (query.filters.model,),
        )
        if span["first"] is None:
            return Page(rows=[], previous=None, next=None)
        clauses += ["scored_at >= %(model_first)s", "scored_at <= %(model_last)s"]
        params.update(model_first=span["first"], model_last=span["last"])
    return fetch_page(
        columns=LIST_COLUMNS,
        table="transactions",
        clauses=clauses,
        params=params,
        order=query.order,
        limit=query.limit,
        after=query.after,
        before=query.before,
    )


def stored_since(filters: Filters, since: datetime) -> list[Row]:
    """Rows matching `filters` stored after `since` (less the overlap), newest first."""
    clauses, params = filters.conditions()
    clauses.append(f"persisted_at > %(since)s - interval '{LIVE_OVERLAP}'")
    return fetch_all(
        f"SELECT {LIST_COLUMNS} FROM transactions {where(clauses)} ORDER BY persisted_at DESC LIMIT %(limit)s",
        {**params, "since": since, "limit": LIVE_BATCH},
    )


def latest_store_time() -> datetime:
    """When the newest row was stored (or now, when there is none): where live updates start."""
    return fetch_one("SELECT coalesce(max(persisted_at), now()) AS at FROM transactions")["at"]


def model_versions() -> list[str]:
    return [row["version"] for row in fetch_all("SELECT version FROM models ORDER BY created_at DESC")]


def is_identity(client_id: str, transaction_id: str) -> bool:
    """Whether the pair could name a stored transaction at all (else there is no need to ask)."""
    return bool(ID_PATTERN.fullmatch(client_id) and ID_PATTERN.fullmatch(transaction_id))


def audit_subject(client_id: str, transaction_id: str) -> str:
    """How the audit log names a transaction (and its alert and labels): `client/id`."""
    return f"{client_id}/{transaction_id}"


def clients_with(transaction_id: str) -> list[str]:
    """The clients that sent a transaction with this id: none, one, or (at most two, enough to tell) several."""
    if not ID_PATTERN.fullmatch(transaction_id):
        return []
    rows = fetch_all(
        "SELECT client_id FROM transactions WHERE transaction_id = %s ORDER BY client_id LIMIT 2", (transaction_id,)
    )
    return [row["client_id"] for row in rows]


def get_transaction(client_id: str, transaction_id: str) -> Row | None:
    if not is_identity(client_id, transaction_id):
        return None
    return fetch_one(
        "SELECT * FROM transactions WHERE client_id = %s AND transaction_id = %s", (client_id, transaction_id)
    )


def alert_of(client_id: str, transaction_id: str) -> Row | None:
    return fetch_one("SELECT * FROM alerts WHERE client_id = %s AND transaction_id = %s", (client_id, transaction_id))


def labels_of(client_id: str, transaction_id: str) -> list[Row]:
    return fetch_all(
        "SELECT id, label, source, labelled_by, labelled_at, note FROM labels"
        " WHERE client_id = %s AND transaction_id = %s ORDER BY labelled_at DESC, id DESC",
        (client_id, transaction_id),
    )


def add_label(client_id: str, transaction_id: str, label: str, labelled_by: str, note: str | None) -> Row:
    """Store an analyst's label, and its audit row in the same transaction."""
    with database().connection() as conn, conn.transaction():
        added = conn.execute(
            "INSERT INTO labels (client_id, transaction_id, label, source, labelled_by, note)"
            " VALUES (%s, %s, %s, 'analyst', %s, %s) RETURNING id, labelled_at",
            (client_id, transaction_id, label, labelled_by, note),
        ).fetchone()
        subject = audit_subject(client_id, transaction_id)
        record_in(conn, labelled_by, "label.add", subject, {"label": label, "note": note})
    return added


@blueprint.app_template_global()
def newest_first_after(row: Row) -> str:
    """The `after` token of the newest-first page that starts below this row (for live lists)."""
    return ORDERS[DEFAULT_SORT].cursor_at(row).encode()


def features(transaction: Row) -> list[tuple[str, Any]]:
    payload = transaction["payload"]
    return [(name, payload.get(name)) for name in FEATURE_NAMES]


def behavioural_features(transaction: Row) -> list[tuple[str, str, Any]]:
    """(name, what it means, value) of each behavioural feature score computed; none for a decision made before them."""
    computed = transaction.get("behaviour") or {}
    return [(name, BEHAVIOUR_MEANINGS[name], computed[name]) for name in behaviour.FEATURES if name in computed]


def recent_of_user(transaction: Row, *, limit: int = RECENT_OF_USER) -> list[Row]:
    """The user's transactions scored up to this one, newest first: the history its behaviour was judged against."""
    return fetch_all(
        f"SELECT {LIST_COLUMNS} FROM transactions"
        " WHERE user_id = %(user)s AND client_id = %(client)s AND scored_at <= %(at)s"
        " ORDER BY scored_at DESC, transaction_id DESC LIMIT %(limit)s",
        {
            "user": transaction["user_id"],
            "client": transaction["client_id"],
            "at": transaction["scored_at"],
            "limit": limit,
        },
    )


def trace_link(trace_id: str | None) -> str | None:
    """Where the user's tracing backend shows `trace_id` (SENTINEL_TRACE_URL), if one is configured."""
    template = current_app.extensions["sentinel.settings"].trace_url
    if not (trace_id and template):
        return None
    return template.replace("{trace_id}", trace_id) if "{trace_id}" in template else template + trace_id


def other_fields(transaction: Row) -> list[tuple[str, Any]]:
    """The payload's fields that neither the features nor the page's own columns show."""
    shown = {*FEATURE_NAMES, "client_id", "transaction_id", "user_id", "event_time"}
    return [(name, value) for name, value in transaction["payload"].items() if name not in shown]


# -- pages -----------------------------------------------------------------


@blueprint.get("/transactions")
def index() -> str:
    query = ListQuery.read(request.args)
    page = list_transactions(query)
    return render_template(
        "transactions/list.html",
        query=query,
        page=page,
        orders=ORDERS,
        decisions=DECISIONS,
        versions=model_versions(),
        live_since=latest_store_time() if query.is_live else None,
    )


@blueprint.get("/partials/transactions")
def live() -> str:
    arguments = Arguments(request.args, (*FILTER_PARAMETERS, "since"))
    filters = Filters.read(arguments)
    since = arguments.timestamp("since")
    if since is None:
        raise BadRequest("since is required: the time the page last heard of a new row")
    return render_template("transactions/_rows.html", rows=stored_since(filters, since), fresh=True)


@blueprint.get("/transactions/<transaction_id>")
def by_id(transaction_id: str) -> Response:
    return _resolve(transaction_id, ".detail", ".index")


@blueprint.get("/transactions/<client_id>/<transaction_id>")
def detail(client_id: str, transaction_id: str) -> str:
    transaction = _existing(client_id, transaction_id)
    return render_template(
        "transactions/detail.html",
        transaction=transaction,
        features=features(transaction),
        behavioural=behavioural_features(transaction),
        recent=recent_of_user(transaction),
        other_fields=other_fields(transaction),
        alert=alert_of(client_id, transaction_id),
        labels=labels_of(client_id, transaction_id),
        trace_link=trace_link(transaction["trace_id"]),
    )


@blueprint.post("/transactions/<client_id>/<transaction_id>/labels")
def label(client_id: str, transaction_id: str) -> Response:
    _existing(client_id, transaction_id)
    form = Arguments(request.form, ("csrf_token", "label", "note"))
    chosen = form.choice("label", LABELS)
    note = form.text("note", max_length=500)
    if chosen is None:
        raise BadRequest("label is required: fraud or legitimate")
    analyst = current_user().name  # the author is whoever is logged in, never what a form says
    add_label(client_id, transaction_id, chosen, analyst, note)
    flash(f"Labelled {chosen} by {analyst}.", "success")
    return redirect(url_for(".detail", client_id=client_id, transaction_id=transaction_id), code=303)


# -- API -------------------------------------------------------------------


@blueprint.get("/api/transactions")
def api_list() -> Response:
    query = ListQuery.read(request.args)
    page = list_transactions(query)
    return jsonify(
        items=[_api_row(row) for row in page.rows],
        previous=url_for(".api_list", **query.args(before=page.previous.encode())) if page.previous else None,
        next=url_for(".api_list", **query.args(after=page.next.encode())) if page.next else None,
    )


@blueprint.get("/api/transactions/<transaction_id>")
def api_by_id(transaction_id: str) -> Response:
    return _resolve(transaction_id, ".api_detail", ".api_list")


@blueprint.get("/api/transactions/<client_id>/<transaction_id>")
def api_detail(client_id: str, transaction_id: str) -> Response:
    transaction = _existing(client_id, transaction_id)
    return jsonify(
        transaction=_api_row(transaction),
        alert=alert_of(client_id, transaction_id),
        labels=labels_of(client_id, transaction_id),
        trace_link=trace_link(transaction["trace_id"]),
    )


def _api_row(row: Row) -> Row:
    return {**row, "url": url_for(".detail", client_id=row["client_id"], transaction_id=row["transaction_id"])}


# -- helpers ---------------------------------------------------------------


def _existing(client_id: str, transaction_id: str) -> Row:
    """The client's transaction; a 404 when it has none with that id."""
    transaction = get_transaction(client_id, transaction_id)
    if transaction is None:
        abort(404, f"There is no transaction {transaction_id!r} of client {client_id!r}.")
    return transaction


def _resolve(transaction_id: str, detail_endpoint: str, list_endpoint: str) -> Response:
    """A transaction named by its id alone: to its page when one client sent that id,
    to the list of them when several did, a 404 when none did."""
    clients = clients_with(transaction_id)
    if not clients:
        abort(404, f"There is no transaction {transaction_id!r}.")
    if len(clients) == 1:
        return redirect(url_for(detail_endpoint, client_id=clients[0], transaction_id=transaction_id))
    return redirect(url_for(list_endpoint, transaction=transaction_id))


def _url_time(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).replace(tzinfo=None).isoformat()
