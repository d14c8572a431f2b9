"""What ingest accepts, PostgreSQL stores and reads back equal: transactions drawn by Hypothesis,
validated, scored and stored through persist and sentinel.stores.decisions on the test stack's
real PostgreSQL, then read back column by column.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Iterator

import pytest
from fuzz.strategies import timestamps, valid_transactions
from hypothesis import given, settings
from hypothesis import strategies as st

from functions.persist.main import Persist
from functions.score.main import signed_scored_event
from sentinel.config import SCORED_SIGNING_KEY
from sentinel.core import score, transaction
from sentinel.core.decision import Thresholds, decide
from sentinel.core.integrity import SigningKeys
from sentinel.serving.event_integrity import ScoredEvents
from sentinel.stores.database import connect, create_pool
from sentinel.stores.decisions import DecisionStore

pytestmark = pytest.mark.stack

READ_BACK = """
SELECT transaction_id, user_id, amount, event_time, payload, risk_score, decision, model_version,
       thresholds, received_at, scored_at
FROM transactions WHERE transaction_id = %s
"""
_serial = itertools.count()
THRESHOLDS = {"review": 0.5, "block": 0.9}
KEYS = SigningKeys(SCORED_SIGNING_KEY, secrets.token_hex(32))


class OneModel:
    """The registry as persist reads it: model v0001 only (this database holds no models)."""

    def thresholds(self, version: str) -> dict[str, float] | None:
        return THRESHOLDS if version == "v0001" else None

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def database(stack) -> str:
    return stack.fresh_database("accepted_reads_back")


@pytest.fixture(scope="module")
def persist(database) -> Iterator[Persist]:
    function = Persist(DecisionStore(create_pool(database, name="accepted-reads-back")), ScoredEvents(KEYS, OneModel()))
    yield function
    function.stop()


@st.composite
def accepted_scores(draw: st.DrawFn) -> score.Score:
    """A decision about a transaction ingest accepted, with an id no other example uses."""
    drawn = draw(valid_transactions())
    item = transaction.validate({**drawn, "transaction_id": f"{next(_serial)}-{drawn['transaction_id']}"[:64]})
    risk = draw(st.floats(0, 1))
    return score.build(
        {**item, "client_id": "reads-back"},
        risk_score=risk,
        decision=decide(risk, Thresholds(**THRESHOLDS)),
        model_version="v0001",
        thresholds=THRESHOLDS,
        received_at=draw(timestamps()),
        scored_at=draw(timestamps()),
    )


@settings(max_examples=60, derandomize=True, database=None, deadline=None)
@given(st.lists(accepted_scores(), min_size=1, max_size=4))
def test_an_accepted_transaction_is_stored_and_read_back_equal(persist, database, decisions):
    reply = persist.handle([signed_scored_event(decision, KEYS) for decision in decisions])
    assert reply.document["stored"] == [decision["transaction_id"] for decision in decisions]
    with connect(database) as conn:
        for decision in decisions:
            row = conn.execute(READ_BACK, (decision["transaction_id"],)).fetchone()
            item = decision["transaction"]
            assert row[0:2] == (item["transaction_id"], item["user_id"])
            assert float(row[2]) == item["Amount"]
            assert row[3] == transaction.parse_timestamp(item.get("event_time"))
            assert row[4] == item
            assert row[5:9] == (decision["risk_score"], decision["decision"], "v0001", decision["thresholds"])
            assert row[9] == transaction.parse_timestamp(decision["received_at"])
            assert row[10] == transaction.parse_timestamp(decision["scored_at"])
