"""The retrain pipeline's refusals against a real PostgreSQL, and the labelled-history source.

These run the pipeline's steps directly, the way `sentinel up` does; the Prefect
flow over the same steps is tested end to end in test_hot_reload.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import psycopg
import pytest

from sentinel.stores import holdout as kept_holdout
from sentinel.stores import registry
from training import holdout, pipeline
from training.dataset import DataError
from training.export import ParityError, to_onnx
from training.loader import Source, load
from training.settings import TrainingSettings
from training.synthetic import demo_transactions, generate
from training.train import DEFAULT_TARGETS, split_rows, train

pytestmark = pytest.mark.stack

ROWS = 20_000


@pytest.fixture(scope="module")
def settings(stack, tmp_path_factory) -> TrainingSettings:
    return TrainingSettings(
        database_url=stack.fresh_database("retrain_tests"),
        state_dir=tmp_path_factory.mktemp("state"),
        gdrive_id=None,
        dataset_sha256=None,
    )


@pytest.fixture
def conn(settings) -> Iterator[psycopg.Connection]:
    with psycopg.connect(settings.database_url, autocommit=True) as connection:
        connection.execute("TRUNCATE models, promotions, transactions, labels")
        yield connection


def request(**changes) -> pipeline.RetrainRequest:
    defaults = pipeline.RetrainRequest(
        source=Source("synthetic"), rows=ROWS, seed=3, targets=DEFAULT_TARGETS, gate_margin=0.01, by="test"
    )
    return replace(defaults, **changes)


def test_the_gate_rejects_a_worse_model(conn, settings):
    dataset = generate(ROWS, seed=3)
    split = split_rows(dataset, seed=3)
    trained = train(dataset, split, seed=3)
    good, worse = to_onnx(trained.booster, trained.feature_names), to_onnx(trained.booster[:1], trained.feature_names)
    champion = registry.register(
        conn, good.onnx, thresholds=trained.thresholds, metrics={}, data_fingerprint="good"
    ).version
    registry.promote(conn, champion, by="test", reason="the good one")
    candidate = registry.register(
        conn, worse.onnx, thresholds=trained.thresholds, metrics={}, data_fingerprint="one tree"
    )

    verdict, champion_after = pipeline.gate_and_promote(settings, request(), candidate)

    assert not verdict.passed
    assert verdict.champion_version == champion and verdict.candidate_auprc < verdict.champion_auprc - 0.01
    assert champion_after == champion
    stored = registry.get(conn, candidate.version, with_onnx=False)
    assert stored.status == "candidate" and stored.metrics["gate"]["passed"] is False
    assert [change.version for change in registry.promotions(conn)] == [champion]


def test_a_parity_failure_rejects_the_model_before_it_is_registered(conn, settings, monkeypatch):
    def export_of_another_model(booster, feature_names):
        return to_onnx(booster[:1], feature_names)

    monkeypatch.setattr(pipeline, "to_onnx", export_of_another_model)
    with pytest.raises(ParityError, match="The model is rejected"):
        pipeline.retrain(request(), settings)
    assert registry.models(conn) == []


def test_a_first_retrain_becomes_champion_with_its_data_and_metrics_recorded(conn, settings):
    outcome = pipeline.retrain(request(), settings)
    champion = registry.champion(conn)
    assert (outcome.version, outcome.promoted, champion.version) == ("v0001", True, "v0001")
    assert champion.metrics["data"] == {
        "source": f"synthetic:rows={ROWS}:seed=3",
        "spec": "synthetic",
        "rows": ROWS,
        "seed": 3,
        "sha256": generate(ROWS, seed=3).fingerprint(),
    }
    assert champion.metrics["parity_max_delta"] <= 1e-5
    assert champion.metrics["precision_targets"] == {"review": 0.5, "block": 0.9}
    assert set(champion.metrics["recall_at_precision"]) == {"review", "block"}
    assert champion.metrics["gate"]["champion_version"] is None


def test_every_gate_measures_on_the_registrys_fixed_holdout(conn, settings):
    first = pipeline.retrain(request(), settings)
    kept = kept_holdout.get(conn)
    second = pipeline.retrain(request(seed=4), settings)

    for outcome in (first, second):
        assert outcome.gate.evaluated_on == kept.describe()
        assert "test split" not in outcome.gate.evaluated_on
    assert kept_holdout.get(conn).sha256 == kept.sha256


def test_the_holdout_is_kept_once_and_a_second_one_is_not_stored(conn):
    first = holdout.ensure(conn)
    # Seeded: 2,000 rows from an unknown seed hold no fraud about one time in thirty.
    again = kept_holdout.keep(conn, holdout.draw(2_000, seed=0))
    assert again.sha256 == first.sha256 and len(again.labels) == holdout.ROWS
    assert np.array_equal(again.features, first.features)


def test_the_holdout_cannot_be_changed_in_place(conn):
    holdout.ensure(conn)
    with pytest.raises(psycopg.errors.RaiseException, match="the holdout is fixed"):
        conn.execute("UPDATE holdout SET labels = ''::bytea")


def label(conn: psycopg.Connection, transaction: dict, *labels: str, client_id: str = "shop") -> None:
    conn.execute(
        "INSERT INTO transactions (client_id, transaction_id, user_id, amount, event_time, payload, risk_score,"
        " decision, model_version, thresholds, received_at, scored_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, 0.1, 'approve', 'v0001', '{}', now(), now())",
        (
            client_id,
            transaction["transaction_id"],
            transaction["user_id"],
            transaction["Amount"],
            transaction["event_time"],
            json.dumps(transaction),
        ),
    )
    for value in labels:
        conn.execute(
            "INSERT INTO labels (client_id, transaction_id, label, labelled_by) VALUES (%s, %s, %s, 'analyst')",
            (client_id, transaction["transaction_id"], value),
        )


def test_labelled_history_takes_the_latest_label_of_each_labelled_transaction(conn, settings):
    first, second, third, unlabelled = demo_transactions(4, seed=5, fraud_share=0.0)
    label(conn, first, "fraud")
    label(conn, second, "fraud", "legitimate")
    label(conn, third, "legitimate", "fraud")
    label(conn, unlabelled)

    dataset = load(Source("postgres"), settings, rows=0, seed=0)

    assert dataset.labels.tolist() == [1, 0, 1]
    assert dataset.user_ids.tolist() == [first["user_id"], second["user_id"], third["user_id"]]
    assert dataset.features[0, 0] == pytest.approx(first["Time"])
    assert dataset.event_times is not None


def test_a_label_belongs_to_its_clients_transaction_only(conn, settings):
    """Two clients may use one transaction id: a label on one is not a label on the other."""
    mine, theirs = demo_transactions(2, seed=8, fraud_share=0.0)
    theirs = {**theirs, "transaction_id": mine["transaction_id"]}
    label(conn, mine, "fraud", client_id="shop-a")
    label(conn, theirs, client_id="shop-b")
    label(conn, demo_transactions(1, seed=9, fraud_share=0.0)[0], "legitimate")

    dataset = load(Source("postgres"), settings, rows=0, seed=0)

    assert sorted(dataset.labels.tolist()) == [0, 1]
    assert mine["user_id"] in dataset.user_ids.tolist() and theirs["user_id"] not in dataset.user_ids.tolist()


def test_labelled_history_without_fraud_has_no_positive_class(conn, settings):
    for transaction in demo_transactions(3, seed=6, fraud_share=0.0):
        label(conn, transaction, "legitimate")
    with pytest.raises(DataError, match="no positive class"):
        load(Source("postgres"), settings, rows=0, seed=0)
