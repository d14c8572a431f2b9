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


# -- what PostgreSQL can store (docs/bad-input.md) ---------------------------------------


@pytest.mark.parametrize("value", [10**400, -(10**400), 2**1024])
def test_an_integer_no_float_can_hold_is_refused(value):
    assert "V3" in problems_of(a_transaction(V3=value))


@pytest.mark.parametrize("value", [1e15, -1e15, 0.0, -0.0, 5e-324])
def test_features_up_to_10_to_the_15_are_accepted(value):
    assert validate(a_transaction(V3=value))["V3"] == value


@pytest.mark.parametrize("value", [1.0000000000000002e15, -1e16, 1e300, 3.5e38])
def test_a_feature_beyond_10_to_the_15_is_refused(value):
    assert problems_of(a_transaction(V3=value)) == {"V3": "must be between -10^15 and 10^15"}


def test_an_amount_with_more_than_two_decimal_places_is_refused():
    assert problems_of(a_transaction(Amount=12.345)) == {"Amount": "must have at most 2 decimal places, as stored"}


@pytest.mark.parametrize("amount", [0, 0.01, 12.3, 9999999.99, MAX_AMOUNT])
def test_an_amount_in_cents_is_accepted(amount):
    assert validate(a_transaction(Amount=amount))["Amount"] == amount


@pytest.mark.parametrize(
    "merchant_id", ["a\x00b", "tab\there", "del\x7f", "c1\x85", "lone\ud800", "\ufffe", "x" * 65, ""]
)
def test_a_merchant_id_that_is_not_short_text_is_refused(merchant_id):
    assert "merchant_id" in problems_of(a_transaction(merchant_id=merchant_id))


def test_a_merchant_id_may_be_any_other_unicode_text():
    assert validate(a_transaction(merchant_id="Café Zürich 😀"))["merchant_id"] == "Café Zürich 😀"


@pytest.mark.parametrize(
    "event_time",
    [
        "2026-11-29T10:00:00Z",
        "2026-11-29T10:00:00.1Z",
        "2026-11-29T10:00:00.123456+05:30",
        "2026-11-29T10:00:00-00:00",
        "2024-02-29T00:00:00+15:59",
        "0001-01-02T00:00:00Z",
        "9999-12-30T23:59:59.999999Z",
    ],
)
def test_an_rfc_3339_timestamp_postgresql_can_hold_is_accepted(event_time):
    assert validate(a_transaction(event_time=event_time))["event_time"] == event_time


@pytest.mark.parametrize(
    "event_time",
    [
        "2011-W01-2T00:05:23+00:00",  # an ISO 8601 week date
        "2011-003T00:05:23Z",  # an ISO 8601 ordinal date
        "20110103T000523Z",  # the basic format
        "2011-01-03T00:05:23,5Z",  # a comma fraction
        "2011-01-03T00:05:23",  # no offset
        "2011-01-03 00:05:23Z",  # a space for T
        "2011-01-03x00:05:23+00:00",  # any other separator
        "2011-01-03T00:05Z",  # no seconds
        "2011-01-03T00:05:23+0100",  # an offset without its colon
        "2011-01-03T00:05:23.Z",  # a point without digits
        "2023-02-29T00:00:00Z",  # a day the month does not have
        "2011-01-03T24:00:00Z",
        "\u0662\u0660\u0661\u0661-01-03T00:05:23Z",  # digits other than ASCII
        "2011-01-03t00:05:23z",  # lower case, which RFC 3339 allows a specification to refuse
    ],
)
def test_a_timestamp_that_is_not_strict_rfc_3339_is_refused(event_time):
    assert "event_time" in problems_of(a_transaction(event_time=event_time))


@pytest.mark.parametrize(
    ("event_time", "why"),
    [
        ("2016-12-31T23:59:60Z", "leap second"),
        ("2026-11-29T10:00:00.1234567Z", "at most 6 fractional digits"),
        ("2026-11-29T10:00:00+16:00", "under 16 hours"),
        ("0000-01-01T00:00:00Z", "between 0001-01-02 and 9999-12-30"),
        ("0001-01-01T00:00:00+01:00", "between 0001-01-02 and 9999-12-30"),
        ("9999-12-31T23:59:59-01:00", "between 0001-01-02 and 9999-12-30"),
    ],
)
def test_an_rfc_3339_timestamp_postgresql_cannot_hold_is_refused_saying_why(event_time, why):
    assert why in problems_of(a_transaction(event_time=event_time))["event_time"]


def test_an_unknown_field_name_that_is_not_text_is_quoted_escaped():
    assert problems_of({**a_transaction(), "a\x00b": 1}) == {"'a\\x00b'": "unknown field"}
