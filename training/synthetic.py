"""Synthetic card transactions in the schema of the public credit-card fraud dataset.

Sentinel must train a first model and run its demo with no data downloaded, so this
module generates rows with the same columns (Time, V1..V28, Amount, Class) plus what
the behavioural features read (training/behaviour.py): each row's user, event time,
merchant, exact amount and transaction id. The generator knows each row's TRUE fraud
probability and draws the label from it, so scoring rows by that probability gives
the best AUPRC any model can reach: the yardstick a trained model is compared with.

How a row comes about:
- Users have habits: a typical amount, the hours they usually shop at, a few usual
  merchants, a small personal offset in the V features. Busier users make more
  transactions. An ordinary transaction is at one of the user's usual merchants,
  now and then at another one.
- A small share of ordinary rows follow one of four patterns the V features show
  (`_apply_v_patterns`), complete or with only their first sign: a low V14 with an
  amount far above the user's habit, a high V4 with a low V12, a low V10 in the
  small hours, a high V11 with a tiny amount.
- Fraud also comes in episodes that only the user's history shows (`_episodes`),
  every transaction at a merchant new to the user, seconds to minutes apart: card
  testing, a burst of tiny amounts within a few minutes; account takeover, a few
  amounts many times the user's habit, mostly at hours the user is quiet; velocity
  attack, a dozen or more ordinary-looking amounts within the hour.

The truth (`_fraud_probability`) never asks which pattern or episode made a row. It
is a function of the row's own values and of what the same user's EARLIER rows show
(`_history`: how many there were in the last ten minutes and the last hour, the
user's habitual amount and hour as running means over them, whether the merchant was
among them), never of later rows. So a model whose behavioural features measure the
same things can come close to it, and one given the 30 columns alone cannot. Fraud is
likely only where a pattern's signs come together (a tiny amount at a new merchant
after two or more transactions in ten minutes; four times the habit or more at a new
merchant, at an hour the user is seldom active; a new merchant after twelve or more
transactions in the hour; each V pattern's two signs), whichever way a row came by
them, and never more than CEILING: some of the most fraud-like rows are genuine. So
the classes overlap and the best achievable AUPRC is well below 1.

Each sign begins where ordinary rows thin out, not deep in their tail (a V feature's
at SIGN_SPREADS of its spreads), so that a model which bins its features in quantiles
can find the same edges the truth has.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

import numpy as np

from sentinel.core.transaction import FEATURE_NAMES, Transaction
from training.dataset import Dataset

SECONDS_PER_DAY = 86_400
# Event time of the row whose Time is 0 (the dataset's clock starts at its first row).
EPOCH = datetime(2025, 1, 6, tzinfo=UTC)
DEFAULT_DAYS = 2
TRANSACTIONS_PER_USER = 15
MIN_USERS = 20
# Merchant ids are "m" and six digits, drawn from a pool of this many.
MERCHANTS = 50_000
USUAL_MERCHANTS = (2, 6)  # how many merchants a user usually shops at: at least, at most
NEW_MERCHANT_SHARE = 0.08  # of ordinary transactions, at a merchant drawn from the whole pool
# Tuned, with EPISODES_PER_ROW, so that about 0.17% of rows are fraud, as in the public dataset.
ANOMALY_SHARE = 0.0017
COMPLETE_PATTERN_SHARE = 0.65
# How often each V pattern is drawn: V14 takeover, skimmed card, night raid, V11 card test. Night
# raids are the rarest: Time shows the hour of day only through one window per day, which takes
# a model many examples to find.
V_PATTERN_SHARES = (0.3, 0.3, 0.1, 0.3)
BASE_LOGIT = -9.0
# No row is fraud with a higher probability than this: label noise even where fraud is clearest.
CEILING = 0.95

# Spread of V1..V28 in ordinary rows, falling with the component's rank as PCA components do.
_V_SCALE = np.linspace(1.9, 0.35, 28)
_FEATURE = {name: index for index, name in enumerate(FEATURE_NAMES)}
_TIME, _AMOUNT = _FEATURE["Time"], _FEATURE["Amount"]
_V4, _V10, _V11, _V12, _V14 = (_FEATURE[name] for name in ("V4", "V10", "V11", "V12", "V14"))
_MAX_AMOUNT = 25_000.0
# A V feature shows a pattern's sign beyond this many of its spreads in ordinary rows (users' offsets
# included), where ordinary rows thin out; _SIGN holds that threshold for each column of FEATURE_NAMES.
SIGN_SPREADS = 2.6
_SIGN = np.r_[np.nan, SIGN_SPREADS * _V_SCALE * np.hypot(1.0, 0.25), np.nan]

# What made a row; kept for inspection only: the truth never reads it.
ORDINARY = 0
V14_TAKEOVER, SKIMMED_CARD, NIGHT_RAID, V11_CARD_TEST = 1, 2, 3, 4
CARD_TESTING, ACCOUNT_TAKEOVER, VELOCITY_ATTACK = 5, 6, 7
# Behavioural episodes begun per generated row, by kind.
EPISODES_PER_ROW = {CARD_TESTING: 0.00003, ACCOUNT_TAKEOVER: 0.00006, VELOCITY_ATTACK: 0.000025}
# At most this share of a generated set's rows belongs to episodes (it matters in small sets only).
_MAX_EPISODE_SHARE = 0.25
_WINDOWS_S = (600, 3_600)  # the truth looks back ten minutes and one hour
# A user's habits (amount, hour) are running means over their earlier transactions, in which
# the last this many count most, so habits that change are followed.
HABIT_MEMORY = 20


@dataclass(frozen=True)
class _Users:
    ids: np.ndarray  # str
    activity: np.ndarray  # share of all transactions, sums to 1
    typical_amount: np.ndarray
    active_hour: np.ndarray
    hour_spread: np.ndarray
    v_offset: np.ndarray  # (users, 28)
    merchants: np.ndarray  # (users, USUAL_MERCHANTS[1]): the usual merchants, the first merchant_count of each row
    merchant_count: np.ndarray

    @classmethod
    def draw(cls, rng: np.random.Generator, count: int) -> _Users:
        activity = np.minimum(rng.gamma(shape=2.0, size=count), 5.0)  # none busier than 2.5 times the mean
        night_owl = rng.random(count) < 0.1
        return cls(
            ids=np.array([f"u{index:05d}" for index in range(count)]),
            activity=activity / activity.sum(),
            typical_amount=np.exp(rng.normal(3.4, 0.75, count)),
            active_hour=np.where(night_owl, rng.normal(20.5, 1.0, count), rng.normal(14.0, 2.5, count)) % 24,
            hour_spread=rng.uniform(1.0, 3.0, count),
            v_offset=rng.normal(0.0, 0.25, (count, 28)) * _V_SCALE,
            merchants=rng.integers(0, MERCHANTS, (count, USUAL_MERCHANTS[1])),
            merchant_count=rng.integers(USUAL_MERCHANTS[0], USUAL_MERCHANTS[1] + 1, count),
        )


@dataclass(frozen=True)
class _Rows:
    """Generated rows in time order."""

    features: np.ndarray  # float64, rounded as stored; Time in whole seconds
    user: np.ndarray  # index into _Users
    merchant: np.ndarray  # index into the merchant pool
    pattern: np.ndarray  # what made each row: ORDINARY, a V pattern or an episode's kind
    episode: np.ndarray  # which behavioural episode a row belongs to; -1 for none
    probability: np.ndarray  # the true fraud probability


def generate(rows: int, *, seed: int = 7, days: int = DEFAULT_DAYS) -> Dataset:
    """`rows` transactions in time order over `days` days, about 0.17% of them fraud; same seed, same rows."""
    if rows < 1:
        raise ValueError("rows must be at least 1")
    rng = np.random.default_rng(seed)
    users = _Users.draw(rng, _user_count(rows))
    drawn = _draw_rows(rng, users, rows, days=days, anomaly_share=ANOMALY_SHARE, episodes=True)
    return Dataset(
        features=drawn.features.astype(np.float32),
        labels=(rng.random(rows) < drawn.probability).astype(np.int8),
        true_probability=drawn.probability,
        user_ids=users.ids[drawn.user],
        event_times=_event_times(drawn.features[:, _TIME]),
        amounts=drawn.features[:, _AMOUNT].copy(),
        merchant_ids=_merchant_ids(drawn.merchant),
        transaction_ids=np.array([f"syn-{seed}-{row}" for row in range(rows)]),
    )


def demo_transactions(count: int, *, seed: int, fraud_share: float) -> list[Transaction]:
    """`count` transactions in the Transaction schema, in time order, `fraud_share` of them fraud.

    Fraud rows are drawn from the V-feature patterns and kept only when their label
    came out as fraud, so they are what the model was trained to catch, not
    caricatures; each shows its fraud on its own, as a demo transaction sent without
    its user's history must. Transaction ids are unique for a seed.
    """
    if count < 0 or not 0.0 <= fraud_share <= 1.0:
        raise ValueError("count must be >= 0 and fraud_share between 0 and 1")
    rng = np.random.default_rng(seed)
    users = _Users.draw(rng, _user_count(count))
    fraud_count = round(count * fraud_share)
    fraud = _draw_labelled(rng, users, fraud_count, label=1, anomaly_share=1.0, episodes=False)
    legit = _draw_labelled(rng, users, count - fraud_count, label=0, anomaly_share=ANOMALY_SHARE, episodes=True)
    features = np.concatenate([fraud[0], legit[0]])
    user_ids = users.ids[np.concatenate([fraud[1], legit[1]])]
    merchant_ids = _merchant_ids(np.concatenate([fraud[2], legit[2]]))
    order = np.argsort(features[:, _TIME], kind="stable")
    times = _event_times(features[order, _TIME])
    return [
        {
            "transaction_id": f"demo-{seed}-{position:06d}",
            "user_id": str(user_ids[row]),
            "merchant_id": str(merchant_ids[row]),
            **{name: float(features[row, column]) for column, name in enumerate(FEATURE_NAMES)},
            "event_time": _rfc3339(times[position]),
        }
        for position, row in enumerate(order)
    ]


def _user_count(rows: int) -> int:
    return max(MIN_USERS, rows // TRANSACTIONS_PER_USER)


def _merchant_ids(merchant: np.ndarray) -> np.ndarray:
    return _merchant_pool()[merchant]


@cache
def _merchant_pool() -> np.ndarray:
    return np.array([f"m{index:06d}" for index in range(MERCHANTS)])


def _draw_rows(
    rng: np.random.Generator, users: _Users, rows: int, *, days: int, anomaly_share: float, episodes: bool
) -> _Rows:
    """`rows` rows in time order: ordinary ones, some with a V pattern, and (if `episodes`) behavioural episodes."""
    parts = _episodes(rng, users, rows, days=days) if episodes else []
    ordinary = rows - sum(len(part[1]) for part in parts)
    user = rng.choice(len(users.ids), size=ordinary, p=users.activity)
    hour = (users.active_hour[user] + rng.normal(0.0, 1.0, ordinary) * users.hour_spread[user]) % 24
    amount = users.typical_amount[user] * np.exp(rng.normal(0.0, 0.5, ordinary))
    usual = users.merchants[user, rng.integers(0, users.merchant_count[user])]
    merchant = np.where(rng.random(ordinary) < NEW_MERCHANT_SHARE, rng.integers(0, MERCHANTS, ordinary), usual)
    v = rng.normal(0.0, 1.0, (ordinary, 28)) * _V_SCALE + users.v_offset[user]
    pattern = np.full(ordinary, ORDINARY, dtype=np.int8)
    anomalous = np.flatnonzero(rng.random(ordinary) < anomaly_share)
    _apply_v_patterns(rng, v, amount, hour, users.typical_amount[user], pattern, anomalous)
    seconds = rng.integers(0, days, ordinary) * SECONDS_PER_DAY + np.floor(hour * 3600)

    episode = np.full(ordinary, -1)
    all_users, all_seconds, all_amounts, all_merchants = [user], [seconds], [amount], [merchant]
    all_v, all_patterns, all_episodes = [v], [pattern], [episode]
    next_episode = 0
    for kind, episode_user, episode_seconds, episode_amount, episode_number in parts:
        size = len(episode_user)
        all_users.append(episode_user)
        all_seconds.append(episode_seconds)
        all_amounts.append(episode_amount)
        # Whatever merchant the fraudster uses, it is seldom one the user knows.
        all_merchants.append(rng.integers(0, MERCHANTS, size))
        all_v.append(rng.normal(0.0, 1.0, (size, 28)) * _V_SCALE + users.v_offset[episode_user])
        all_patterns.append(np.full(size, kind, dtype=np.int8))
        all_episodes.append(next_episode + episode_number)
        next_episode += int(episode_number.max()) + 1 if size else 0

    features = np.empty((rows, len(FEATURE_NAMES)))
    features[:, _TIME] = np.concatenate(all_seconds)
    features[:, 1:29] = np.round(np.concatenate(all_v), 6)
    features[:, _AMOUNT] = np.round(np.clip(np.concatenate(all_amounts), 0.0, _MAX_AMOUNT), 2)
    order = np.argsort(features[:, _TIME], kind="stable")
    features = features[order]
    user, merchant = np.concatenate(all_users)[order], np.concatenate(all_merchants)[order]
    return _Rows(
        features=features,
        user=user,
        merchant=merchant,
        pattern=np.concatenate(all_patterns)[order],
        episode=np.concatenate(all_episodes)[order],
        probability=_fraud_probability(features, user, merchant),
    )


def _apply_v_patterns(
    rng: np.random.Generator,
    v: np.ndarray,
    amount: np.ndarray,
    hour: np.ndarray,
    typical_amount: np.ndarray,
    pattern: np.ndarray,
    rows: np.ndarray,
) -> None:
    """Give each of `rows` one of four patterns the V features show, complete or with only its first sign.

    The patterns: V14 takeover (low V14, then an amount far above the user's habit),
    skimmed card (high V4, then low V12), night raid (low V10, then the small hours),
    V11 card test (high V11, then a tiny amount).
    """
    which = rng.choice(4, size=len(rows), p=V_PATTERN_SHARES)
    complete = rng.random(len(rows)) < COMPLETE_PATTERN_SHARE
    pattern[rows] = (V14_TAKEOVER, SKIMMED_CARD, NIGHT_RAID, V11_CARD_TEST)[0] + which

    def first_sign(kind: int, column: int, direction: int) -> np.ndarray:
        """Push V`column` far out in the rows of pattern `kind`; return those whose pattern is complete."""
        chosen = rows[which == kind]
        v[chosen, column - 1] += direction * _far_push(rng, len(chosen))
        return chosen[complete[which == kind]]

    takeover = first_sign(0, _V14, -1)
    amount[takeover] = typical_amount[takeover] * np.exp(rng.normal(2.5, 0.5, len(takeover)))
    skimmed = first_sign(1, _V4, +1)
    v[skimmed, _V12 - 1] -= _far_push(rng, len(skimmed))
    night_raid = first_sign(2, _V10, -1)
    hour[night_raid] = rng.normal(3.5, 0.6, len(night_raid)) % 24
    card_test = first_sign(3, _V11, +1)
    amount[card_test] = rng.uniform(0.5, 2.0, len(card_test))


def _far_push(rng: np.random.Generator, count: int) -> np.ndarray:
    return 6.5 + rng.exponential(1.5, count)


_Episodes = tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # kind, user, seconds, amount, episode number
# How many transactions an episode has (at least, at most), and how far apart they are (seconds, least and most).
_EPISODE_SIZES = {CARD_TESTING: (4, 10), ACCOUNT_TAKEOVER: (2, 5), VELOCITY_ATTACK: (12, 22)}
_EPISODE_GAPS_S = {CARD_TESTING: (15, 150), ACCOUNT_TAKEOVER: (120, 1_200), VELOCITY_ATTACK: (15, 170)}


def _episodes(rng: np.random.Generator, users: _Users, rows: int, *, days: int) -> list[_Episodes]:
    """The rows of the behavioural fraud episodes in a set of `rows` rows, by kind.

    Card testing: 4-10 amounts of 0.50-3.00, 15 s to 2.5 min apart. Account takeover:
    2-5 amounts of about 13 times the user's typical one (mostly 4 to 40 times), 2-20
    min apart, mostly at an hour far from the user's usual ones. Velocity attack: 12-22
    amounts about the user's typical one, 15 s to 3 min apart, all within the hour. A
    card is compromised about as often as it is used, so busier users are likelier victims.
    """
    last_start = max(0, days * SECONDS_PER_DAY - 2 * 3_600)
    budget = int(rows * _MAX_EPISODE_SHARE)
    episodes: list[_Episodes] = []
    for kind, rate in EPISODES_PER_ROW.items():
        low, high = _EPISODE_SIZES[kind]
        sizes = rng.integers(low, high + 1, rng.binomial(rows, rate))
        sizes = sizes[: np.searchsorted(np.cumsum(sizes), budget, side="right")]
        budget -= int(sizes.sum())
        number = np.repeat(np.arange(len(sizes)), sizes)  # each row's episode
        first = np.cumsum(sizes) - sizes  # each episode's first row
        victim = rng.choice(len(users.ids), size=len(sizes), p=users.activity)
        start = _episode_starts(rng, kind, users, victim, days=days, last_start=last_start)
        gaps = rng.uniform(*_EPISODE_GAPS_S[kind], len(number))
        gaps[first] = 0.0
        elapsed = np.cumsum(gaps)
        elapsed -= np.repeat(elapsed[first], sizes)
        amount = _episode_amounts(rng, kind, users.typical_amount[victim][number])
        episodes.append((kind, victim[number], start[number] + np.floor(elapsed), amount, number))
    return episodes


def _episode_starts(
    rng: np.random.Generator, kind: int, users: _Users, victim: np.ndarray, *, days: int, last_start: int
) -> np.ndarray:
    """When each episode begins, in whole seconds."""
    if kind != ACCOUNT_TAKEOVER:
        return rng.integers(0, last_start + 1, len(victim)).astype(float)
    # Mostly when the user is asleep: half a day from their usual hour.
    quiet = users.active_hour[victim] + 12 + rng.normal(0.0, 1.5, len(victim))
    hour = np.where(rng.random(len(victim)) < 0.8, quiet, rng.uniform(0, 24, len(victim))) % 24
    return np.minimum(rng.integers(0, days, len(victim)) * SECONDS_PER_DAY + np.floor(hour * 3600), last_start)


def _episode_amounts(rng: np.random.Generator, kind: int, typical: np.ndarray) -> np.ndarray:
    """The amounts of an episode's rows, whose victims' typical amounts are `typical`."""
    if kind == CARD_TESTING:
        return rng.uniform(0.5, 3.0, len(typical))
    if kind == ACCOUNT_TAKEOVER:
        return typical * np.exp(rng.normal(2.6, 0.6, len(typical)))
    return typical * np.exp(rng.normal(0.2, 0.6, len(typical)))


@dataclass(frozen=True)
class _History:
    """What each row's user's earlier rows show (a row's own values are not part of it)."""

    count: np.ndarray  # earlier rows of the user
    in_window: dict[int, np.ndarray]  # earlier rows within the last `seconds` (_WINDOWS_S)
    habit: np.ndarray  # the running mean of the earlier rows' log1p(Amount); 0 without any
    hours_from_usual: np.ndarray  # 0..12, from the running circular mean of the earlier rows' hours; 0 without any
    merchant_seen: np.ndarray  # bool: an earlier row of the user was at this merchant


def _history(seconds: np.ndarray, user: np.ndarray, amount: np.ndarray, merchant: np.ndarray) -> _History:
    """Each row's `_History`, from the rows before it (in row order) of the same user."""
    n = len(user)
    by_user = np.lexsort((np.arange(n), user))  # each user's rows together, in row order
    u, t = user[by_user].astype(np.int64), seconds[by_user].astype(np.int64)
    position = np.arange(n)
    starts = np.r_[True, u[1:] != u[:-1]] if n else np.empty(0, dtype=bool)
    group_start = np.maximum.accumulate(np.where(starts, position, 0))
    count = position - group_start
    # Keys that sort by user, then time; users are further apart than any window.
    key = u * (1 << 40) + t
    window_start = {window: np.searchsorted(key, key - window, side="right") for window in _WINDOWS_S}

    # Each row's position among its user's rows, for the running means below: rows at position k
    # follow, in by-user order, the row at k - 1 of the same user.
    by_count = np.argsort(count, kind="stable")
    at_count = np.split(by_count, np.cumsum(np.bincount(count))[:-1]) if n else []

    def habit_of(values: np.ndarray) -> np.ndarray:
        """The running mean of the user's earlier `values`, the most recent HABIT_MEMORY of them counting most."""
        mean = np.zeros(n)
        for k, rows in enumerate(at_count[1:], start=1):
            weight = max(1.0 / k, 1.0 / HABIT_MEMORY)
            mean[rows] = mean[rows - 1] + weight * (values[rows - 1] - mean[rows - 1])
        return mean

    habit = habit_of(np.log1p(amount[by_user]))
    angle = 2 * np.pi * (t % SECONDS_PER_DAY) / SECONDS_PER_DAY
    x, y = habit_of(np.cos(angle)), habit_of(np.sin(angle))
    difference = np.abs(angle - np.arctan2(y, x)) % (2 * np.pi)
    hours = np.where((count > 0) & ((x != 0) | (y != 0)), np.minimum(difference, 2 * np.pi - difference), 0.0)
    _, first, inverse = np.unique(u * MERCHANTS + merchant[by_user], return_index=True, return_inverse=True)
    merchant_seen = first[inverse] != position

    def in_row_order(values: np.ndarray) -> np.ndarray:
        out = np.empty_like(values)
        out[by_user] = values
        return out

    return _History(
        count=in_row_order(count),
        in_window={window: in_row_order(position - start) for window, start in window_start.items()},
        habit=in_row_order(habit),
        hours_from_usual=in_row_order(hours * 24 / (2 * np.pi)),
        merchant_seen=in_row_order(merchant_seen),
    )


def _fraud_probability(features: np.ndarray, user: np.ndarray, merchant: np.ndarray) -> np.ndarray:
    """The true P(fraud | row, the user's earlier rows): the generator's ground truth.

    `features` are in time order (float64, rounded as stored); `user` and `merchant`
    say whose each row is and where it was spent. Nothing else is read.
    """
    seen = _history(features[:, _TIME], user, features[:, _AMOUNT], merchant)
    hour = (features[:, _TIME] % SECONDS_PER_DAY) / 3600
    small_hours = _step(6 * (1.75 - np.abs((hour - 3.5 + 12) % 24 - 12)))  # about 01:45 to 05:15
    amount = features[:, _AMOUNT]
    low_v14 = _step(3 * (-features[:, _V14] - _SIGN[_V14]))
    low_v12 = _step(3 * (-features[:, _V12] - _SIGN[_V12]))
    low_v10 = _step(3 * (-features[:, _V10] - _SIGN[_V10]))
    high_v4 = _step(3 * (features[:, _V4] - _SIGN[_V4]))
    high_v11 = _step(3 * (features[:, _V11] - _SIGN[_V11]))
    tiny = _step(4 * (np.log(3.5) - np.log(amount + 0.01)))
    # Signs from the user's earlier rows: none of them in a user's first row.
    known = seen.count >= 1
    above_habit = known * _step(3 * (np.log1p(amount) - seen.habit - 1.4))  # about four times the habit
    odd_hour = known * _step(2 * (seen.hours_from_usual - 5.0))
    new_merchant = (seen.count > 0) & ~seen.merchant_seen
    # Two or more transactions in the last ten minutes.
    tested_before = seen.in_window[600] >= 2
    busy_hour = seen.in_window[3_600] >= 12
    logit = (
        BASE_LOGIT
        + 1.5 * above_habit
        + low_v14 * (4.0 + 10.0 * above_habit)
        + high_v4 * (1.5 + 12.0 * low_v12)
        + low_v10 * (2.5 + 12.0 * small_hours)
        + high_v11 * (2.0 + 12.0 * tiny)
        + new_merchant * (14.0 * tiny * tested_before + above_habit * (2.0 + 12.0 * odd_hour) + 13.0 * busy_hour)
    )
    return CEILING / (1 + np.exp(-logit))


def _step(x: np.ndarray) -> np.ndarray:
    """A smooth step from 0 to 1 around x = 0."""
    return 0.5 * (1 + np.tanh(1.5 * x))  # 1 / (1 + exp(-3x)), without overflow


def _draw_labelled(
    rng: np.random.Generator, users: _Users, count: int, *, label: int, anomaly_share: float, episodes: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`count` rows whose drawn label came out as `label`: features, user index and merchant index."""
    features, user_index, merchants = [], [], []
    found = 0
    while found < count:
        batch = _draw_rows(
            rng, users, max(1024, 4 * count), days=DEFAULT_DAYS, anomaly_share=anomaly_share, episodes=episodes
        )
        kept = np.flatnonzero((rng.random(len(batch.user)) < batch.probability) == bool(label))
        # A random subset: the batch is in time order, so its first rows would all be early ones.
        chosen = np.sort(rng.permutation(kept)[: count - found])
        features.append(batch.features[chosen])
        user_index.append(batch.user[chosen])
        merchants.append(batch.merchant[chosen])
        found += len(chosen)
    if not features:
        empty = np.empty(0, dtype=np.int64)
        return np.empty((0, len(FEATURE_NAMES))), empty, empty
    return np.concatenate(features), np.concatenate(user_index), np.concatenate(merchants)


def _event_times(time: np.ndarray) -> np.ndarray:
    epoch = np.datetime64(EPOCH.replace(tzinfo=None), "s")
    return epoch + time.astype("timedelta64[s]")


def _rfc3339(moment: np.datetime64) -> str:
    return f"{np.datetime_as_string(moment, unit='s')}Z"
