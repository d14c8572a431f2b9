"""Reasons a person can read, from the features that pushed a score towards fraud (sentinel.core.reasons)."""

from __future__ import annotations

import pytest

from sentinel.core import behaviour, transaction
from sentinel.core.model import WITH_BEHAVIOUR
from sentinel.core.reasons import describe, reasons
from sentinel.core.score import MAX_REASON_LENGTH, MAX_REASONS


def reasons_for(values: dict[str, float], pushes: dict[str, float], **options) -> list[str]:
    """The reasons for a row of WITH_BEHAVIOUR features of `values` (else 0) and contributions `pushes` (else 0)."""
    row = [values.get(name, 0.0) for name in WITH_BEHAVIOUR]
    contributions = [pushes.get(name, 0.0) for name in WITH_BEHAVIOUR]
    return reasons(WITH_BEHAVIOUR, row, contributions, **options)


def test_the_features_pushing_hardest_towards_fraud_come_first():
    values = {"Amount": 2450.0, "V14": -7.3, "merchant_new_for_user": 1.0}
    found = reasons_for(values, {"Amount": 0.4, "V14": 1.9, "merchant_new_for_user": 0.8, "V3": 0.1})
    assert found == ["V14 unusually low (-7.3)", "merchant new for this user", "amount 2,450.00"]


def test_features_pushing_away_from_fraud_are_no_reasons():
    assert reasons_for({"Amount": 12.0}, {"Amount": 0.5, "V1": -2.0, "V2": 0.0}) == ["amount 12.00"]


def test_a_push_under_a_tenth_of_the_strongest_is_no_reason():
    found = reasons_for({"V14": -7.3}, {"V14": 2.0, "V24": 0.19, "Amount": 0.2})
    assert found == ["V14 unusually low (-7.3)", "amount 0.00"]


def test_no_more_than_top_reasons_are_given():
    pushes = {name: 1.0 + index for index, name in enumerate(transaction.PCA_FIELDS)}
    assert reasons_for({}, pushes, top=2) == ["V28 within its usual range (0.0)", "V27 within its usual range (0.0)"]


def test_no_more_than_the_score_payload_holds_are_given():
    pushes = {name: 1.0 for name in WITH_BEHAVIOUR}
    assert len(reasons_for({}, pushes, top=100)) == min(MAX_REASONS, len(WITH_BEHAVIOUR))


def test_the_bias_after_the_contributions_is_no_reason():
    row = [0.0] * len(transaction.FEATURE_NAMES)
    contributions = [0.0] * len(transaction.FEATURE_NAMES) + [5.0]
    assert reasons(transaction.FEATURE_NAMES, row, contributions) == []


def test_contributions_that_do_not_fit_the_features_are_refused():
    with pytest.raises(ValueError, match="30 features"):
        reasons(transaction.FEATURE_NAMES, [0.0] * 30, [1.0] * 29)


def test_amount_and_time_read_as_money_and_time_of_day():
    assert describe("Amount", 2450.0) == "amount 2,450.00"
    assert describe("Time", 86_400 * 2 + 3 * 3600 + 12 * 60 + 5) == "time of day 03:12 (Time 184,325 s)"


@pytest.mark.parametrize(
    ("value", "sentence"),
    [(-7.3, "V14 unusually low (-7.3)"), (5.1, "V14 unusually high (5.1)"), (1.2, "V14 within its usual range (1.2)")],
)
def test_a_pca_component_is_unusual_when_far_from_zero_on_either_side(value, sentence):
    assert describe("V14", value) == sentence


def test_counts_and_spending_in_a_window_read_as_the_users_recent_activity():
    assert describe("user_count_10m", 6.0) == "6 transactions from this user in the last 10 minutes"
    assert describe("user_count_1h", 1.0) == "1 transaction from this user in the last hour"
    assert describe("user_amount_24h", 1234.5) == "1,234.50 spent by this user in the last 24 hours"


def test_an_amount_is_compared_with_the_users_usual_one():
    assert describe("amount_vs_user_usual", 14.2) == "amount 14× this user's usual"
    assert describe("amount_vs_user_usual", 2.54) == "amount 2.5× this user's usual"


def test_merchant_and_hours_read_against_the_users_habits():
    assert describe("merchant_new_for_user", 1.0) == "merchant new for this user"
    assert describe("hours_from_user_usual", 3.46) == "3.5 h from this user's usual hours"


def test_time_since_the_users_previous_transaction_reads_in_a_fitting_unit():
    assert describe("seconds_since_user_previous", 42.0) == "42 s since this user's previous transaction"
    assert describe("seconds_since_user_previous", 5_400.0) == "1.5 h since this user's previous transaction"
    assert describe("user_previous_count", 3.0) == "3 earlier transactions seen from this user"


def test_a_users_first_transaction_is_said_once_though_two_features_tell_it():
    values = {"seconds_since_user_previous": behaviour.NO_PREVIOUS, "user_previous_count": 0.0, "Amount": 90.0}
    pushes = {"seconds_since_user_previous": 0.9, "user_previous_count": 0.8, "Amount": 0.1}
    assert reasons_for(values, pushes) == ["first transaction seen from this user", "amount 90.00"]


def test_every_behavioural_feature_has_a_sentence_of_its_own():
    for name in behaviour.FEATURES:
        assert not describe(name, 1.0).startswith(name), name


def test_a_feature_without_a_sentence_is_named_with_its_value():
    assert describe("card_age_days", 3.0) == "card_age_days 3"


def test_every_reason_fits_the_score_payload():
    name = "x" * 300
    (reason,) = reasons((name,), [1.0], [1.0])
    assert len(reason) == MAX_REASON_LENGTH
    for feature in WITH_BEHAVIOUR:
        sentence = describe(feature, -1e15)
        assert 1 <= len(sentence) <= MAX_REASON_LENGTH and transaction.is_text(sentence), sentence
