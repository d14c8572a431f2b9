"""The alert queue: review and block decisions waiting for an analyst, oldest first.

An alert is open until someone acknowledges it (they are looking into it) and
then closes it; an open alert can be closed at once. Each change stamps
`updated_at`. The alert function creates alerts; only this page changes them.
An alert is its transaction's, named like it by (client_id, transaction_id).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest, Conflict
from werkzeug.wrappers import Response

from sentinel.core.decision import ALERTING_DECISIONS
from sentinel.stores.audit import record_in
from ui.auth import current_user
from ui.database import Row, database, fetch_all, fetch_one
from ui.keyset import Order, Page, fetch_page
from ui.params import Arguments, Cursor, safe_next
from ui.transactions import audit_subject, is_identity

blueprint = Blueprint("alerts", __name__)

STATUSES = ("open", "acknowledged", "closed")
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
OLDEST_FIRST = Order("created", "created_at", False, "oldest first")
PARAMETERS = ("status", "decision", "limit", "after", "before")
COLUMNS = (
    "client_id, transaction_id, user_id, decision, risk_score, model_version, reasons, rule, status, created_at,"
    " updated_at"
)


@dataclass(frozen=True)
class Transition:
    verb: str  # what the button says
    to: str
    allowed_from: tuple[str, ...]


TRANSITIONS = {
    "acknowledge": Transition("Acknowledge", "acknowledged", ("open",)),
    "close": Transition("Close", "closed", ("open", "acknowledged")),
}


@dataclass(frozen=True)
class AlertQuery:
    status: str = "open"
    decision: str | None = None
    limit: int = DEFAULT_PAGE_SIZE
    after: Cursor | None = None
    before: Cursor | None = None

    @classmethod
    def read(cls, values: MultiDict[str, str]) -> AlertQuery:
        arguments = Arguments(values, PARAMETERS)
        after, before = arguments.raw("after"), arguments.raw("before")
        if after and before:
            raise BadRequest("give after or before, not both")
        query = cls(
            status=arguments.choice("status", STATUSES, "open"),
            decision=arguments.choice("decision", ALERTING_DECISIONS),
            limit=arguments.integer("limit", low=1, high=MAX_PAGE_SIZE, default=DEFAULT_PAGE_SIZE),
            after=Cursor.decode("after", after, OLDEST_FIRST.name) if after else None,
            before=Cursor.decode("before", before, OLDEST_FIRST.name) if before else None,
        )
        for cursor in (query.after, query.before):
            if cursor is not None:
                OLDEST_FIRST.value(cursor)
        return query

    def args(self, **changes: str | None) -> dict[str, str]:
        values = {
            "status": None if self.status == "open" else self.status,
            "decision": self.decision,
            "limit": None if self.limit == DEFAULT_PAGE_SIZE else str(self.limit),
            **changes,
        }
        return {name: value for name, value in values.items() if value is not None}


def list_alerts(query: AlertQuery) -> Page:
    """A page of the queue, each alert with its transaction's amount."""
    clauses, params = ["status = %(status)s"], {"status": query.status}
    if query.decision:
        clauses.append("decision = %(decision)s")
        params["decision"] = query.decision
    page = fetch_page(
        columns=COLUMNS,
        table="alerts",
        clauses=clauses,
        params=params,
        order=OLDEST_FIRST,
        limit=query.limit,
        after=query.after,
        before=query.before,
    )
    amounts = {
        (row["client_id"], row["transaction_id"]): row
        for row in fetch_all(
            "SELECT client_id, transaction_id, amount, payload->>'currency' AS currency FROM transactions"
            " WHERE (client_id, transaction_id) IN (SELECT * FROM unnest(%s::text[], %s::text[]))",
            ([row["client_id"] for row in page.rows], [row["transaction_id"] for row in page.rows]),
        )
    }
    for row in page.rows:
        found = amounts.get((row["client_id"], row["transaction_id"]), {})
        row.update(amount=found.get("amount"), currency=found.get("currency"))
    return page


def queue_sizes() -> dict[str, int]:
    """How many alerts are open and acknowledged (closed ones only ever grow, so are not counted)."""
    row = fetch_one(
        "SELECT (SELECT count(*) FROM alerts WHERE status = 'open') AS open,"
        " (SELECT count(*) FROM alerts WHERE status = 'acknowledged') AS acknowledged"
    )
    return dict(row)


def change_status(client_id: str, transaction_id: str, action: str, by: str) -> Row:
    """Apply `action` to the client's alert, audited as `by`; 404 when there is none, 409 when
    its status does not allow it."""
    transition = TRANSITIONS[action]
    subject = audit_subject(client_id, transaction_id)
    identity = (client_id, transaction_id)
    with database().connection() as conn:
        with conn.transaction():
            changed = conn.execute(
                "UPDATE alerts SET status = %s, updated_at = now()"
                " WHERE client_id = %s AND transaction_id = %s AND status = ANY(%s) RETURNING status",
                (transition.to, *identity, list(transition.allowed_from)),
            ).fetchone()
            if changed is not None:
                record_in(conn, by, f"alert.{action}", subject, {"status": transition.to})
        if changed is not None:
            return {"client_id": client_id, "transaction_id": transaction_id, "status": transition.to}
        current = conn.execute(
            "SELECT status FROM alerts WHERE client_id = %s AND transaction_id = %s", identity
        ).fetchone()
    if current is None:
        abort(404, f"There is no alert for transaction {subject!r}.")
    raise Conflict(f"The alert for {subject} is {current[0]}; it cannot be {transition.to} now.")


@blueprint.get("/alerts")
def index() -> str:
    query = AlertQuery.read(request.args)
    return render_template(
        "alerts/list.html",
        query=query,
        page=list_alerts(query),
        sizes=queue_sizes(),
        statuses=STATUSES,
        decisions=ALERTING_DECISIONS,
        transitions=TRANSITIONS,
    )


@blueprint.post("/alerts/<client_id>/<transaction_id>/<any(acknowledge, close):action>")
def act(client_id: str, transaction_id: str, action: str) -> Response:
    if not is_identity(client_id, transaction_id):
        abort(404, f"There is no alert for transaction {audit_subject(client_id, transaction_id)!r}.")
    form = Arguments(request.form, ("csrf_token", "next"))
    change_status(client_id, transaction_id, action, current_user().name)
    flash(f"Alert for {audit_subject(client_id, transaction_id)} {TRANSITIONS[action].to}.", "success")
    return redirect(safe_next(form.raw("next"), url_for("alerts.index")), code=303)


@blueprint.get("/api/alerts")
def api_list() -> Response:
    query = AlertQuery.read(request.args)
    page = list_alerts(query)
    return jsonify(
        items=[_api_row(row) for row in page.rows],
        sizes=queue_sizes(),
        previous=url_for(".api_list", **query.args(before=page.previous.encode())) if page.previous else None,
        next=url_for(".api_list", **query.args(after=page.next.encode())) if page.next else None,
    )


def _api_row(row: Row) -> Row:
    return {
        **row,
        "url": url_for("transactions.detail", client_id=row["client_id"], transaction_id=row["transaction_id"]),
    }
