"""The behavioural features' one definition (sentinel.core.behaviour): what each value means."""

import pytest

from sentinel.core import behaviour
from sentinel.core.behaviour import FEATURES, Observation
from ui.transactions import BEHAVIOUR_MEANINGS

START = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def seen(number, *, after_s=0.0, amount=10.0, merchant="m1"):
    return Observation(f"t-{number}", START + after_s, amount, merchant)


def features_after(history_of, next_one):
    history = behaviour.new_history()
    for earlier in history_of:
        behaviour.observe(history, earlier)
    return dict(zip(FEATURES, behaviour.features_of(history, next_one), strict=True))


def test_a_first_transaction_has_no_history_to_compare_with():
    values = features_after([], seen(1, amount=500.0))
    assert values["user_previous_count"] == 0
    assert values["user_count_24h"] == 0 and values["user_amount_24h"] == 0
    assert values["amount_vs_user_usual"] == 1.0
    assert values["seconds_since_user_previous"] == behaviour.NO_PREVIOUS
    assert values["merchant_new_for_user"] == 1.0


def test_windows_count_and_sum_only_earlier_transactions_inside_them():
    earlier = [seen(1, after_s=0, amount=1.0), seen(2, after_s=3_000, amount=2.0), seen(3, after_s=3_550, amount=4.0)]
    values = features_after(earlier, seen(4, after_s=3_600, amount=100.0))
    assert (values["user_count_10m"], values["user_amount_10m"]) == (1, 4.0)  # the second is exactly 10 min before
    assert (values["user_count_1h"], values["user_amount_1h"]) == (2, 6.0)  # the first is exactly an hour before
    assert (values["user_count_24h"], values["user_amount_24h"]) == (3, 7.0)


def test_a_transaction_never_counts_itself():
    values = features_after([seen(1, amount=5.0)], seen(2, after_s=1, amount=1_000.0))
    assert values["user_amount_10m"] == 5.0


def test_the_amount_is_compared_with_the_users_usual_amount():
    values = features_after([seen(n, after_s=n * 60, amount=9.0) for n in range(5)], seen(9, after_s=600, amount=139.0))
    assert values["amount_vs_user_usual"] == pytest.approx(14.0)


def test_seconds_since_the_previous_transaction():
    values = features_after([seen(1), seen(2, after_s=100)], seen(3, after_s=130))
    assert values["seconds_since_user_previous"] == 30


def test_a_merchant_the_user_has_used_is_not_new():
    values = features_after([seen(1, merchant="m7")], seen(2, after_s=5, merchant="m7"))
    assert values["merchant_new_for_user"] == 0.0


def test_a_transaction_without_a_merchant_is_not_counted_as_a_new_merchant():
    values = features_after([seen(1)], seen(2, after_s=5, merchant=None))
    assert values["merchant_new_for_user"] == 0.0


def test_hours_from_the_users_usual_hour_go_round_midnight():
    at_23h = [seen(n, after_s=n * 86_400 + 23 * 3_600) for n in range(3)]
    values = features_after(at_23h, seen(9, after_s=4 * 86_400 + 1 * 3_600))
    assert values["hours_from_user_usual"] == pytest.approx(2.0)


def test_a_redelivered_transaction_gets_the_same_features_and_does_not_count_twice():
    history = behaviour.new_history()
    behaviour.observe(history, seen(1))
    first = behaviour.observe(history, seen(2, after_s=10, amount=50.0))
    again = behaviour.observe(history, seen(2, after_s=10, amount=50.0))
    assert again == first
    assert history["count"] == 2


def test_the_window_keeps_at_most_max_recent_transactions():
    history = behaviour.new_history()
    for number in range(behaviour.MAX_RECENT + 10):
        behaviour.observe(history, seen(number, after_s=number))
    values = dict(zip(FEATURES, behaviour.features_of(history, seen(-1, after_s=10_000)), strict=True))
    assert values["user_count_24h"] == behaviour.MAX_RECENT


def test_a_history_kept_by_other_definitions_starts_again():
    kept = {**behaviour.new_history(), "version": behaviour.VERSION - 1, "count": 40}
    assert behaviour.history_from(kept) == behaviour.new_history()


def test_a_transaction_happened_at_its_event_time_else_when_it_was_received():
    item = {"transaction_id": "t", "Amount": 1.5, "event_time": "2026-01-01T00:00:10Z"}
    assert behaviour.observation_of(item, received_at="2026-01-01T00:05:00Z").seconds == START + 10
    del item["event_time"]
    assert behaviour.observation_of(item, received_at="2026-01-01T00:05:00Z").seconds == START + 300


def test_every_feature_has_a_meaning_on_the_transaction_page():
    assert set(BEHAVIOUR_MEANINGS) == set(FEATURES)
