"""score, in memory: rules decide before the model's thresholds, and a challenger in shadow never decides."""

import pytest
from fakes import (
    CLIENT,
    NOW,
    RECEIVED_KEYS,
    SCORED_KEYS,
    AmountModel,
    MemoryHistories,
    MemoryStream,
    MemoryWebhook,
    created,
    scored_events,
)
from support import a_score, a_transaction, signed_scored

from functions.alert.main import Alert
from functions.persist.main import Persist
from functions.score.main import Score
from sentinel.core import score
from sentinel.core.errors import ClientError
from sentinel.core.rules import Rule


@pytest.fixture
def scorer(models, sink):
    return Score(
        models, sink, MemoryHistories(), received_keys=RECEIVED_KEYS, scored_keys=SCORED_KEYS, clock=lambda: NOW
    )


@pytest.fixture
def persist(decisions):
    return Persist(decisions, scored_events())


@pytest.fixture
def alert(alerts):
    return Alert(alerts, MemoryStream(), scored_events())


def decided(scorer, **fields):
    [event] = scorer.handle([created(a_transaction(**fields))], CLIENT).events
    return score.parse(event.json())


def test_without_rules_the_decision_names_no_rule(scorer):
    assert decided(scorer, Amount=950.0)["rule"] is None


def test_a_matching_block_rule_blocks_what_the_model_approves(scorer, models):
    models.rules = [Rule("block-merchant", 'merchant_id in ["m-bad"]', "block", priority=1)]
    decision = decided(scorer, Amount=10.0, merchant_id="m-bad")
    assert decision["decision"] == "block" and decision["risk_score"] == pytest.approx(0.01)
    assert decision["rule"] == {"name": "block-merchant", "version": 1, "action": "block"}


def test_an_allow_rule_approves_what_the_model_would_block(scorer, models):
    models.rules = [Rule("allow-vip", 'user_id == "u-vip"', "allow", priority=1)]
    decision = decided(scorer, Amount=990.0, user_id="u-vip")
    assert (decision["decision"], decision["rule"]["name"], decision["reasons"]) == ("approve", "allow-vip", [])


def test_a_review_rule_brings_reasons_from_the_model_as_any_review_does(scorer, models):
    models.rules = [Rule("review-new-merchant", "Amount > 50 and merchant_new_for_user", "review", priority=1)]
    decision = decided(scorer, Amount=60.0, merchant_id="m-new")
    assert decision["decision"] == "review" and decision["reasons"] == ["amount 60"]


def test_a_rule_sees_the_models_risk_score(scorer, models):
    models.rules = [Rule("block-risky-big", "risk_score > 0.5 and Amount > 600", "block", priority=1)]
    assert decided(scorer, Amount=700.0)["decision"] == "block"
    assert decided(scorer, Amount=550.0)["decision"] == "review"


def test_a_rule_that_does_not_match_leaves_the_model_to_decide(scorer, models):
    models.rules = [Rule("block-big", "Amount > 5000", "block", priority=1)]
    decision = decided(scorer, Amount=600.0)
    assert (decision["decision"], decision["rule"]) == ("review", None)


def test_a_rule_change_applies_from_the_next_request(scorer, models):
    assert decided(scorer, Amount=10.0)["decision"] == "approve"
    models.rules = [Rule("block-all", "Amount > 0", "block", priority=1)]
    assert decided(scorer, Amount=10.0)["decision"] == "block"


def test_without_a_challenger_the_decision_records_no_shadow(scorer):
    assert decided(scorer, Amount=10.0)["shadow"] is None


def test_a_challenger_in_shadow_is_recorded_and_never_changes_the_decision(scorer, models):
    models.challenger = AmountModel(version="v0009", thresholds={"review": 0.005, "block": 0.008})
    decision = decided(scorer, Amount=10.0)
    assert decision["decision"] == "approve" and decision["model_version"] == "v0007"
    assert decision["shadow"] == {"model_version": "v0009", "risk_score": pytest.approx(0.01), "decision": "block"}


def test_the_challenger_is_judged_with_the_same_rules(scorer, models):
    models.rules = [Rule("allow-vip", 'user_id == "u-vip"', "allow", priority=1)]
    models.challenger = AmountModel(version="v0009", thresholds={"review": 0.005, "block": 0.008})
    assert decided(scorer, Amount=10.0, user_id="u-vip")["shadow"]["decision"] == "approve"


def test_a_batch_runs_each_model_once(scorer, models, sink):
    models.challenger = AmountModel(version="v0009")
    scorer.handle([created(a_transaction(), event_id=f"e-{n}") for n in range(3)], CLIENT)
    assert models.model.calls == [3] and models.challenger.calls == [3]


def test_a_decision_a_rule_made_is_accepted_by_persist_and_alert(scorer, models, persist, alert, decisions, alerts):
    models.rules = [Rule("block-merchant", 'merchant_id == "m-bad"', "block", priority=1)]
    transaction = a_transaction(Amount=10.0, merchant_id="m-bad")
    [event] = scorer.handle([created(transaction)], CLIENT).events
    persist.handle([event])
    alert.handle([event])
    assert decisions.rows[transaction["transaction_id"]]["rule"]["name"] == "block-merchant"
    assert alerts.rows[transaction["transaction_id"]]["rule"]["name"] == "block-merchant"


def test_an_alert_a_rule_raised_names_the_rule_in_the_stream_and_the_webhook(scorer, models, alerts):
    models.rules = [Rule("review-merchant", 'merchant_id == "m-odd"', "review", priority=1)]
    stream, webhook = MemoryStream(), MemoryWebhook()
    [event] = scorer.handle([created(a_transaction(Amount=10.0, merchant_id="m-odd"))], CLIENT).events
    Alert(alerts, stream, scored_events(), webhook).handle([event])
    fired = {"name": "review-merchant", "version": 1, "action": "review"}
    assert [entry["rule"] for entry in stream.entries] == [posted["rule"] for posted in webhook.posted] == [fired]


def test_a_signed_decision_that_does_not_follow_from_its_rules_action_is_400(persist):
    rule = {"name": "allow-vip", "version": 1, "action": "allow"}
    decision = {**a_score(a_transaction(), "block", model_version="v0003"), "rule": rule}
    with pytest.raises(ClientError) as refused:
        persist.handle([signed_scored(decision, SCORED_KEYS.current)])
    assert refused.value.status == 400 and [problem.field for problem in refused.value.problems] == ["decision"]
