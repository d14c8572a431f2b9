"""The Transaction schema: what ingest and score accept, and how they say no."""

import math

import pytest

from sentinel.core.errors import ClientError
from sentinel.core.transaction import FEATURE_NAMES, MAX_AMOUNT, validate


def a_transaction(**changes):
    item = {"transaction_id": "tx-1", "user_id": "u-1", "Time": 10.0, "Amount": 12.5}
    item.update({f"V{i}": 0.1 * i for i in range(1, 29)})
    item.update(changes)
    return item


def problems_of(data, **kwargs):
    with pytest.raises(ClientError) as caught:
        validate(data, **kwargs)
    assert caught.value.status == 400
    return {problem.field: problem.message for problem in caught.value.problems}


def test_a_complete_transaction_is_accepted_with_numbers_as_floats():
    clean = validate(a_transaction(Time=3))
    assert clean["Time"] == 3.0 and isinstance(clean["Time"], float)
    assert set(FEATURE_NAMES) <= set(clean)


def test_the_feature_names_are_time_v1_to_v28_and_amount():
    assert FEATURE_NAMES == ("Time", *[f"V{i}" for i in range(1, 29)], "Amount")


def test_optional_fields_are_kept():
    clean = validate(a_transaction(currency="EUR", merchant_id="m-9", event_time="2026-11-29T10:00:00Z"))
    assert (clean["currency"], clean["merchant_id"]) == ("EUR", "m-9")


def test_an_unknown_field_is_named():
    assert problems_of(a_transaction(V29=1.0)) == {"V29": "unknown field"}


def test_a_missing_field_is_named():
    data = a_transaction()
    del data["V7"]
    assert problems_of(data) == {"V7": "missing"}


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, "1.0", True, None])
def test_a_feature_that_is_not_a_finite_number_is_refused(value):
    assert "V3" in problems_of(a_transaction(V3=value))


def test_a_negative_amount_is_refused():
    assert "Amount" in problems_of(a_transaction(Amount=-1))


def test_an_absurd_amount_is_refused():
    assert "Amount" in problems_of(a_transaction(Amount=MAX_AMOUNT * 10))


def test_negative_time_is_refused():
    assert "Time" in problems_of(a_transaction(Time=-5))


@pytest.mark.parametrize("transaction_id", ["", "x" * 65, "has space", "semi;colon"])
def test_a_malformed_transaction_id_is_refused(transaction_id):
    assert "transaction_id" in problems_of(a_transaction(transaction_id=transaction_id))


def test_every_problem_is_reported_at_once():
    assert set(problems_of(a_transaction(Amount=-1, V1="x", extra=1))) == {"Amount", "V1", "extra"}


def test_a_timestamp_without_offset_is_refused():
    assert "event_time" in problems_of(a_transaction(event_time="2026-11-29T10:00:00"))


def test_a_bad_currency_is_refused():
    assert "currency" in problems_of(a_transaction(currency="euro"))


def test_received_at_is_accepted_only_where_a_stage_adds_it():
    stamped = a_transaction(received_at="2026-11-29T10:00:00+00:00")
    assert "received_at" in problems_of(stamped)
    assert validate(stamped, extra_fields=("received_at",))["received_at"] == stamped["received_at"]


def test_data_that_is_not_an_object_is_refused():
    with pytest.raises(ClientError, match="JSON object"):
        validate([1, 2])
