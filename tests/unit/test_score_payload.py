"""The Score payload's behavioural features, rule and shadow (sentinel.core.score): checked like every other field."""

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


def with_field(name, value):
    return {**a_score(a_transaction()), name: value}


def test_a_decision_names_the_rule_that_made_it_and_the_challengers_would_be_decision():
    rule = {"name": "block-m", "version": 2, "action": "block"}
    shadow = score.shadow_of("v0009", 0.25, "approve")
    parsed = score.parse({**with_field("rule", rule), "shadow": shadow})
    assert (parsed["rule"], parsed["shadow"]) == (
        rule,
        {"model_version": "v0009", "risk_score": 0.25, "decision": "approve"},
    )


@pytest.mark.parametrize(
    "rule",
    [
        {"name": "Block M", "version": 1, "action": "block"},
        {"name": "block-m", "version": 0, "action": "block"},
        {"name": "block-m", "version": True, "action": "block"},
        {"name": "block-m", "version": 1, "action": "deny"},
        {"name": "block-m", "version": 1},
        "block-m",
    ],
    ids=["bad name", "version 0", "boolean version", "unknown action", "no action", "not an object"],
)
def test_a_rule_that_is_not_one_is_refused_naming_the_field(rule):
    with pytest.raises(ClientError) as refused:
        score.parse(with_field("rule", rule))
    assert [problem.field for problem in refused.value.problems] == ["rule"]


@pytest.mark.parametrize(
    "shadow",
    [
        {"model_version": "v 9", "risk_score": 0.5, "decision": "block"},
        {"model_version": "v0009", "risk_score": 1.5, "decision": "block"},
        {"model_version": "v0009", "risk_score": 0.5, "decision": "maybe"},
        {"model_version": "v0009", "risk_score": 0.5},
    ],
    ids=["bad version", "risk over 1", "unknown decision", "no decision"],
)
def test_a_shadow_that_is_not_one_is_refused_naming_the_field(shadow):
    with pytest.raises(ClientError) as refused:
        score.parse(with_field("shadow", shadow))
    assert [problem.field for problem in refused.value.problems] == ["shadow"]


def test_a_decision_may_record_the_w3c_trace_it_was_made_in():
    assert score.parse(with_field("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"))["trace_id"]


@pytest.mark.parametrize(
    "trace_id",
    ["4BF92F3577B34DA6A3CE929D0E0E4736", "4bf92f3577b34da6", "0" * 32, 42, "g" * 32],
    ids=["upper case", "too short", "all zero", "a number", "not hex"],
)
def test_a_trace_id_that_is_not_a_w3c_one_is_refused_naming_the_field(trace_id):
    """W3C Trace Context §3.2.2.3: 32 lower-case hex digits, not all zero."""
    with pytest.raises(ClientError) as refused:
        score.parse(with_field("trace_id", trace_id))
    assert [problem.field for problem in refused.value.problems] == ["trace_id"]
