"""What ingest accepts, PostgreSQL stores and reads back equal: transactions drawn by Hypothesis,
validated, scored and stored through persist and sentinel.stores.decisions on the test stack's
real PostgreSQL, then read back column by column.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from fuzz.strategies import timestamps, valid_transactions
from hypothesis import given, settings
from hypothesis import strategies as st

from functions.persist.main import Persist
from functions.score.main import scored_event
from sentinel.core import score, transaction
from sentinel.stores.database import connect, create_pool
from sentinel.stores.decisions import DecisionStore

pytestmark = pytest.mark.stack

READ_BACK = """
SELECT transaction_id, user_id, amount, event_time, payload, risk_score, decision, model_version,
       thresholds, received_at, scored_at
FROM transactions WHERE transaction_id = %s
"""
_serial = itertools.count()


@pytest.fixture(scope="module")
def database(stack) -> str:
    return stack.fresh_database("accepted_reads_back")


@pytest.fixture(scope="module")
def persist(database) -> Iterator[Persist]:
    function = Persist(DecisionStore(create_pool(database, name="accepted-reads-back")))
    yield function
    function.stop()


@st.composite
def accepted_scores(draw: st.DrawFn) -> score.Score:
    """A decision about a transaction ingest accepted, with an id no other example uses."""
    drawn = draw(valid_transactions())
    item = transaction.validate({**drawn, "transaction_id": f"{next(_serial)}-{drawn['transaction_id']}"[:64]})
    return score.build(
        item,
        risk_score=draw(st.floats(0, 1)),
        decision=draw(st.sampled_from(["approve", "review", "block"])),
        model_version="v0001",
        thresholds={"review": 0.5, "block": 0.9},
        received_at=draw(timestamps()),
        scored_at=draw(timestamps()),
    )


@settings(max_examples=60, derandomize=True, database=None, deadline=None)
@given(st.lists(accepted_scores(), min_size=1, max_size=4))
def test_an_accepted_transaction_is_stored_and_read_back_equal(persist, database, decisions):
    reply = persist.handle([scored_event(decision) for decision in decisions])
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
