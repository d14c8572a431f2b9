"""What each function counts beyond its requests: score's decisions, risks, rules, reasons and challenger;
de-duplication hits in ingest, persist and alert; ingest's refusals while it sheds load."""

import pytest
from fakes import (
    CLIENT,
    NOW,
    RECEIVED_KEYS,
    SCORED_KEYS,
    AmountModel,
    MemoryBacklog,
    MemoryHistories,
    MemoryStream,
    created,
    scored,
    scored_events,
)
from prometheus_client import REGISTRY
from support import a_transaction

from functions.alert.main import Alert
from functions.ingest.admission import Admission
from functions.ingest.main import Ingest
from functions.persist.main import Persist
from functions.score.main import Score
from functions.score.setup import Setup, _changed_parts
from sentinel.core.errors import Unavailable
from sentinel.core.rules import Rule, Ruleset
from sentinel.serving import metrics


def value(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def scorer(models, sink):
    return Score(
        models, sink, MemoryHistories(), received_keys=RECEIVED_KEYS, scored_keys=SCORED_KEYS, clock=lambda: NOW
    )


def test_each_decision_is_counted_by_outcome_and_model_version(scorer):
    before = {
        d: value("sentinel_score_decisions_total", decision=d, model_version="v0007") for d in ("approve", "block")
    }
    scorer.handle([created(a_transaction(Amount=10.0), "e-1"), created(a_transaction(Amount=950.0), "e-2")], CLIENT)
    scorer.handle([created(a_transaction(Amount=20.0))], CLIENT)
    assert value("sentinel_score_decisions_total", decision="approve", model_version="v0007") == before["approve"] + 2
    assert value("sentinel_score_decisions_total", decision="block", model_version="v0007") == before["block"] + 1


def test_each_risk_score_falls_in_its_bucket(scorer):
    low = value("sentinel_score_risk_score_bucket", model_version="v0007", le="0.05")
    high = value("sentinel_score_risk_score_bucket", model_version="v0007", le="1.0")
    scorer.handle([created(a_transaction(Amount=10.0), "e-1"), created(a_transaction(Amount=600.0), "e-2")], CLIENT)
    assert value("sentinel_score_risk_score_bucket", model_version="v0007", le="0.05") == low + 1  # risk 0.01
    assert value("sentinel_score_risk_score_bucket", model_version="v0007", le="1.0") == high + 2


def test_a_rule_that_decides_is_counted_by_its_name_and_action(scorer, models):
    models.rules = [Rule("block-merchant", 'merchant_id in ["m-bad"]', "block", priority=1)]
    before = value("sentinel_score_rules_fired_total", rule="block-merchant", action="block")
    scorer.handle([created(a_transaction(Amount=10.0, merchant_id="m-bad"))], CLIENT)
    scorer.handle([created(a_transaction(Amount=10.0, merchant_id="m-good"))], CLIENT)
    assert value("sentinel_score_rules_fired_total", rule="block-merchant", action="block") == before + 1


def test_reasons_given_are_counted_by_decision(scorer):
    before = value("sentinel_score_reasons_total", decision="review")
    scorer.handle([created(a_transaction(Amount=600.0))], CLIENT)
    assert value("sentinel_score_reasons_total", decision="review") == before + 1


def test_a_challengers_evaluations_are_counted_by_agreement(scorer, models):
    models.challenger = AmountModel(version="v0009", thresholds={"review": 0.005, "block": 0.008})
    labels = {"model_version": "v0009"}
    before = {a: value("sentinel_score_shadow_evaluations_total", agreement=a, **labels) for a in ("agree", "disagree")}
    scorer.handle([created(a_transaction(Amount=10.0), "e-1"), created(a_transaction(Amount=950.0), "e-2")], CLIENT)
    assert value("sentinel_score_shadow_evaluations_total", agreement="disagree", **labels) == before["disagree"] + 1
    assert value("sentinel_score_shadow_evaluations_total", agreement="agree", **labels) == before["agree"] + 1


def test_a_resubmitted_transaction_is_a_duplicate_hit_in_ingest(claims, sink):
    ingest = Ingest(claims, sink, keys=RECEIVED_KEYS, clock=lambda: NOW)
    transaction = a_transaction()
    before = value("sentinel_function_duplicates_total", function="ingest")
    ingest.handle([created(transaction)], CLIENT)
    ingest.handle([created(transaction)], CLIENT)
    assert value("sentinel_function_duplicates_total", function="ingest") == before + 1


def test_a_redelivered_decision_is_a_duplicate_hit_in_persist_and_alert(decisions, alerts):
    persist, alert = Persist(decisions, scored_events()), Alert(alerts, MemoryStream(), scored_events())
    event = scored(a_transaction(), decision="block")
    before = {name: value("sentinel_function_duplicates_total", function=name) for name in ("persist", "alert")}
    for _ in range(2):
        persist.handle([event])
        alert.handle([event])
    assert value("sentinel_function_duplicates_total", function="persist") == before["persist"] + 1
    assert value("sentinel_function_duplicates_total", function="alert") == before["alert"] + 1


def test_each_refusal_while_ingest_sheds_load_is_counted_by_reason():
    backlog = MemoryBacklog()
    admission = Admission(backlog, limit=1)
    admission.admitted(["t-1"], 0.0)
    before = value("sentinel_ingest_refusals_total", reason="behind")
    with pytest.raises(Unavailable):
        admission.check()
    assert value("sentinel_ingest_refusals_total", reason="behind") == before + 1
    backlog.down = True
    admission.refresh()
    before = value("sentinel_ingest_refusals_total", reason="backlog_unreadable")
    with pytest.raises(Unavailable):
        admission.check()
    assert value("sentinel_ingest_refusals_total", reason="backlog_unreadable") == before + 1


def test_a_reload_counts_what_it_replaced_and_the_first_load_everything_it_set():
    champion, newer, challenger = AmountModel("v0007"), AmountModel("v0008"), AmountModel("v0009")
    first = Setup(champion, Ruleset.of([Rule("r", "Amount > 1", "review", priority=1)]))
    assert _changed_parts(None, first) == ["champion", "rules"]
    assert _changed_parts(first, Setup(newer, first.rules)) == ["champion"]
    assert _changed_parts(first, Setup(champion, first.rules, challenger)) == ["challenger"]


def test_the_models_in_use_are_one_gauge_each_by_role():
    metrics.models_in_use({"champion": None, "challenger": None}, {"champion": "v-a", "challenger": None})
    metrics.models_in_use({"champion": "v-a", "challenger": None}, {"champion": "v-b", "challenger": "v-a"})
    assert value("sentinel_score_model", model_version="v-a", role="champion") == 0
    assert value("sentinel_score_model", model_version="v-b", role="champion") == 1
    assert value("sentinel_score_model", model_version="v-a", role="challenger") == 1
