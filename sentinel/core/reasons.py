"""Why a transaction was held, in words: the features that pushed its score towards fraud.

An analyst reviewing a flagged transaction, or a client told why one was blocked,
needs the few facts that weighed most, said in terms of the transaction and its
user's habits, not feature names and log-odds. What weighed most is each feature's
contribution to the model's margin (sentinel.core.explain); only those pushing
towards fraud are reasons, and each becomes a sentence about the feature's value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from sentinel.core import behaviour
from sentinel.core.score import MAX_REASON_LENGTH, MAX_REASONS
from sentinel.core.transaction import PCA_FIELDS

# V1..V28 are principal components centred on 0: this far from it, one is unusual.
UNUSUAL_COMPONENT = 2.0
SECONDS_PER_DAY = 86_400
# A push under this share of the strongest one is noise beside it, and no reason a person should read.
MIN_SHARE_OF_STRONGEST = 0.1


def reasons(
    feature_names: Sequence[str], row: Sequence[float], contributions: Sequence[float], *, top: int = 3
) -> list[str]:
    """Sentences for the features pushing most towards fraud (positive contributions), largest first.

    `contributions` holds one per feature, optionally followed by the bias, as
    TreeEnsemble.contributions returns them; the bias is no reason, nor is a push under
    MIN_SHARE_OF_STRONGEST of the strongest. A fact that two features tell (a user's
    first transaction) is said once. At most `top` sentences
    (and MAX_REASONS), each at most MAX_REASON_LENGTH characters.
    """
    count = len(feature_names)
    if len(row) != count or len(contributions) not in (count, count + 1):
        raise ValueError(
            f"{count} features need a row of {count} values and {count} contributions (and maybe the bias);"
            f" got {len(row)} values and {len(contributions)} contributions"
        )
    shares = np.asarray(contributions[:count], dtype=float)
    limit = min(top, MAX_REASONS)
    floor = MIN_SHARE_OF_STRONGEST * float(shares.max(initial=0.0))
    sentences: list[str] = []
    for index in np.argsort(-shares, kind="stable").tolist():
        if len(sentences) >= limit or not shares[index] > 0 or shares[index] < floor:
            break
        sentence = describe(feature_names[index], float(row[index]))[:MAX_REASON_LENGTH]
        if sentence not in sentences:
            sentences.append(sentence)
    return sentences


def describe(name: str, value: float) -> str:
    """A feature's value as a phrase about the transaction; a feature without one is named with its value."""
    if name in _PHRASES:
        return _PHRASES[name](value)
    if name in PCA_FIELDS:
        return _component(name, value)
    return f"{name} {value:g}"


def _component(name: str, value: float) -> str:
    if value < -UNUSUAL_COMPONENT:
        return f"{name} unusually low ({value:.1f})"
    if value > UNUSUAL_COMPONENT:
        return f"{name} unusually high ({value:.1f})"
    return f"{name} within its usual range ({value:.1f})"


def _time(value: float) -> str:
    minutes = int(value % SECONDS_PER_DAY) // 60
    return f"time of day {minutes // 60:02d}:{minutes % 60:02d} (Time {value:,.0f} s)"


def _amount(value: float) -> str:
    return f"amount {value:,.2f}"


def _count_in(window: str) -> Callable[[float], str]:
    return lambda value: f"{_plural(round(value), 'transaction')} from this user in the last {window}"


def _spent_in(window: str) -> Callable[[float], str]:
    return lambda value: f"{value:,.2f} spent by this user in the last {window}"


def _against_usual(value: float) -> str:
    times = f"{value:,.0f}" if value >= 10 else f"{value:.1f}"
    return f"amount {times}× this user's usual"


def _since_previous(value: float) -> str:
    if value == behaviour.NO_PREVIOUS:
        return _FIRST_TRANSACTION
    return f"{_duration(value)} since this user's previous transaction"


def _merchant(value: float) -> str:
    return "merchant new for this user" if value >= 0.5 else "merchant this user has paid before"


def _hours_from_usual(value: float) -> str:
    return f"{value:.1f} h from this user's usual hours"


def _previous_count(value: float) -> str:
    if value == 0:
        return _FIRST_TRANSACTION
    return f"{_plural(round(value), 'earlier transaction')} seen from this user"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3_600:
        return f"{seconds / 60:.1f} min"
    if seconds < SECONDS_PER_DAY:
        return f"{seconds / 3_600:.1f} h"
    return f"{seconds / SECONDS_PER_DAY:.1f} days"


def _window(seconds: int) -> str:
    if seconds < 3_600:
        return f"{seconds // 60} minutes"
    return "hour" if seconds == 3_600 else f"{seconds // 3_600} hours"


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"


_FIRST_TRANSACTION = "first transaction seen from this user"
_PHRASES: dict[str, Callable[[float], str]] = {
    "Time": _time,
    "Amount": _amount,
    **{f"user_count_{window}": _count_in(_window(seconds)) for window, seconds in behaviour.WINDOWS_S.items()},
    **{f"user_amount_{window}": _spent_in(_window(seconds)) for window, seconds in behaviour.WINDOWS_S.items()},
    "amount_vs_user_usual": _against_usual,
    "seconds_since_user_previous": _since_previous,
    "merchant_new_for_user": _merchant,
    "hours_from_user_usual": _hours_from_usual,
    "user_previous_count": _previous_count,
}
