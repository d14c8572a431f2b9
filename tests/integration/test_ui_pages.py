"""Every UI route through Flask's test client, on a real PostgreSQL database of the test stack.

Each test starts from empty tables in a database of its own module and writes the
rows it needs, the way persist, alert and training write them.
"""

from __future__ import annotations

import html
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest
from psycopg.types.json import Jsonb
from support import a_gate
from ui_login import csrf_token, logged_in_client

from sentinel.core import behaviour
from sentinel.stack.pipeline_status import LocalStackStatus
from ui import create_app
from ui.transactions import BEHAVIOUR_MEANINGS

pytestmark = pytest.mark.stack

NOW = datetime.now(UTC).replace(microsecond=0)
THRESHOLDS = {"review": 0.5, "block": 0.8}
CLIENT = "demo"  # the client of every row a test adds unless it says otherwise


@pytest.fixture(scope="module")
def database_url(stack):
    return stack.fresh_database("ui_pages")


@pytest.fixture(scope="module")
def app(stack, database_url):
    return create_app(replace(stack.settings, database_url=database_url))


@pytest.fixture
def db(database_url):
    """A connection to the test database, with every table emptied first."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("TRUNCATE transactions, alerts, labels, promotions, models")
        yield conn


@pytest.fixture(scope="module")
def analyst(app, database_url):
    """One analyst's logged-in client for the module (each test empties the data tables, not the users)."""
    return logged_in_client(app, database_url)


@pytest.fixture
def client(analyst, db):
    return analyst


def add_transaction(db, transaction_id: str, *, client_id: str = CLIENT, **fields: Any) -> dict[str, Any]:
    row = {
        "client_id": client_id,
        "transaction_id": transaction_id,
        "user_id": "u-1",
        "amount": 10.0,
        "risk_score": 0.01,
        "decision": "approve",
        "model_version": "v0001",
        "scored_at": NOW - timedelta(minutes=1),
        "payload": {},
        **fields,
    }
    payload = {"transaction_id": transaction_id, "user_id": row["user_id"], "Time": 60.0, "Amount": row["amount"]}
    payload.update({f"V{i}": i / 100 for i in range(1, 29)})
    payload.update(row["payload"])
    db.execute(
        "INSERT INTO transactions (client_id, transaction_id, user_id, amount, event_time, payload, risk_score,"
        " decision, model_version, thresholds, received_at, scored_at, persisted_at, behaviour, reasons, trace_id)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            client_id,
            transaction_id,
            row["user_id"],
            row["amount"],
            row["scored_at"] - timedelta(seconds=5),
            Jsonb(payload),
            row["risk_score"],
            row["decision"],
            row["model_version"],
            Jsonb(THRESHOLDS),
            row["scored_at"] - timedelta(milliseconds=40),
            row["scored_at"],
            row.get("persisted_at", row["scored_at"] + timedelta(milliseconds=60)),
            Jsonb(row["behaviour"]) if "behaviour" in row else None,
            Jsonb(row.get("reasons", [])),
            row.get("trace_id"),
        ),
    )
    return row


def add_alert(
    db,
    transaction_id: str,
    *,
    client_id: str = CLIENT,
    status: str = "open",
    created_at: datetime | None = None,
    **fields,
) -> None:
    add_transaction(db, transaction_id, client_id=client_id, decision=fields.get("decision", "block"), risk_score=0.9)
    db.execute(
        "INSERT INTO alerts (client_id, transaction_id, user_id, decision, risk_score, model_version, status,"
        " created_at, updated_at) VALUES (%s, %s, 'u-1', %s, 0.9, 'v0001', %s, %s, %s)",
        (client_id, transaction_id, fields.get("decision", "block"), status, created_at or NOW, created_at or NOW),
    )


def add_model(db, version: str, *, status: str = "candidate", metrics: dict | None = None) -> None:
    db.execute(
        "INSERT INTO models (version, sha256, onnx, feature_names, thresholds, metrics, data_fingerprint, status,"
        " promoted_at, promoted_by, reason) VALUES (%s, %s, %s, %s, %s, %s, 'synthetic:rows=100', %s, %s, %s, %s)",
        (
            version,
            "ab" * 32,
            b"onnx",
            Jsonb(["Time", "Amount"]),
            Jsonb(THRESHOLDS),
            Jsonb(metrics or {"auprc": 0.81, "roc_auc": 0.97, "at_thresholds": {"block": {"precision": 0.9}}}),
            status,
            NOW if status == "champion" else None,
            "tests" if status == "champion" else None,
            "better AUPRC" if status == "champion" else None,
        ),
    )


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def row_ids(response) -> list[str]:
    return re.findall(r'<tr data-id="([^"]+)"', response.get_data(as_text=True))


def row_identities(response) -> list[tuple[str, str]]:
    """The (client, transaction id) of each row of a list page, in order."""
    return [
        (client, transaction_id)
        for transaction_id, client in re.findall(
            r'<tr data-id="([^"]+)" data-client="([^"]+)"', response.get_data(as_text=True)
        )
    ]


def next_link(response) -> str | None:
    following = re.search(r'rel="next" data-pager="next" href="([^"]+)"', response.get_data(as_text=True))
    return html.unescape(following.group(1)) if following else None


# -- empty database ------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/", "No decisions yet"),
        ("/transactions", "No decisions yet"),
        ("/alerts", "The queue is clear"),
        ("/alerts?status=closed", "Alerts move here when an analyst closes them"),
        ("/models", "The registry is empty"),
    ],
)
def test_an_empty_database_shows_a_helpful_empty_state(client, path, message):
    response = client.get(path)
    assert response.status_code == 200
    assert message in text(response)


def test_the_api_answers_empty_lists_on_an_empty_database(client):
    assert client.get("/api/transactions").json == {"items": [], "previous": None, "next": None}
    assert client.get("/api/alerts").json["items"] == []
    assert client.get("/api/models").json == {"items": [], "promotions": []}
    overview = client.get("/api/overview").json
    assert overview["totals"]["transactions"] == 0
    assert overview["champion"] is None


# -- transactions list ---------------------------------------------------------


def test_the_list_shows_every_column_newest_first(client, db):
    add_transaction(db, "t-old", scored_at=NOW - timedelta(hours=2))
    add_transaction(db, "t-new", user_id="u-9", amount=1234.5, risk_score=0.91, decision="block", model_version="v0002")
    response = client.get("/transactions")
    assert response.status_code == 200
    assert row_ids(response) == ["t-new", "t-old"]
    page = text(response)
    scored = (NOW - timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S")
    for shown in ("t-new", "u-9", "1,234.50", "0.9100", "block", "v0002", scored):
        assert shown in page
    assert '<meter min="0" max="1" optimum="0" low="0.5" high="0.8" value="0.91"' in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("decision=block", ["t-block"]),
        ("decision=review", ["t-review"]),
        ("min_risk=0.5", ["t-block", "t-review"]),
        ("min_risk=0.5&max_risk=0.7", ["t-review"]),
        ("max_risk=0.1", ["t-u2", "t-approve"]),
        ("user=u-2", ["t-u2"]),
        ("model=v0002", ["t-review"]),
        ("model=v0099", []),
        ("since=" + (NOW - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S"), ["t-block", "t-review"]),
        ("until=" + (NOW - timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S"), ["t-u2", "t-approve"]),
        ("sort=risk", ["t-approve", "t-u2", "t-review", "t-block"]),
        ("sort=-risk", ["t-block", "t-review", "t-u2", "t-approve"]),
        ("sort=amount", ["t-u2", "t-approve", "t-review", "t-block"]),
        ("sort=-amount", ["t-block", "t-review", "t-approve", "t-u2"]),
        ("sort=time", ["t-approve", "t-u2", "t-review", "t-block"]),
        ("decision=approve&sort=-amount&user=u-1", ["t-approve"]),
    ],
)
def test_filters_and_sorting(client, db, query, expected):
    add_transaction(db, "t-approve", risk_score=0.02, amount=20, scored_at=NOW - timedelta(hours=3))
    add_transaction(db, "t-u2", user_id="u-2", risk_score=0.05, amount=5, scored_at=NOW - timedelta(hours=2))
    add_transaction(db, "t-review", risk_score=0.6, decision="review", amount=300, model_version="v0002", scored_at=NOW)
    add_transaction(db, "t-block", risk_score=0.95, decision="block", amount=900, scored_at=NOW + timedelta(seconds=1))
    assert row_ids(client.get(f"/transactions?{query}")) == expected
    assert [item["transaction_id"] for item in client.get(f"/api/transactions?{query}").json["items"]] == expected


def test_no_match_for_the_filters_says_so(client, db):
    add_transaction(db, "t-1")
    assert "No transactions match these filters" in text(client.get("/transactions?decision=block"))


@pytest.mark.parametrize("sort", ["-time", "time", "-risk", "risk", "-amount", "amount"])
def test_pages_cover_every_row_once_even_with_ties(client, db, sort):
    # Three rows share each sort value, so only the id tells them apart.
    for index in range(23):
        add_transaction(
            db,
            f"t-{index:02d}",
            scored_at=NOW - timedelta(seconds=index // 3),
            risk_score=(index // 3) / 10,
            amount=index // 3,
        )
    seen, url = [], f"/transactions?sort={sort}&limit=5&decision=approve"
    while url:
        response = client.get(url)
        ids = row_ids(response)
        seen += ids
        url = next_link(response)
        if url:
            assert parse_qs(urlsplit(url).query)["decision"] == ["approve"]  # filters survive paging
    assert sorted(seen) == sorted(f"t-{index:02d}" for index in range(23))
    assert len(seen) == 23


def test_previous_goes_back_to_the_same_rows(client, db):
    for index in range(12):
        add_transaction(db, f"t-{index:02d}", scored_at=NOW - timedelta(seconds=index))
    first = client.get("/api/transactions?limit=5").json
    second = client.get(first["next"]).json
    back = client.get(second["previous"]).json
    assert [item["transaction_id"] for item in back["items"]] == [item["transaction_id"] for item in first["items"]]
    assert back["previous"] is None
    third = client.get(second["next"]).json
    assert [item["transaction_id"] for item in third["items"]] == ["t-10", "t-11"]
    assert third["next"] is None


def test_the_first_page_is_live_and_later_pages_are_not(client, db):
    add_transaction(db, "t-1")
    first = client.get("/transactions").get_data(as_text=True)
    assert 'data-live-url="/partials/transactions"' in first
    assert "Live: new decisions appear here" in first
    assert "data-live-url" not in client.get("/transactions?sort=-risk").get_data(as_text=True)


def test_live_rows_are_those_stored_since_the_given_time_with_the_same_filters(client, db):
    since = NOW - timedelta(minutes=5)
    add_transaction(db, "t-before", persisted_at=since - timedelta(minutes=1))
    add_transaction(db, "t-after", persisted_at=since + timedelta(seconds=30))
    add_transaction(db, "t-after-block", decision="block", risk_score=0.9, persisted_at=since + timedelta(seconds=40))
    stamp = since.isoformat().replace("+", "%2B")
    assert row_ids(client.get(f"/partials/transactions?since={stamp}")) == ["t-after-block", "t-after"]
    assert row_ids(client.get(f"/partials/transactions?since={stamp}&decision=block")) == ["t-after-block"]
    assert 'class="fresh"' in client.get(f"/partials/transactions?since={stamp}").get_data(as_text=True)


# -- transaction detail and labels ------------------------------------------------


def test_the_detail_page_shows_every_field_feature_and_the_decision(client, db):
    add_transaction(
        db,
        "t-42",
        user_id="u-7",
        amount=99.95,
        risk_score=0.6123,
        decision="review",
        model_version="v0003",
        payload={"currency": "EUR", "merchant_id": "m-55"},
    )
    page = text(client.get("/transactions/demo/t-42"))
    for shown in ("t-42", "u-7", "99.95 EUR", "0.6123", "review", "v0003", "risk ≥ 0.5000", "risk ≥ 0.8000"):
        assert shown in page
    assert "merchant_id" in page and "m-55" in page and "currency" in page
    for index in range(1, 29):
        assert f'<dt>V{index}</dt><dd class="mono">{index / 100}</dd>' in page
    assert "<dt>Time</dt>" in page and "<dt>Amount</dt>" in page
    assert "No alert: only review and block decisions raise one." in page
    assert "Not labelled yet." in page


def test_the_detail_page_shows_the_behaviour_the_model_saw_its_reasons_and_the_users_recent_transactions(client, db):
    computed = {name: float(index) for index, name in enumerate(behaviour.FEATURES)}
    computed["amount_vs_user_usual"] = 14.0
    add_transaction(db, "t-earlier", user_id="u-8", scored_at=NOW - timedelta(minutes=9))
    add_transaction(db, "t-other-user", user_id="u-9", scored_at=NOW - timedelta(minutes=8))
    add_transaction(
        db,
        "t-held",
        user_id="u-8",
        decision="review",
        behaviour=computed,
        reasons=["amount 14× this user's usual"],
        scored_at=NOW - timedelta(minutes=5),
    )
    add_transaction(db, "t-later", user_id="u-8", scored_at=NOW - timedelta(minutes=1))
    response = client.get("/transactions/demo/t-held")
    page = text(response)
    assert "amount 14× this user's usual" in page
    for name in behaviour.FEATURES:
        assert name in page and BEHAVIOUR_MEANINGS[name] in page
    recent = response.get_data(as_text=True).split('id="recent-of-user"')[1].split("</table>")[0]
    assert "t-held" in recent and "t-earlier" in recent
    assert "t-later" not in recent and "t-other-user" not in recent


def test_a_decision_made_before_behavioural_features_says_so(client, db):
    add_transaction(db, "t-old")
    assert "Scored before behavioural features were computed." in text(client.get("/transactions/demo/t-old"))


TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def test_the_detail_page_shows_the_trace_the_decision_was_made_in(client, db):
    add_transaction(db, "t-traced", trace_id=TRACE_ID)
    page = text(client.get("/transactions/demo/t-traced"))
    assert TRACE_ID in page and "set SENTINEL_TRACE_URL" in page


def test_the_trace_links_to_the_tracing_backend_sentinel_trace_url_names(stack, database_url, db):
    app = create_app(replace(stack.settings, database_url=database_url, trace_url="https://traces.test/t/{trace_id}"))
    add_transaction(db, "t-traced", trace_id=TRACE_ID)
    page = text(logged_in_client(app, database_url).get("/transactions/demo/t-traced"))
    assert f'href="https://traces.test/t/{TRACE_ID}"' in page


def test_the_detail_page_shows_the_alert_and_the_label_history(client, db):
    add_alert(db, "t-7", status="acknowledged")
    db.execute(
        "INSERT INTO labels (client_id, transaction_id, label, labelled_by, labelled_at, note) VALUES"
        " ('demo', 't-7', 'legitimate', 'ana', now() - interval '1 hour', 'first look'),"
        " ('demo', 't-7', 'fraud', 'bo', now(), 'chargeback came in')"
    )
    page = text(client.get("/transactions/demo/t-7"))
    assert "acknowledged" in page
    assert page.index("chargeback came in") < page.index("first look")  # latest first
    assert "labelled fraud" in page
    assert 'action="/alerts/demo/t-7/close"' in page and 'action="/alerts/demo/t-7/acknowledge"' not in page


def test_an_unknown_transaction_is_a_404(client, db):
    add_transaction(db, "t-1", client_id="bank-a")
    response = client.get("/transactions/t-missing")
    assert response.status_code == 404
    assert "There is no transaction 't-missing'" in text(response)
    assert client.get("/api/transactions/t-missing").json["status"] == 404
    other_client = client.get("/transactions/bank-b/t-1")
    assert other_client.status_code == 404
    assert "There is no transaction 't-1' of client 'bank-b'" in text(other_client)
    assert client.get("/api/transactions/bank-b/t-1").json["status"] == 404


def test_the_api_detail_has_the_transaction_its_alert_and_labels(client, db):
    add_alert(db, "t-9")
    db.execute(
        "INSERT INTO labels (client_id, transaction_id, label, labelled_by) VALUES ('demo', 't-9', 'fraud', 'ana')"
    )
    document = client.get("/api/transactions/demo/t-9").json
    assert (document["transaction"]["client_id"], document["transaction"]["transaction_id"]) == ("demo", "t-9")
    assert document["transaction"]["url"] == "/transactions/demo/t-9"
    assert document["transaction"]["payload"]["V3"] == 0.03
    assert document["transaction"]["thresholds"] == THRESHOLDS
    assert document["transaction"]["scored_at"].startswith(NOW.strftime("%Y-%m-%dT"))
    assert (document["alert"]["client_id"], document["alert"]["status"]) == ("demo", "open")
    assert [label["label"] for label in document["labels"]] == ["fraud"]


def test_labelling_writes_the_labels_table_as_the_logged_in_analyst(client, db):
    add_transaction(db, "t-5")
    token = csrf_token(client, "/transactions/demo/t-5")
    response = client.post(
        "/transactions/demo/t-5/labels", data={"csrf_token": token, "label": "fraud", "note": "card reported stolen"}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/transactions/demo/t-5"
    stored = db.execute(
        "SELECT client_id, label, source, labelled_by, note FROM labels WHERE transaction_id = 't-5'"
    ).fetchall()
    name = stored[0][3]
    assert stored == [("demo", "fraud", "analyst", name, "card reported stolen")] and name.startswith("analyst-")
    assert f"Labelled fraud by {name}." in text(client.get("/transactions/demo/t-5"))
    audited = db.execute(
        "SELECT actor, subject, details->>'label' FROM audit_log WHERE action = 'label.add' ORDER BY id DESC LIMIT 1"
    ).fetchone()
    assert audited == (name, "demo/t-5", "fraud")


@pytest.mark.parametrize(
    ("form", "status", "reason"),
    [
        ({"label": "maybe"}, 400, "label must be one of fraud, legitimate"),
        ({"note": "n"}, 400, "label is required"),
        ({"label": "fraud", "analyst": "someone-else"}, 400, "unknown parameter 'analyst'"),
        ({"label": "fraud", "note": "n" * 501}, 400, "note must be at most 500 characters"),
        ({"label": "fraud", "extra": "1"}, 400, "unknown parameter 'extra'"),
    ],
)
def test_a_bad_label_form_is_refused_with_the_reason(client, db, form, status, reason):
    add_transaction(db, "t-5")
    token = csrf_token(client, "/transactions/demo/t-5")
    response = client.post("/transactions/demo/t-5/labels", data={"csrf_token": token, **form})
    assert response.status_code == status
    assert reason in text(response)
    assert db.execute("SELECT count(*) FROM labels").fetchone()[0] == 0


def test_labelling_an_unknown_transaction_is_a_404(client, db):
    add_transaction(db, "t-5")
    token = csrf_token(client, "/transactions/demo/t-5")
    assert client.post("/transactions/demo/t-6/labels", data={"csrf_token": token, "label": "fraud"}).status_code == 404
    assert (
        client.post("/transactions/bank-b/t-5/labels", data={"csrf_token": token, "label": "fraud"}).status_code == 404
    )
    assert db.execute("SELECT count(*) FROM labels").fetchone()[0] == 0


def test_every_value_is_escaped(client, db):
    add_transaction(db, "t-x", payload={"merchant_id": "<script>alert(1)</script>", "currency": "<b>"})
    db.execute(
        "INSERT INTO labels (client_id, transaction_id, label, labelled_by, note)"
        " VALUES ('demo', 't-x', 'fraud', '<i>eve</i>', '<img src=x>')"
    )
    body = client.get("/transactions/demo/t-x").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "<img src=x>" not in body and "<i>eve</i>" not in body and "<b>" not in body
    listing = client.get("/transactions").get_data(as_text=True)
    assert "10.00 &lt;b&gt;" in listing


# -- the same transaction id from several clients -------------------------------------


def test_two_clients_with_the_same_id_are_two_transactions_each_with_its_own_page(client, db):
    add_transaction(db, "t-1", client_id="bank-a", user_id="u-a", amount=11, scored_at=NOW - timedelta(minutes=2))
    add_transaction(db, "t-1", client_id="bank-b", user_id="u-b", amount=22)
    listing = client.get("/transactions")
    assert row_identities(listing) == [("bank-b", "t-1"), ("bank-a", "t-1")]
    assert 'href="/transactions/bank-a/t-1"' in text(listing) and 'href="/transactions/bank-b/t-1"' in text(listing)
    page_a, page_b = text(client.get("/transactions/bank-a/t-1")), text(client.get("/transactions/bank-b/t-1"))
    assert "u-a" in page_a and "11.00" in page_a and "u-b" not in page_a
    assert "u-b" in page_b and "22.00" in page_b and "u-a" not in page_b


def test_the_id_alone_leads_to_the_one_client_that_sent_it_or_to_the_list_of_several(client, db):
    add_transaction(db, "t-once", client_id="bank-a")
    add_transaction(db, "t-twice", client_id="bank-a")
    add_transaction(db, "t-twice", client_id="bank-b")
    assert client.get("/transactions/t-once").headers["Location"] == "/transactions/bank-a/t-once"
    assert client.get("/transactions/t-twice").headers["Location"] == "/transactions?transaction=t-twice"
    assert client.get("/api/transactions/t-once").headers["Location"] == "/api/transactions/bank-a/t-once"
    assert client.get("/transactions/t-never").status_code == 404


def test_searching_by_id_finds_it_whichever_client_sent_it(client, db):
    add_transaction(db, "t-1", client_id="bank-a", scored_at=NOW - timedelta(minutes=2))
    add_transaction(db, "t-1", client_id="bank-b")
    add_transaction(db, "t-2", client_id="bank-a")
    assert row_identities(client.get("/transactions?transaction=t-1")) == [("bank-b", "t-1"), ("bank-a", "t-1")]
    items = client.get("/api/transactions?transaction=t-1").json["items"]
    assert [(item["client_id"], item["url"]) for item in items] == [
        ("bank-b", "/transactions/bank-b/t-1"),
        ("bank-a", "/transactions/bank-a/t-1"),
    ]
    assert "No transactions match these filters" in text(client.get("/transactions?transaction=t-3"))


def test_labelling_one_clients_transaction_leaves_the_other_clients_unlabelled(client, db):
    add_transaction(db, "t-1", client_id="bank-a")
    add_transaction(db, "t-1", client_id="bank-b")
    token = csrf_token(client, "/transactions/bank-a/t-1")
    response = client.post("/transactions/bank-a/t-1/labels", data={"csrf_token": token, "label": "fraud"})
    assert response.headers["Location"] == "/transactions/bank-a/t-1"
    assert db.execute("SELECT client_id, transaction_id, label FROM labels").fetchall() == [("bank-a", "t-1", "fraud")]
    assert "labelled fraud" in text(client.get("/transactions/bank-a/t-1"))
    assert "Not labelled yet." in text(client.get("/transactions/bank-b/t-1"))
    assert client.get("/api/transactions/bank-b/t-1").json["labels"] == []
    subject = db.execute("SELECT subject FROM audit_log WHERE action = 'label.add' ORDER BY id DESC LIMIT 1").fetchone()
    assert subject == ("bank-a/t-1",)


@pytest.mark.parametrize("sort", ["-time", "time", "-risk", "risk", "-amount", "amount"])
def test_pages_cover_every_row_once_when_ties_span_clients(client, db, sort):
    # Three clients send the same eight ids, and four ids share each sort value: twelve rows
    # tie on it, and three of those on the id too, which only the client tells apart.
    expected = set()
    for index in range(8):
        for client_id in ("bank-a", "bank-b", "bank-c"):
            add_transaction(
                db,
                f"t-{index}",
                client_id=client_id,
                scored_at=NOW - timedelta(seconds=index // 4),
                risk_score=(index // 4) / 10,
                amount=index // 4,
            )
            expected.add((client_id, f"t-{index}"))
    seen, url = [], f"/transactions?sort={sort}&limit=5"
    while url:
        response = client.get(url)
        seen += row_identities(response)
        url = next_link(response)
    assert len(seen) == len(expected) == 24
    assert set(seen) == expected


def test_previous_returns_the_same_rows_when_ties_span_clients(client, db):
    for client_id in ("bank-a", "bank-b", "bank-c", "bank-d", "bank-e"):
        add_transaction(db, "t-1", client_id=client_id)
    first = client.get("/api/transactions?limit=2").json
    second = client.get(first["next"]).json
    back = client.get(second["previous"]).json
    assert [item["client_id"] for item in back["items"]] == [item["client_id"] for item in first["items"]]
    third = client.get(second["next"]).json
    assert [item["client_id"] for item in first["items"] + second["items"] + third["items"]] == [
        "bank-e",
        "bank-d",
        "bank-c",
        "bank-b",
        "bank-a",
    ]


def test_alert_pages_cover_every_alert_once_when_ties_span_clients(client, db):
    for client_id in ("bank-a", "bank-b", "bank-c", "bank-d", "bank-e"):
        for transaction_id in ("t-1", "t-2"):
            add_alert(db, transaction_id, client_id=client_id, created_at=NOW - timedelta(minutes=5))
    seen, url = [], "/alerts?limit=3"
    while url:
        response = client.get(url)
        seen += row_identities(response)
        url = next_link(response)
    assert seen == sorted((c, t) for c in ("bank-a", "bank-b", "bank-c", "bank-d", "bank-e") for t in ("t-1", "t-2"))


def test_closing_one_clients_alert_leaves_the_other_clients_open(client, db):
    add_alert(db, "t-1", client_id="bank-a")
    add_alert(db, "t-1", client_id="bank-b")
    listing = text(client.get("/alerts"))
    assert 'action="/alerts/bank-a/t-1/close"' in listing and 'action="/alerts/bank-b/t-1/close"' in listing
    token = csrf_token(client, "/alerts")
    assert client.post("/alerts/bank-a/t-1/close", data={"csrf_token": token}).status_code == 303
    statuses = db.execute("SELECT client_id, status FROM alerts ORDER BY client_id").fetchall()
    assert statuses == [("bank-a", "closed"), ("bank-b", "open")]
    subject = db.execute(
        "SELECT subject FROM audit_log WHERE action = 'alert.close' ORDER BY id DESC LIMIT 1"
    ).fetchone()
    assert subject == ("bank-a/t-1",)
    items = client.get("/api/alerts").json["items"]
    assert [(item["client_id"], item["url"]) for item in items] == [("bank-b", "/transactions/bank-b/t-1")]


# -- alerts --------------------------------------------------------------------------


def test_the_alert_queue_is_open_alerts_oldest_first(client, db):
    add_alert(db, "t-new", created_at=NOW)
    add_alert(db, "t-old", created_at=NOW - timedelta(hours=1), decision="review")
    add_alert(db, "t-done", status="closed")
    response = client.get("/alerts")
    assert row_ids(response) == ["t-old", "t-new"]
    page = text(response)
    assert 'Open <span class="count">2</span>' in page.replace("\n", "").replace("      ", "")
    assert row_ids(client.get("/alerts?status=closed")) == ["t-done"]
    assert row_ids(client.get("/alerts?decision=review")) == ["t-old"]
    assert client.get("/api/alerts").json["sizes"] == {"open": 2, "acknowledged": 0}


def test_acknowledge_then_close_an_alert(client, db):
    add_alert(db, "t-1", created_at=NOW - timedelta(minutes=10))
    token = csrf_token(client, "/alerts")
    response = client.post("/alerts/demo/t-1/acknowledge", data={"csrf_token": token, "next": "/alerts?decision=block"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/alerts?decision=block"
    status, updated = db.execute("SELECT status, updated_at FROM alerts WHERE transaction_id = 't-1'").fetchone()
    assert status == "acknowledged"
    assert updated > NOW - timedelta(minutes=1)
    assert row_ids(client.get("/alerts?status=acknowledged")) == ["t-1"]
    assert client.post("/alerts/demo/t-1/close", data={"csrf_token": token}).status_code == 303
    assert db.execute("SELECT status FROM alerts WHERE transaction_id = 't-1'").fetchone()[0] == "closed"


@pytest.mark.parametrize(
    ("status", "action", "code", "reason"),
    [
        ("closed", "close", 409, "is closed; it cannot be closed now"),
        ("closed", "acknowledge", 409, "is closed; it cannot be acknowledged now"),
        ("acknowledged", "acknowledge", 409, "is acknowledged; it cannot be acknowledged now"),
    ],
)
def test_an_alert_cannot_move_backwards(client, db, status, action, code, reason):
    add_alert(db, "t-1", status=status)
    token = csrf_token(client, "/transactions/demo/t-1")
    response = client.post(f"/alerts/demo/t-1/{action}", data={"csrf_token": token})
    assert response.status_code == code
    assert reason in text(response)


def test_acting_on_a_missing_alert_is_a_404_and_next_never_leaves_the_site(client, db):
    add_alert(db, "t-1")
    token = csrf_token(client, "/alerts")
    assert client.post("/alerts/demo/t-2/close", data={"csrf_token": token}).status_code == 404
    assert client.post("/alerts/bank-b/t-1/close", data={"csrf_token": token}).status_code == 404
    response = client.post("/alerts/demo/t-1/close", data={"csrf_token": token, "next": "//evil.example/"})
    assert response.headers["Location"] == "/alerts"


# -- models, overview, pipeline, health -----------------------------------------------


def test_the_models_page_shows_every_version_metrics_status_and_promotions(client, db):
    add_model(db, "v0001", status="retired")
    add_model(db, "v0002", status="champion", metrics={"auprc": 0.8765, "roc_auc": 0.99, "trees": 120})
    db.execute(
        "INSERT INTO promotions (version, previous_version, action, promoted_by, reason, gate) VALUES"
        " ('v0001', NULL, 'promote', 'sentinel up', 'first model', NULL),"
        " ('v0002', 'v0001', 'promote', 'retrain', 'better AUPRC', %s)",
        (Jsonb({"candidate_auprc": 0.8765, "champion_version": "v0001", "champion_auprc": 0.8, "passed": True}),),
    )
    add_transaction(db, "t-1", model_version="v0002")
    page = text(client.get("/models"))
    assert page.index("v0002") < page.index("v0001")
    for shown in ("champion", "retired", "0.8765", "120", "better AUPRC", "replacing", "passed", "first model"):
        assert shown in page
    detail = text(client.get("/models/v0002"))
    assert "auprc" in detail and "synthetic:rows=100" in detail and "retrain" in detail
    document = client.get("/api/models").json
    assert [model["version"] for model in document["items"]] == ["v0002", "v0001"]
    assert document["items"][0]["last_scored_at"] is not None
    assert [change["version"] for change in document["promotions"]] == ["v0002", "v0001"]
    assert "onnx" not in document["items"][0]
    assert client.get("/api/models/v0001").json["model"]["status"] == "retired"


def test_an_unknown_model_is_a_404(client, db):
    assert client.get("/models/v0404").status_code == 404
    assert client.get("/api/models/v0404").status_code == 404


@pytest.fixture(scope="module")
def admin(app, database_url):
    return logged_in_client(app, database_url, "admin")


def test_an_admin_promotes_a_candidate_whose_recorded_gate_passed_and_rolls_back(admin, db):
    add_model(db, "v0001", status="champion")
    db.execute("INSERT INTO promotions (version, action, promoted_by, reason) VALUES ('v0001', 'promote', 't', 'r')")
    add_model(db, "v0002", metrics={"auprc": 0.9, "gate": a_gate("v0002", "v0001", 0.9)})
    token = csrf_token(admin, "/models/v0002")
    assert admin.post("/models/v0002/promote", data={"csrf_token": token}).status_code == 303
    assert db.execute("SELECT version FROM models WHERE status = 'champion'").fetchone() == ("v0002",)
    assert admin.post("/models/rollback", data={"csrf_token": token}).status_code == 303
    assert db.execute("SELECT version FROM models WHERE status = 'champion'").fetchone() == ("v0001",)
    actions = db.execute("SELECT action, subject FROM audit_log ORDER BY id DESC LIMIT 2").fetchall()
    assert actions == [("model.rollback", "v0001"), ("model.promote", "v0002")]


@pytest.mark.parametrize(
    ("metrics", "reason"),
    [({"auprc": 0.9}, "no gate verdict on record"), ({"gate": a_gate("v0002", "v0001", 0.5)}, "fails the gate")],
)
def test_the_ui_does_not_promote_without_a_passing_gate(admin, db, metrics, reason):
    add_model(db, "v0001", status="champion")
    add_model(db, "v0002", metrics=metrics)
    response = admin.post("/models/v0002/promote", data={"csrf_token": csrf_token(admin, "/models/v0002")})
    assert response.status_code == 409
    assert reason in text(response)
    assert db.execute("SELECT version FROM models WHERE status = 'champion'").fetchone() == ("v0001",)


def test_an_admin_adds_and_disables_a_user_and_reads_it_in_the_audit_log(admin, db):
    name = f"new-{NOW.timestamp():.0f}"
    token = csrf_token(admin, "/admin/users")
    added = admin.post(
        "/admin/users", data={"csrf_token": token, "name": name, "role": "analyst", "password": "p" * 14}
    )
    assert added.status_code == 303
    assert name in text(admin.get("/admin/users"))
    assert admin.post(f"/admin/users/{name}/disable", data={"csrf_token": token}).status_code == 303
    audit_page = text(admin.get(f"/audit?actor={admin_name(db)}"))
    assert "user.disable" in audit_page and "user.add" in audit_page and name in audit_page


def admin_name(db) -> str:
    return db.execute("SELECT name FROM users WHERE role = 'admin' ORDER BY created_at DESC LIMIT 1").fetchone()[0]


def test_the_overview_counts_decisions_risk_and_alerts_in_the_window(client, db):
    add_model(db, "v0001", status="champion")
    add_transaction(db, "t-a", risk_score=0.01)
    add_transaction(db, "t-b", risk_score=0.03)
    add_alert(db, "t-c")  # a block at risk 0.9
    add_transaction(db, "t-old", scored_at=NOW - timedelta(days=3))
    data = client.get("/api/overview?window=1h").json
    assert data["totals"] == {
        "transactions": 3,
        "approve": 2,
        "review": 0,
        "block": 1,
        "alerts": 1,
        "open_alerts": 1,
    }
    assert len(data["buckets"]) == 60
    assert sum(data["decisions"]["approve"]) == 2
    assert data["risk"]["by_decision"]["approve"][0] == 2
    assert data["risk"]["by_decision"]["block"][18] == 1
    assert sum(data["alerts"]["block"]) == 1
    assert data["champion"]["version"] == "v0001"
    assert client.get("/api/overview?window=7d").json["totals"]["transactions"] == 4
    page = text(client.get("/?window=7d"))
    assert "last 7 days" in page and 'data-chart-source="/api/overview?window=7d"' in page


def test_the_pipeline_page_reports_every_component_of_the_stack(stack, database_url):
    settings = replace(stack.settings, database_url=database_url)
    client = logged_in_client(create_app(settings, status=LocalStackStatus(settings)), database_url)
    assert "Reading the status of every component" in text(client.get("/pipeline"))
    assert client.get("/partials/pipeline").status_code == 200
    page = text(client.get("/pipeline"))
    for name in ("broker", "postgres", "redis", "kafka-sink-ingress", "ingest", "score", "persist", "alert"):
        assert f'data-component="{name}"' in page
    assert "Dead letters" in page and "sentinel.dlq" in page
    document = client.get("/api/pipeline").json
    assert document["error"] is None
    by_name = {component["name"]: component for component in document["components"]}
    assert by_name["score-source"]["consumer_group"] == "sentinel-score"
    assert by_name["score-source"]["healthy"] is True
    assert isinstance(by_name["score-source"]["lag"], int)
    assert by_name["score"]["events"]["meaning"] == "received from score-source"
    assert isinstance(document["dead_letters"], int)


def test_healthz_answers_while_the_database_does(client):
    assert client.get("/healthz").json == {"healthy": True}
