"""Behavioural features: how a transaction compares with its user's own history.

One definition, two executors. A user's `History` is what is known about them after
the transactions seen so far; `features_of(history, transaction)` are the values the
model sees for the next transaction, computed from strictly earlier ones only; and
`record` adds the transaction to the history. Score keeps every user's history in
Redis and runs these per event (sentinel.stores.behaviour); training runs the same
functions over a labelled history in time order (training/behaviour.py). Neither
executor computes a feature itself, so the two agree by construction, and a parity
test holds them to it.

A history is a plain dict of JSON values, so it is stored as it is. It is bounded:
the last 24 hours of transactions (at most MAX_RECENT of them), a running typical
amount and hour, and the last MAX_MERCHANTS merchants.

Adding a feature: give it a name in FEATURES and a line in `features_of`, keep what
it needs in the history (`record`), and raise VERSION. A model records the version
its features were computed with, and score refuses a model of another version: the
same name under another definition would score wrongly in silence.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple

VERSION = 1
WINDOWS_S = {"10m": 600, "1h": 3_600, "24h": 86_400}
MAX_RECENT = 256  # transactions kept for the windows: the counts saturate there
MAX_MERCHANTS = 64
# The typical amount and hour are running means over the first 1/SMOOTHING
# transactions, then exponentially weighted, so they follow a user whose habits change.
SMOOTHING = 0.05
NO_PREVIOUS = -1.0  # seconds since the previous transaction, for a user's first

FEATURES: tuple[str, ...] = (
    *(f"user_{measure}_{window}" for window in WINDOWS_S for measure in ("count", "amount")),
    "amount_vs_user_usual",  # (Amount + 1) / (typical amount + 1); 1 without history
    "seconds_since_user_previous",  # NO_PREVIOUS for a user's first transaction
    "merchant_new_for_user",  # 1 for a merchant_id not among the user's last MAX_MERCHANTS, else 0
    "hours_from_user_usual",  # 0..12: how far the hour of day is from the user's usual hours
    "user_previous_count",  # transactions seen before this one
)

History = dict[str, Any]
Features = list[float]


def new_history() -> History:
    return {
        "version": VERSION,
        "count": 0,
        "recent": [],  # [seconds, amount, transaction id], oldest first
        "mean_log_amount": 0.0,
        "hour_x": 0.0,
        "hour_y": 0.0,
        "last_seen_s": None,
        "merchants": [],  # most recent last
        "last_id": None,
        "last_features": None,
    }


def history_from(stored: History | None) -> History:
    """A stored history to go on from; a new one for a user never seen, or one kept by other definitions."""
    return stored if stored is not None and stored.get("version") == VERSION else new_history()


class Observation(NamedTuple):
    """What the features look at in a transaction."""

    transaction_id: str
    seconds: float  # when it happened, since the Unix epoch
    amount: float
    merchant_id: str | None


def observation_of(transaction: Mapping[str, Any], *, received_at: str) -> Observation:
    """A validated transaction's observation; it happened at its event_time, else when it was received."""
    moment = transaction.get("event_time") or received_at
    return Observation(
        transaction["transaction_id"],
        datetime.fromisoformat(moment).timestamp(),
        float(transaction["Amount"]),
        transaction.get("merchant_id"),
    )


def features_of(history: History, seen: Observation) -> Features:
    """The behavioural features of a transaction (in FEATURES order), from the transactions before it."""
    if seen.transaction_id == history["last_id"]:
        return list(history["last_features"])  # a redelivery: the values it had the first time
    now, amount = seen.seconds, seen.amount
    values: Features = []
    for window_s in WINDOWS_S.values():
        inside = [spent for seen, spent, _ in history["recent"] if now - window_s < seen <= now]
        values += [float(len(inside)), math.fsum(inside)]
    seen_before = history["count"] > 0
    values.append(math.exp(math.log1p(amount) - history["mean_log_amount"]) if seen_before else 1.0)
    last = history["last_seen_s"]
    values.append(max(0.0, now - last) if last is not None else NO_PREVIOUS)
    merchant = seen.merchant_id
    values.append(1.0 if merchant is not None and merchant not in history["merchants"] else 0.0)
    values.append(_hours_from_usual(history, now) if seen_before else 0.0)
    values.append(float(history["count"]))
    return values


def record(history: History, seen: Observation, features: Features) -> bool:
    """Add a transaction (whose features were `features`) to the history; False, changing
    nothing, when the history already holds it (a redelivered event never counts twice)."""
    transaction_id, now, amount, merchant = seen
    if transaction_id == history["last_id"] or any(held == transaction_id for _, _, held in history["recent"]):
        return False
    history["recent"] = [entry for entry in history["recent"] if entry[0] > now - WINDOWS_S["24h"]]
    history["recent"].append([now, amount, transaction_id])
    del history["recent"][:-MAX_RECENT]
    history["count"] += 1
    weight = max(1.0 / history["count"], SMOOTHING)
    history["mean_log_amount"] += weight * (math.log1p(amount) - history["mean_log_amount"])
    angle = _hour_angle(now)
    history["hour_x"] += weight * (math.cos(angle) - history["hour_x"])
    history["hour_y"] += weight * (math.sin(angle) - history["hour_y"])
    if history["last_seen_s"] is None or now > history["last_seen_s"]:
        history["last_seen_s"] = now
    if merchant is not None:
        merchants = [held for held in history["merchants"] if held != merchant]
        history["merchants"] = [*merchants, merchant][-MAX_MERCHANTS:]
    history["last_id"] = transaction_id
    history["last_features"] = list(features)
    return True


def observe(history: History, seen: Observation) -> Features:
    """A transaction's features, and the history updated with it: what each executor does per transaction."""
    features = features_of(history, seen)
    record(history, seen, features)
    return features


def _hour_angle(seconds: float) -> float:
    return 2 * math.pi * (seconds % 86_400) / 86_400


def _hours_from_usual(history: History, now: float) -> float:
    """Hours between now's hour of day and the user's usual one (a circular mean), 0 to 12."""
    if history["hour_x"] == 0.0 and history["hour_y"] == 0.0:
        return 0.0
    usual = math.atan2(history["hour_y"], history["hour_x"])
    difference = abs(_hour_angle(now) - usual) % (2 * math.pi)
    return min(difference, 2 * math.pi - difference) * 24 / (2 * math.pi)
