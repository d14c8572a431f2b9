"""Exact reasons for a score: TreeSHAP contributions computed from the exported ONNX trees (sentinel.core.explain)."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import xgboost as xgb
from onnx import helper

from sentinel.core.explain import TREE_COVER_METADATA_KEY, TreeEnsemble, UnexplainableModel
from sentinel.core.model import INPUT_NAME, WITH_BEHAVIOUR, load_session, predict_probabilities
from sentinel.core.transaction import FEATURE_NAMES
from training.behaviour import with_behaviour
from training.export import to_onnx
from training.synthetic import generate
from training.train import split_rows, train

CONTRIBUTION_TOLERANCE = 1e-4  # XGBoost computes its contributions in float32
MARGIN_TOLERANCE = 1e-5
PROBABILITY_TOLERANCE = 1e-6  # onnxruntime's probabilities are float32


@pytest.fixture(scope="module")
def dataset():
    return generate(20_000, seed=5)


@pytest.fixture(scope="module")
def trained(dataset):
    return train(dataset, split_rows(dataset, seed=5), seed=5)


@pytest.fixture(scope="module")
def exported(trained):
    return to_onnx(trained.booster, trained.feature_names)


@pytest.fixture(scope="module")
def ensemble(exported):
    return TreeEnsemble.from_onnx(exported.onnx)


@pytest.fixture(scope="module")
def rows(dataset, trained):
    """Every fraud row, the rows the model finds most suspicious, and a few hundred others."""
    scores = trained.booster.inplace_predict(dataset.features)
    suspicious = np.argsort(-scores)[:30]
    others = np.random.default_rng(5).choice(len(dataset), 300, replace=False)
    return dataset.features[np.unique(np.concatenate([np.flatnonzero(dataset.labels), suspicious, others]))]


def contributions_of(ensemble: TreeEnsemble, rows: np.ndarray) -> np.ndarray:
    return np.array([ensemble.contributions(row) for row in rows])


def xgboost_contributions(booster: xgb.Booster, rows: np.ndarray) -> np.ndarray:
    return booster.predict(xgb.DMatrix(rows), pred_contribs=True)


def test_contributions_equal_xgboosts_for_every_feature_and_the_bias(ensemble, trained, rows):
    ours = contributions_of(ensemble, rows)
    assert ours.shape == (len(rows), len(FEATURE_NAMES) + 1)
    np.testing.assert_allclose(ours, xgboost_contributions(trained.booster, rows), rtol=0, atol=CONTRIBUTION_TOLERANCE)


def test_contributions_sum_to_the_margin_the_onnx_trees_compute(ensemble, exported, rows):
    # The served model without its logistic outputs the margin itself (as [-margin, margin]).
    model = onnx.load_model_from_string(exported.onnx)
    (post_transform,) = (attribute for attribute in model.graph.node[0].attribute if attribute.name == "post_transform")
    post_transform.s = b"NONE"
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    margins = session.run(None, {INPUT_NAME: rows})[1][:, 1]
    np.testing.assert_allclose(contributions_of(ensemble, rows).sum(axis=1), margins, rtol=0, atol=MARGIN_TOLERANCE)


def test_the_logistic_of_the_contributions_is_the_served_probability(ensemble, exported, rows):
    session = load_session(exported.onnx, sha256=exported.sha256, feature_names=FEATURE_NAMES, name="the model")
    margins = contributions_of(ensemble, rows).sum(axis=1)
    np.testing.assert_allclose(
        1 / (1 + np.exp(-margins)), predict_probabilities(session, rows), rtol=0, atol=PROBABILITY_TOLERANCE
    )


def test_missing_values_take_the_branches_xgboost_sends_them_down(ensemble, trained, rows):
    with_gaps = rows[:100].copy()
    with_gaps[np.random.default_rng(6).random(with_gaps.shape) < 0.3] = np.nan
    np.testing.assert_allclose(
        contributions_of(ensemble, with_gaps),
        xgboost_contributions(trained.booster, with_gaps),
        rtol=0,
        atol=CONTRIBUTION_TOLERANCE,
    )


def test_each_onnx_node_carries_the_cover_of_the_xgboost_node_it_was_made_from(exported, trained):
    assert onnx_nodes(exported.onnx) == xgboost_nodes(trained.booster)


def onnx_nodes(model_bytes: bytes) -> Counter:
    """Each node as (tree, feature, threshold, missing goes true, cover), or (tree, "leaf", value, cover)."""
    model = onnx.load_model_from_string(model_bytes)
    (ensemble_node,) = model.graph.node
    attributes = {attribute.name: helper.get_attribute_value(attribute) for attribute in ensemble_node.attribute}
    covers = json.loads({entry.key: entry.value for entry in model.metadata_props}[TREE_COVER_METADATA_KEY])
    leaves = zip(attributes["class_treeids"], attributes["class_nodeids"], strict=True)
    leaf_values = dict(zip(leaves, attributes["class_weights"], strict=True))
    nodes = Counter()
    for tree, node_id, mode, feature, threshold, missing_goes_true in zip(
        attributes["nodes_treeids"],
        attributes["nodes_nodeids"],
        attributes["nodes_modes"],
        attributes["nodes_featureids"],
        attributes["nodes_values"],
        attributes["nodes_missing_value_tracks_true"],
        strict=True,
    ):
        cover = np.float32(covers[tree][node_id])
        if mode == b"LEAF":
            nodes[tree, "leaf", np.float32(leaf_values[tree, node_id]), cover] += 1
        else:
            nodes[tree, feature, np.float32(threshold), bool(missing_goes_true), cover] += 1
    return nodes


def xgboost_nodes(booster: xgb.Booster) -> Counter:
    """The same facts from XGBoost's own model format, which numbers nodes its way and holds their hessian sums."""
    trees = json.loads(booster.save_raw("json"))["learner"]["gradient_booster"]["model"]["trees"]
    nodes = Counter()
    for tree, arrays in enumerate(trees):
        for node, left in enumerate(arrays["left_children"]):
            cover, value = np.float32(arrays["sum_hessian"][node]), np.float32(arrays["split_conditions"][node])
            if left == -1:  # a leaf, whose split condition holds its value
                nodes[tree, "leaf", value, cover] += 1
            else:  # the left child is the one for feature < threshold
                nodes[tree, arrays["split_indices"][node], value, bool(arrays["default_left"][node]), cover] += 1
    return nodes


def test_a_model_without_node_covers_is_refused(exported):
    model = onnx.load_model_from_string(exported.onnx)
    kept = [entry for entry in model.metadata_props if entry.key != TREE_COVER_METADATA_KEY]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    with pytest.raises(UnexplainableModel, match="no node covers.*export it again"):
        TreeEnsemble.from_onnx(model.SerializeToString())


def test_bytes_that_are_not_a_model_are_refused():
    with pytest.raises(UnexplainableModel):
        TreeEnsemble.from_onnx(b"not a model")


def test_a_row_of_another_width_is_refused(ensemble):
    with pytest.raises(ValueError, match=f"one row of {len(FEATURE_NAMES)} features"):
        ensemble.contributions(np.zeros(len(FEATURE_NAMES) + 1))


def test_contributions_equal_xgboosts_for_a_model_with_behavioural_features(dataset):
    with_users = with_behaviour(dataset)
    trained = train(with_users, split_rows(with_users, seed=5), seed=5)
    assert trained.feature_names == WITH_BEHAVIOUR
    ensemble = TreeEnsemble.from_onnx(to_onnx(trained.booster, trained.feature_names).onnx)
    rows = with_users.features[np.random.default_rng(7).choice(len(with_users), 300, replace=False)]
    rows = np.vstack([rows, with_users.features[np.flatnonzero(with_users.labels)]])
    ours = contributions_of(ensemble, rows)
    assert ours.shape == (len(rows), len(WITH_BEHAVIOUR) + 1)
    np.testing.assert_allclose(ours, xgboost_contributions(trained.booster, rows), rtol=0, atol=CONTRIBUTION_TOLERANCE)
