"""The rules' expression language (sentinel.core.rules): what it means, and what it refuses with a 400."""

from __future__ import annotations

import pytest

from sentinel.core import behaviour, rules
from sentinel.core.errors import ClientError
from sentinel.core.transaction import FEATURE_NAMES


def facts(**values: object) -> dict[str, object]:
    """A transaction's facts: every number 0 and every text absent, but for `values`."""
    known: dict[str, object] = dict.fromkeys((*FEATURE_NAMES, *behaviour.FEATURES, rules.RISK_SCORE), 0.0)
    known.update(dict.fromkeys(rules.TEXT_VARIABLES))
    known.update(values)
    return known


def holds(expression: str, **values: object) -> bool:
    return rules.compile_expression(expression)(facts(**values))


def refusal(expression: object) -> str:
    with pytest.raises(ClientError) as refused:
        rules.compile_expression(expression)
    assert refused.value.status == 400 and refused.value.problems[0].field == "expression"
    return refused.value.problems[0].message


def test_a_comparison_of_a_field_with_a_number_holds_when_the_transaction_meets_it() -> None:
    assert holds("Amount > 5000", Amount=6000.0)
    assert not holds("Amount > 5000", Amount=5000.0)


def test_and_or_and_not_combine_conditions() -> None:
    expression = "(Amount > 5000 and not merchant_new_for_user) or risk_score >= 0.9"
    assert holds(expression, Amount=6000.0, merchant_new_for_user=0.0)
    assert not holds(expression, Amount=6000.0, merchant_new_for_user=1.0)
    assert holds(expression, risk_score=0.95)


def test_a_zero_or_one_feature_reads_as_a_condition() -> None:
    assert holds("merchant_new_for_user", merchant_new_for_user=1.0)
    assert not holds("merchant_new_for_user", merchant_new_for_user=0.0)


def test_chained_comparisons_mean_every_link_holds() -> None:
    assert holds("10 < Amount <= 50", Amount=50.0)
    assert not holds("10 < Amount <= 50", Amount=10.0)


def test_arithmetic_compares_one_feature_with_another() -> None:
    assert holds("user_amount_10m > 3 * Amount", user_amount_10m=31.0, Amount=10.0)
    assert not holds("user_amount_10m > 3 * Amount", user_amount_10m=29.0, Amount=10.0)


def test_dividing_by_zero_gives_a_value_no_comparison_holds_for() -> None:
    assert not holds("Amount / user_count_1h > 100", Amount=500.0, user_count_1h=0.0)
    assert not holds("Amount / user_count_1h <= 100", Amount=500.0, user_count_1h=0.0)


def test_a_list_of_texts_is_a_block_or_allow_list() -> None:
    assert holds('merchant_id in ["m-1", "m-2"]', merchant_id="m-2")
    assert not holds('merchant_id in ["m-1", "m-2"]', merchant_id="m-3")
    assert holds('user_id not in ["u-1"]', user_id="u-2")


def test_an_absent_optional_field_equals_nothing_and_is_in_no_list() -> None:
    assert not holds('merchant_id == "m-1"')
    assert not holds('merchant_id in ["m-1"]')
    assert holds('merchant_id != "m-1"')


@pytest.mark.parametrize(
    "expression",
    [
        '__import__("os").system("true")',
        "Amount.real > 0",
        "[1][0] > 0",
        "(lambda: 1)() > 0",
        "{1: 2} == 1",
        "Amount if Amount else 0",
        "(x := 1) > 0",
        'f"{Amount}" == "1"',
    ],
)
def test_anything_but_the_grammar_is_refused_with_what_it_used(expression: str) -> None:
    assert "which rules do not allow" in refusal(expression)


def test_an_unknown_name_is_refused_with_the_names_it_may_have_meant() -> None:
    message = refusal("amount > 5000")
    assert "'amount'" in message and "Amount" in message


def test_a_number_compared_with_text_is_refused() -> None:
    assert "compares a number with text" in refusal('Amount == "5000"')


def test_text_is_never_ordered() -> None:
    assert "orders text" in refusal('user_id < "u-5"')


def test_text_alone_is_not_a_condition() -> None:
    assert "not a condition" in refusal("user_id")


def test_a_list_mixing_numbers_and_text_is_refused() -> None:
    assert "mixes numbers and text" in refusal('user_id in ["u-1", 2]')


def test_a_syntax_error_is_refused_with_its_column() -> None:
    assert "is not a valid condition" in refusal("Amount >")


@pytest.mark.parametrize("expression", ["", "   ", None, 42])
def test_an_empty_or_non_text_expression_is_refused(expression: object) -> None:
    assert "non-empty condition" in refusal(expression)


def test_an_expression_too_long_or_too_deep_is_refused_without_recursing() -> None:
    assert "at most" in refusal("Amount > 1 and " * 1000 + "Amount > 1")
    assert "parts" in refusal(" or ".join(["Amount > 1"] * 650))
    assert refusal("(" * 400 + "1" + ")" * 400)
    assert "nested more than" in refusal("not " * 60 + "true")


def test_a_block_list_of_hundreds_of_ids_is_a_rule() -> None:
    listed = ", ".join(f'"u-{n}"' for n in range(500))
    assert holds(f"user_id in [{listed}]", user_id="u-499")


def test_a_rule_with_several_wrong_fields_names_each_of_them() -> None:
    with pytest.raises(ClientError) as refused:
        rules.checked(name="Big Spender", expression="Amount >", action="deny", priority=-1)
    assert {problem.field for problem in refused.value.problems} == {"name", "expression", "action", "priority"}


def test_the_enabled_rules_are_tried_by_priority_and_the_first_match_decides() -> None:
    ruleset = rules.Ruleset.of(
        [
            rules.Rule("block-big", "Amount > 1000", "block", priority=20),
            rules.Rule("allow-vip", 'user_id == "vip"', "allow", priority=10),
            rules.Rule("review-all", "Amount > 0", "review", priority=30, enabled=False),
        ]
    )
    assert ruleset.first_match(facts(Amount=5000.0, user_id="vip")).name == "allow-vip"
    assert ruleset.first_match(facts(Amount=5000.0, user_id="other")).name == "block-big"
    assert ruleset.first_match(facts(Amount=5.0, user_id="other")) is None


def test_rules_of_equal_priority_are_tried_by_name() -> None:
    ruleset = rules.Ruleset.of(
        [rules.Rule("b-rule", "Amount > 0", "block", priority=5), rules.Rule("a-rule", "Amount > 0", "review", 5)]
    )
    assert ruleset.first_match(facts(Amount=1.0)).name == "a-rule"


def test_a_rule_action_maps_to_the_decision_it_makes() -> None:
    assert [rules.Rule("r", "true", action, 0).decision for action in rules.ACTIONS] == ["approve", "review", "block"]


def test_the_facts_of_a_transaction_hold_its_fields_features_and_risk() -> None:
    item = {name: 1.5 for name in FEATURE_NAMES} | {"transaction_id": "t-1", "user_id": "u-1", "client_id": "c"}
    seen = rules.facts_of(item, dict.fromkeys(behaviour.FEATURES, 2.0), 0.25)
    assert seen["Amount"] == 1.5 and seen["user_count_1h"] == 2.0 and seen["risk_score"] == 0.25
    assert seen["user_id"] == "u-1" and seen["merchant_id"] is None
    assert set(seen) == {*rules.VARIABLES, *rules.TEXT_VARIABLES}
