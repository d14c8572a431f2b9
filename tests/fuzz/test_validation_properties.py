"""The Transaction and Score validators, fuzzed: anything is refused with a 400 or accepted, and then storable."""

from datetime import UTC, datetime

import orjson
from hypothesis import given
from hypothesis import strategies as st
from strategies import any_text, json_documents, timestamps, transaction_shaped, valid_transactions

from sentinel.core import score, transaction
from sentinel.core.api_keys import NAME_PATTERN
from sentinel.core.decision import DECISIONS
from sentinel.core.errors import ClientError

EARLIEST, LATEST = datetime(1, 1, 2, tzinfo=UTC), datetime(9999, 12, 31, tzinfo=UTC)


def accepted(validate, data):
    """What `validate` returns, or None when it refused `data` with a 400 naming what is wrong."""
    try:
        return validate(data)
    except ClientError as error:
        assert error.status == 400 and error.message
        orjson.dumps(error.to_json())  # the answer itself can always be written
        return None


@given(json_documents)
def test_any_json_value_is_a_transaction_or_refused_with_a_400(data):
    accepted(transaction.validate, data)


@given(transaction_shaped())
def test_any_transaction_shaped_object_is_accepted_only_as_storable(data):
    clean = accepted(transaction.validate, data)
    if clean is None:
        return
    for name in ("merchant_id", "currency", "transaction_id", "user_id"):
        assert name not in clean or transaction.is_text(clean[name])
    for name in transaction.FEATURE_NAMES:
        assert type(clean[name]) is float and abs(clean[name]) <= transaction.MAX_FEATURE
    if "event_time" in clean:
        assert EARLIEST <= transaction.parse_timestamp(clean["event_time"]) < LATEST
    assert orjson.loads(orjson.dumps(clean)) == clean
    assert transaction.validate(clean) == clean


@given(valid_transactions())
def test_a_valid_transaction_is_accepted_as_sent(data):
    assert transaction.validate(data) == data


@given(any_text | st.sampled_from(["2016-12-31T23:59:60Z", "0000-01-01T00:00:00Z", "2011-01-03T00:05:23+16:00"]))
def test_any_text_is_a_timestamp_or_a_reason_why_not(text):
    moment, problem = transaction.parse_timestamp(text), transaction.timestamp_problem(text)
    assert (moment is None) != (problem is None)
    if moment is not None:
        assert moment == datetime.fromisoformat(text) and EARLIEST <= moment < LATEST


@given(timestamps())
def test_a_storable_timestamp_is_parsed_to_its_instant(text):
    assert transaction.parse_timestamp(text) == datetime.fromisoformat(text)


# -- the Score payload persist and alert read ------------------------------------------------


@st.composite
def scores(draw):
    item = draw(valid_transactions())
    return score.build(
        {**item, "client_id": draw(st.sampled_from(["demo", "shop-7", "a.b_c"]))},
        risk_score=draw(st.floats(0, 1)),
        decision=draw(st.sampled_from(DECISIONS)),
        model_version=draw(st.sampled_from(["v0001", "v0042"])),
        thresholds={"review": 0.5, "block": 0.9},
        received_at=draw(timestamps()),
        scored_at=draw(timestamps()),
    )


@given(scores())
def test_every_score_that_score_builds_is_parsed(data):
    assert score.parse(data) == data


SCORE_FIELDS = [
    *("client_id", "transaction_id", "user_id", "Amount", "risk_score", "decision", "model_version"),
    *("thresholds", "received_at", "scored_at", "reasons", "transaction"),
]


@given(scores(), st.sampled_from(SCORE_FIELDS), json_documents | timestamps() | any_text)
def test_a_score_with_a_field_forged_is_refused_unless_it_is_still_storable(data, name, value):
    parsed = accepted(score.parse, {**data, name: value})
    if parsed is not None:
        assert transaction.parse_timestamp(parsed["received_at"]) and transaction.parse_timestamp(parsed["scored_at"])
        assert transaction.ID_PATTERN.fullmatch(parsed["model_version"])
        assert NAME_PATTERN.fullmatch(parsed["client_id"])
        orjson.dumps(parsed)


@given(json_documents)
def test_any_json_value_is_a_score_or_refused_with_a_400(data):
    accepted(score.parse, data)
