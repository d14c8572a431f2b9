"""The synthetic dataset: the public dataset's schema, its rarity of fraud, and fraud that is hard to catch."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from sentinel.core.transaction import FEATURE_NAMES, parse_timestamp, validate
from training.synthetic import EPOCH, demo_transactions, generate

PUBLIC_DATASET_ROWS = 284_807
# Signs every fraud pattern shows, as (feature, direction): see training.synthetic._apply_patterns.
PATTERN_SIGNS = (("V14", -1), ("V4", +1), ("V10", -1), ("V11", +1))


@pytest.fixture(scope="module")
def full_size():
    started = time.perf_counter()
    dataset = generate(PUBLIC_DATASET_ROWS, seed=3)
    return dataset, time.perf_counter() - started


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
