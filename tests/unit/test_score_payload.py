"""The Score payload's behavioural features (sentinel.core.score): checked like every other field."""

import pytest
from support import a_score, a_transaction

from sentinel.core import behaviour, score
from sentinel.core.errors import ClientError


def with_behaviour(values):
    return {**a_score(a_transaction()), "behaviour": values}


def test_a_decision_with_its_behavioural_features_is_valid():
    values = dict.fromkeys(behaviour.FEATURES, 1.5)
    assert score.parse(with_behaviour(values))["behaviour"] == values


@pytest.mark.parametrize(
    "values",
    [{"made_up_feature": 1.0}, {"user_count_10m": "3"}, {"user_count_10m": float("inf")}, ["user_count_10m"]],
    ids=["unknown name", "text", "not finite", "not an object"],
)
def test_behavioural_features_score_does_not_compute_are_refused_naming_the_field(values):
    with pytest.raises(ClientError) as refused:
        score.parse(with_behaviour(values))
    assert [problem.field for problem in refused.value.problems] == ["behaviour"]
