"""The synthetic dataset: the public dataset's schema, its rarity of fraud, fraud that is hard to catch, and
fraud that only a user's history shows."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest
import xgboost as xgb
from sklearn.metrics import average_precision_score

from sentinel.core.transaction import FEATURE_NAMES, parse_timestamp, validate
from training import synthetic
from training.behaviour import behavioural_features
from training.synthetic import EPOCH, demo_transactions, generate

PUBLIC_DATASET_ROWS = 284_807
# Signs every V-feature pattern shows, as (feature, direction): see training.synthetic._apply_v_patterns.
PATTERN_SIGNS = (("V14", -1), ("V4", +1), ("V10", -1), ("V11", +1))
MERCHANT_ID = re.compile(r"m\d{6}")
_TIME, _AMOUNT = FEATURE_NAMES.index("Time"), FEATURE_NAMES.index("Amount")


@pytest.fixture(scope="module")
def full_size():
    started = time.perf_counter()
    dataset = generate(PUBLIC_DATASET_ROWS, seed=3)
    return dataset, time.perf_counter() - started


@pytest.fixture(scope="module")
def drawn():
    """The generator's own view of generate(200_000, seed=8): its users, and which pattern or episode made each row."""
    rows, seed = 200_000, 8
    rng = np.random.default_rng(seed)
    users = synthetic._Users.draw(rng, synthetic._user_count(rows))
    drawn = synthetic._draw_rows(
        rng, users, rows, days=synthetic.DEFAULT_DAYS, anomaly_share=synthetic.ANOMALY_SHARE, episodes=True
    )
    assert np.array_equal(drawn.features.astype(np.float32), generate(rows, seed=seed).features)
    return users, drawn


def episodes_of(drawn, kind: int) -> list[np.ndarray]:
    """The rows of each episode of `kind`, in time order."""
    rows = np.flatnonzero(drawn.pattern == kind)
    return [rows[drawn.episode[rows] == number] for number in np.unique(drawn.episode[rows])]


def at_new_merchants(drawn, rows: np.ndarray) -> float:
    """The share of `rows` at a merchant no earlier row of the same user was at."""
    seen = set()
    new = []
    wanted = set(rows.tolist())
    for row, (user, merchant) in enumerate(zip(drawn.user.tolist(), drawn.merchant.tolist(), strict=True)):
        if row in wanted:
            new.append((user, merchant) not in seen)
        seen.add((user, merchant))
    return float(np.mean(new))


def test_the_same_seed_gives_the_same_rows():
    first, second = generate(5_000, seed=11), generate(5_000, seed=11)
    assert np.array_equal(first.features, second.features)
    assert np.array_equal(first.labels, second.labels)
    assert np.array_equal(first.user_ids, second.user_ids)
    assert first.fingerprint() == second.fingerprint()


def test_different_seeds_give_different_rows():
    assert generate(5_000, seed=11).fingerprint() != generate(5_000, seed=12).fingerprint()


def test_rows_have_the_public_dataset_columns_as_float32():
    dataset = generate(2_000, seed=1)
    assert dataset.feature_names == FEATURE_NAMES
    assert dataset.features.dtype == np.float32
    assert dataset.features.shape == (2_000, len(FEATURE_NAMES))
    assert set(np.unique(dataset.labels)) <= {0, 1}
    assert np.all(dataset.features[:, FEATURE_NAMES.index("Amount")] >= 0)


def test_users_have_ids_like_u00042_and_several_transactions_each():
    dataset = generate(20_000, seed=1)
    assert all(re.fullmatch(r"u\d{5}", user) for user in np.unique(dataset.user_ids))
    assert len(np.unique(dataset.user_ids)) < len(dataset) / 10


def test_rows_are_in_time_order_and_event_time_is_the_epoch_plus_time():
    dataset = generate(5_000, seed=1)
    time_column = dataset.features[:, FEATURE_NAMES.index("Time")]
    assert np.all(np.diff(time_column) >= 0)
    offsets = (dataset.event_times - np.datetime64(EPOCH.replace(tzinfo=None), "s")).astype(int)
    assert np.array_equal(offsets, time_column.astype(int))


def test_a_public_dataset_sized_set_is_generated_in_seconds(full_size):
    _, seconds = full_size
    assert seconds < 10


def test_fraud_is_about_as_rare_as_in_the_public_dataset(full_size):
    dataset, _ = full_size
    assert 0.0012 < dataset.fraud_rate < 0.0022


def test_labels_are_drawn_from_the_true_probability(full_size):
    dataset, _ = full_size
    expected = dataset.true_probability.sum()
    spread = np.sqrt((dataset.true_probability * (1 - dataset.true_probability)).sum())
    assert abs(dataset.labels.sum() - expected) < 4 * spread


def test_even_the_true_probability_cannot_rank_fraud_perfectly(full_size):
    dataset, _ = full_size
    best = average_precision_score(dataset.labels, dataset.true_probability)
    assert 0.5 < best < 0.9


def test_no_single_feature_separates_fraud_nearly_as_well_as_the_true_probability(full_size):
    dataset, _ = full_size
    labels, features = dataset.labels[:100_000], dataset.features[:100_000]
    best = average_precision_score(labels, dataset.true_probability[:100_000])
    single_feature = max(
        average_precision_score(labels, sign * features[:, column])
        for column in range(len(FEATURE_NAMES))
        for sign in (-1, 1)
    )
    assert single_feature < 0.6 * best


def test_demo_transactions_are_valid_transactions():
    for transaction in demo_transactions(300, seed=5, fraud_share=0.1):
        assert validate(transaction) == transaction


def test_demo_transaction_ids_are_unique_and_repeat_for_the_same_seed():
    first = demo_transactions(500, seed=5, fraud_share=0.03)
    ids = [transaction["transaction_id"] for transaction in first]
    assert len(set(ids)) == len(ids)
    assert ids == [transaction["transaction_id"] for transaction in demo_transactions(500, seed=5, fraud_share=0.03)]
    assert set(ids).isdisjoint(t["transaction_id"] for t in demo_transactions(500, seed=6, fraud_share=0.03))


def test_demo_event_time_matches_the_time_feature():
    for transaction in demo_transactions(100, seed=5, fraud_share=0.03):
        event_time = parse_timestamp(transaction["event_time"])
        assert (event_time - EPOCH).total_seconds() == transaction["Time"]


@pytest.mark.parametrize("fraud_share", [0.0, 0.03, 0.5])
def test_fraud_share_sets_how_many_demo_transactions_show_a_fraud_pattern(fraud_share):
    transactions = demo_transactions(2_000, seed=9, fraud_share=fraud_share)
    showing = np.mean(
        [
            any(direction * transaction[feature] > 5 for feature, direction in PATTERN_SIGNS)
            for transaction in transactions
        ]
    )
    # Nearly every fraud row shows its pattern's first sign that far out; legitimate rows rarely do.
    assert 0.9 * fraud_share <= showing <= fraud_share + 0.01


def test_demo_transactions_can_be_all_fraud_or_none():
    assert len(demo_transactions(50, seed=1, fraud_share=1.0)) == 50
    assert demo_transactions(0, seed=1, fraud_share=0.5) == []


def test_every_row_names_a_merchant_like_m000123():
    dataset = generate(5_000, seed=1)
    assert dataset.merchant_ids is not None and len(dataset.merchant_ids) == len(dataset)
    assert all(MERCHANT_ID.fullmatch(merchant) for merchant in dataset.merchant_ids)


def test_legitimate_rows_are_mostly_at_a_few_usual_merchants_of_their_user():
    dataset = generate(50_000, seed=2)
    at_usual, legitimate = 0, 0
    for user in np.unique(dataset.user_ids):
        mine = (dataset.user_ids == user) & (dataset.labels == 0)
        _, counts = np.unique(dataset.merchant_ids[mine], return_counts=True)
        at_usual += np.sort(counts)[::-1][: synthetic.USUAL_MERCHANTS[1]].sum()
        legitimate += mine.sum()
    assert at_usual / legitimate > 0.85


def test_amounts_are_the_amount_column_exactly_as_rounded_in_float64():
    dataset = generate(5_000, seed=1)
    assert dataset.amounts.dtype == np.float64
    assert np.array_equal(dataset.amounts, np.round(dataset.amounts, 2))
    assert np.array_equal(dataset.amounts.astype(np.float32), dataset.features[:, _AMOUNT])


def test_transaction_ids_are_unique_and_name_their_seed():
    ids = generate(5_000, seed=11).transaction_ids
    assert len(set(ids)) == len(ids)
    assert all(transaction_id.startswith("syn-11-") for transaction_id in ids)
    assert set(ids).isdisjoint(generate(5_000, seed=12).transaction_ids)


def test_the_same_seed_gives_the_same_merchants_amounts_ids_and_times():
    first, second = generate(5_000, seed=11), generate(5_000, seed=11)
    for field in ("merchant_ids", "amounts", "transaction_ids", "event_times", "true_probability"):
        assert np.array_equal(getattr(first, field), getattr(second, field)), field


def test_card_testing_bursts_are_tiny_amounts_minutes_apart_at_new_merchants(drawn):
    _, drawn = drawn
    bursts = episodes_of(drawn, synthetic.CARD_TESTING)
    assert len(bursts) >= 3
    for rows in bursts:
        seconds = drawn.features[rows, _TIME]
        assert 4 <= len(rows) <= 10
        assert np.all((drawn.features[rows, _AMOUNT] >= 0.5) & (drawn.features[rows, _AMOUNT] <= 3.0))
        assert np.all(np.diff(seconds) <= 151) and seconds[-1] - seconds[0] <= 25 * 60
    assert at_new_merchants(drawn, np.concatenate(bursts)) > 0.99


def test_an_account_takeover_spends_many_times_the_users_typical_amount_minutes_apart_at_new_merchants(drawn):
    users, drawn = drawn
    takeovers = episodes_of(drawn, synthetic.ACCOUNT_TAKEOVER)
    assert len(takeovers) >= 5
    rows = np.concatenate(takeovers)
    times_typical = drawn.features[rows, _AMOUNT] / users.typical_amount[drawn.user[rows]]
    assert np.mean(times_typical > 4) > 0.9 and np.median(times_typical) > 8
    for rows in takeovers:
        gaps = np.diff(drawn.features[rows, _TIME])
        assert np.all((gaps >= 119) & (gaps <= 1_201))
    assert at_new_merchants(drawn, np.concatenate(takeovers)) > 0.99


def test_a_velocity_attack_is_a_dozen_or_more_transactions_within_an_hour_at_new_merchants(drawn):
    _, drawn = drawn
    attacks = episodes_of(drawn, synthetic.VELOCITY_ATTACK)
    assert attacks
    for rows in attacks:
        assert len(rows) >= 12
        assert drawn.features[rows[-1], _TIME] - drawn.features[rows[0], _TIME] < 3_600
    assert at_new_merchants(drawn, np.concatenate(attacks)) > 0.99


def test_the_true_probability_of_a_row_does_not_change_when_later_rows_change(drawn):
    _, drawn = drawn
    cut = len(drawn.user) // 2
    shuffle = np.random.default_rng(0).permutation(len(drawn.user) - cut)
    features, user, merchant = drawn.features.copy(), drawn.user.copy(), drawn.merchant.copy()
    # Later rows get other V features, amounts, users and merchants (their times stay in order).
    features[cut:, 1:] = features[cut:, 1:][shuffle]
    user[cut:], merchant[cut:] = user[cut:][shuffle[::-1]], np.roll(merchant[cut:], 1)
    changed = synthetic._fraud_probability(features, user, merchant)
    assert np.array_equal(changed[:cut], drawn.probability[:cut])
    assert not np.allclose(changed[cut:], drawn.probability[cut:])


def test_whether_an_earlier_row_of_the_user_was_at_the_merchant_decides_a_card_test():
    # One user: three ordinary purchases, then three tiny ones a minute apart at other merchants.
    seconds = [0, 600, 1_200, 20_000, 20_060, 20_120]
    amounts = [30.0, 25.0, 28.0, 1.5, 1.2, 1.7]
    features = np.zeros((len(seconds), len(FEATURE_NAMES)))
    features[:, _TIME], features[:, _AMOUNT] = seconds, amounts
    user = np.zeros(len(seconds), dtype=np.int64)
    at_new_merchant = synthetic._fraud_probability(features, user, np.array([1, 1, 2, 7, 8, 9]))
    at_known_merchant = synthetic._fraud_probability(features, user, np.array([1, 1, 9, 7, 8, 9]))
    assert at_new_merchant[-1] > 0.5
    assert at_known_merchant[-1] < 0.01


def test_behavioural_features_let_a_model_catch_fraud_the_raw_columns_miss():
    train, fresh = generate(60_000, seed=31), generate(60_000, seed=32)
    with_history = (
        np.hstack([train.features, behavioural_features(train)]),
        np.hstack([fresh.features, behavioural_features(fresh)]),
    )
    auprc = {}
    for name, (train_features, fresh_features) in {
        "raw": (train.features, fresh.features),
        "behaviour": with_history,
    }.items():
        model = xgb.XGBClassifier(n_estimators=200, max_depth=6, learning_rate=0.1, tree_method="hist", n_jobs=2)
        model.fit(train_features, train.labels)
        auprc[name] = average_precision_score(fresh.labels, model.predict_proba(fresh_features)[:, 1])
    assert auprc["behaviour"] > auprc["raw"] + 0.1


def test_demo_transactions_name_a_merchant():
    for transaction in demo_transactions(200, seed=5, fraud_share=0.1):
        assert MERCHANT_ID.fullmatch(transaction["merchant_id"])
