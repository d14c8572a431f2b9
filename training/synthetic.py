"""Synthetic card transactions in the schema of the public credit-card fraud dataset.

Sentinel must train a first model and run its demo with no data downloaded, so this
module generates rows with the same columns (Time, V1..V28, Amount, Class) plus a
user and an event time. The generator knows each row's TRUE fraud probability and
draws the label from it, so scoring rows by that probability gives the best AUPRC
any model can reach: the yardstick a trained model is compared with.

How a row comes about:
- Users have habits: a typical amount, the hours they usually shop at, a small
  personal offset in the V features. Busier users make more transactions.
- Most rows are ordinary behaviour. A small share follow one of four fraud
  patterns (see `_apply_patterns`), either complete or showing only their first sign.
- The fraud probability needs a pattern's signs together (a low V14 with a large
  amount, a high V4 with a low V12, a low V10 at night, a high V11 with a tiny
  amount), partly depends on the amount relative to the user's habit, which the 30
  features do not show, and never exceeds CEILING: some of the most fraud-like rows
  are genuine. So the classes overlap and the best achievable AUPRC is well below 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from sentinel.core.transaction import FEATURE_NAMES, Transaction
from training.dataset import Dataset

SECONDS_PER_DAY = 86_400
# Event time of the row whose Time is 0 (the dataset's clock starts at its first row).
EPOCH = datetime(2025, 1, 6, tzinfo=UTC)
DEFAULT_DAYS = 2
TRANSACTIONS_PER_USER = 50
MIN_USERS = 20
# Tuned so that about 0.17% of rows are fraud, as in the public dataset.
ANOMALY_SHARE = 0.0034
COMPLETE_PATTERN_SHARE = 0.65
BASE_LOGIT = -9.0
# No row is fraud with a higher probability than this: label noise even where fraud is clearest.
CEILING = 0.97

# Spread of V1..V28 in ordinary rows, falling with the component's rank as PCA components do.
_V_SCALE = np.linspace(1.9, 0.35, 28)
_FEATURE = {name: index for index, name in enumerate(FEATURE_NAMES)}
_TIME, _AMOUNT = _FEATURE["Time"], _FEATURE["Amount"]
_V4, _V10, _V11, _V12, _V14 = (_FEATURE[name] for name in ("V4", "V10", "V11", "V12", "V14"))


@dataclass(frozen=True)
class _Users:
    ids: np.ndarray  # str
    activity: np.ndarray  # share of all transactions, sums to 1
    typical_amount: np.ndarray
    active_hour: np.ndarray
    hour_spread: np.ndarray
    v_offset: np.ndarray  # (users, 28)

    @classmethod
    def draw(cls, rng: np.random.Generator, count: int) -> _Users:
        activity = rng.gamma(shape=1.5, size=count)
        night_owl = rng.random(count) < 0.1
        return cls(
            ids=np.array([f"u{index:05d}" for index in range(count)]),
            activity=activity / activity.sum(),
            typical_amount=np.exp(rng.normal(3.2, 0.9, count)),
            active_hour=np.where(night_owl, rng.normal(23.0, 1.5, count), rng.normal(14.0, 2.5, count)) % 24,
            hour_spread=rng.uniform(1.5, 4.0, count),
            v_offset=rng.normal(0.0, 0.25, (count, 28)) * _V_SCALE,
        )


def generate(rows: int, *, seed: int = 7, days: int = DEFAULT_DAYS) -> Dataset:
    """`rows` transactions in time order over `days` days, about 0.17% of them fraud; same seed, same rows."""
    if rows < 1:
        raise ValueError("rows must be at least 1")
    rng = np.random.default_rng(seed)
    users = _Users.draw(rng, _user_count(rows))
    features, user_index, probability = _draw_rows(rng, users, rows, days=days, anomaly_share=ANOMALY_SHARE)
    return Dataset(
        features=features.astype(np.float32),
        labels=(rng.random(rows) < probability).astype(np.int8),
        true_probability=probability,
        user_ids=users.ids[user_index],
        event_times=_event_times(features[:, _TIME]),
    )


def demo_transactions(count: int, *, seed: int, fraud_share: float) -> list[Transaction]:
    """`count` transactions in the Transaction schema, in time order, `fraud_share` of them fraud.

    Fraud rows are drawn from the fraud patterns and kept only when their label came
    out as fraud, so they are what the model was trained to catch, not caricatures.
    Transaction ids are unique for a seed.
    """
    if count < 0 or not 0.0 <= fraud_share <= 1.0:
        raise ValueError("count must be >= 0 and fraud_share between 0 and 1")
    rng = np.random.default_rng(seed)
    users = _Users.draw(rng, _user_count(count))
    fraud_count = round(count * fraud_share)
    fraud = _draw_labelled(rng, users, fraud_count, label=1, anomaly_share=1.0)
    legit = _draw_labelled(rng, users, count - fraud_count, label=0, anomaly_share=ANOMALY_SHARE)
    features = np.concatenate([fraud[0], legit[0]])
    user_ids = users.ids[np.concatenate([fraud[1], legit[1]])]
    order = np.argsort(features[:, _TIME], kind="stable")
    times = _event_times(features[order, _TIME])
    return [
        {
            "transaction_id": f"demo-{seed}-{position:06d}",
            "user_id": str(user_ids[row]),
            **{name: float(features[row, column]) for column, name in enumerate(FEATURE_NAMES)},
            "event_time": _rfc3339(times[position]),
        }
        for position, row in enumerate(order)
    ]


def _user_count(rows: int) -> int:
    return max(MIN_USERS, rows // TRANSACTIONS_PER_USER)


def _draw_rows(
    rng: np.random.Generator, users: _Users, rows: int, *, days: int, anomaly_share: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features (float64, rounded as stored) in time order, each row's user, and its fraud probability."""
    user_index = rng.choice(len(users.ids), size=rows, p=users.activity)
    typical_amount = users.typical_amount[user_index]
    hour = (users.active_hour[user_index] + rng.normal(0.0, 1.0, rows) * users.hour_spread[user_index]) % 24
    features = np.empty((rows, len(FEATURE_NAMES)))
    features[:, 1:29] = rng.normal(0.0, 1.0, (rows, 28)) * _V_SCALE + users.v_offset[user_index]
    features[:, _AMOUNT] = typical_amount * np.exp(rng.normal(0.0, 0.6, rows))

    anomalous = np.flatnonzero(rng.random(rows) < anomaly_share)
    _apply_patterns(rng, features, hour, typical_amount, anomalous)

    features[:, _TIME] = rng.integers(0, days, rows) * SECONDS_PER_DAY + np.floor(hour * 3600)
    features[:, 1:29] = np.round(features[:, 1:29], 6)
    features[:, _AMOUNT] = np.round(np.clip(features[:, _AMOUNT], 0.0, 25_000.0), 2)
    order = np.argsort(features[:, _TIME], kind="stable")
    features, user_index = features[order], user_index[order]
    return features, user_index, _fraud_probability(features, users.typical_amount[user_index])


def _apply_patterns(
    rng: np.random.Generator, features: np.ndarray, hour: np.ndarray, typical_amount: np.ndarray, rows: np.ndarray
) -> None:
    """Give each of `rows` one of four fraud patterns, complete or with only its first sign.

    The patterns: account takeover (low V14, then an amount far above the user's habit),
    skimmed card (high V4, then low V12), night raid (low V10, then the small hours),
    card testing (high V11, then a tiny amount).
    """
    pattern = rng.integers(0, 4, len(rows))
    complete = rng.random(len(rows)) < COMPLETE_PATTERN_SHARE

    def first_sign(which: int, column: int, direction: int) -> np.ndarray:
        """Push `column` far out in the rows of pattern `which`; return those whose pattern is complete."""
        chosen = rows[pattern == which]
        features[chosen, column] += direction * _far_push(rng, len(chosen))
        return chosen[complete[pattern == which]]

    takeover = first_sign(0, _V14, -1)
    features[takeover, _AMOUNT] = typical_amount[takeover] * np.exp(rng.normal(2.5, 0.5, len(takeover)))
    skimmed = first_sign(1, _V4, +1)
    features[skimmed, _V12] -= _far_push(rng, len(skimmed))
    night_raid = first_sign(2, _V10, -1)
    hour[night_raid] = rng.normal(3.0, 1.0, len(night_raid)) % 24
    card_test = first_sign(3, _V11, +1)
    features[card_test, _AMOUNT] = rng.uniform(0.5, 2.0, len(card_test))


def _far_push(rng: np.random.Generator, count: int) -> np.ndarray:
    return 5.5 + rng.exponential(1.5, count)


def _fraud_probability(features: np.ndarray, typical_amount: np.ndarray) -> np.ndarray:
    """The true P(fraud | row, user): the generator's ground truth."""
    hour = (features[:, _TIME] % SECONDS_PER_DAY) / 3600
    night = 0.5 * (1 + np.cos(2 * np.pi * (hour - 3) / 24))
    amount = features[:, _AMOUNT]
    low_v14 = _step(-features[:, _V14] - 4.0)
    low_v12 = _step(-features[:, _V12] - 4.0)
    low_v10 = _step(-features[:, _V10] - 4.0)
    high_v4 = _step(features[:, _V4] - 4.0)
    high_v11 = _step(features[:, _V11] - 4.0)
    above_habit = _step(np.log1p(amount) - np.log1p(typical_amount) - 1.5)
    large_amount = _step(np.log1p(amount) - np.log1p(250.0))
    card_test = (amount < 2.0).astype(float)
    logit = (
        BASE_LOGIT
        + 7.0 * low_v14 * (1 + 0.5 * large_amount)
        + 1.5 * above_habit
        + 9.0 * high_v4 * low_v12
        + 1.5 * high_v4
        + 8.0 * night * low_v10
        + 2.5 * low_v10
        + 9.0 * card_test * high_v11
        + 2.0 * high_v11
    )
    return CEILING / (1 + np.exp(-logit))


def _step(x: np.ndarray) -> np.ndarray:
    """A smooth step from 0 to 1 around x = 0."""
    return 1 / (1 + np.exp(-3 * x))


def _draw_labelled(
    rng: np.random.Generator, users: _Users, count: int, *, label: int, anomaly_share: float
) -> tuple[np.ndarray, np.ndarray]:
    """`count` rows whose drawn label came out as `label`: features and user index."""
    features, user_index = [], []
    found = 0
    while found < count:
        batch, batch_users, probability = _draw_rows(
            rng, users, max(1024, 4 * count), days=DEFAULT_DAYS, anomaly_share=anomaly_share
        )
        kept = np.flatnonzero((rng.random(len(batch)) < probability) == bool(label))
        # A random subset: the batch is in time order, so its first rows would all be early ones.
        chosen = np.sort(rng.permutation(kept)[: count - found])
        features.append(batch[chosen])
        user_index.append(batch_users[chosen])
        found += len(chosen)
    if not features:
        return np.empty((0, len(FEATURE_NAMES))), np.empty(0, dtype=np.int64)
    return np.concatenate(features), np.concatenate(user_index)


def _event_times(time: np.ndarray) -> np.ndarray:
    epoch = np.datetime64(EPOCH.replace(tzinfo=None), "s")
    return epoch + time.astype("timedelta64[s]")


def _rfc3339(moment: np.datetime64) -> str:
    return f"{np.datetime_as_string(moment, unit='s')}Z"
