"""Export a trained booster to ONNX, and refuse it unless ONNX scores exactly as XGBoost does.

The score function runs the ONNX model through onnxruntime (tens of microseconds a
row, no XGBoost in the image), so the model that was evaluated (XGBoost) and the
model that serves (ONNX) must agree. The parity check scores every held-out row
both ways and rejects the export when any probability differs by more than 1e-5.

The export also carries each tree node's cover (its training hessian sum), which
ONNX trees do not hold and explaining a decision needs (sentinel.core.explain).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import onnx
import xgboost as xgb
from onnx import helper
from onnxmltools import convert_xgboost
from onnxmltools.convert.common.data_types import FloatTensorType

from sentinel.core import behaviour
from sentinel.core.explain import TREE_COVER_METADATA_KEY
from sentinel.core.model import (
    BEHAVIOUR_VERSION_METADATA_KEY,
    FEATURE_NAMES_METADATA_KEY,
    INPUT_NAME,
    WITH_BEHAVIOUR,
    load_session,
    predict_probabilities,
    sha256_hex,
)
from training.train import predict

PARITY_TOLERANCE = 1e-5


class ParityError(Exception):
    """ONNX and XGBoost disagree: the export is rejected."""


@dataclass(frozen=True)
class ExportedModel:
    """ONNX bytes ready for the registry."""

    onnx: bytes
    sha256: str
    feature_names: tuple[str, ...]


def to_onnx(booster: xgb.Booster, feature_names: tuple[str, ...]) -> ExportedModel:
    """The booster as an ONNX classifier taking `features` [n, len(feature_names)] and declaring
    its feature names (and, with behavioural features, the version of their definitions) and the
    cover of each tree node, which explaining a decision needs (sentinel.core.explain)."""
    model = convert_xgboost(
        booster,
        name="sentinel_fraud",
        initial_types=[(INPUT_NAME, FloatTensorType([None, len(feature_names)]))],
    )
    declared = {
        FEATURE_NAMES_METADATA_KEY: json.dumps(list(feature_names)),
        TREE_COVER_METADATA_KEY: json.dumps(_tree_covers(booster, model), separators=(",", ":")),
    }
    if feature_names == WITH_BEHAVIOUR:
        declared[BEHAVIOUR_VERSION_METADATA_KEY] = str(behaviour.VERSION)
    for key, value in declared.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx = model.SerializeToString()
    return ExportedModel(onnx=onnx, sha256=sha256_hex(onnx), feature_names=feature_names)


def _tree_covers(booster: xgb.Booster, model: onnx.ModelProto) -> list[list[float]]:
    """The cover (training hessian sum) of every node of the ONNX trees: per tree, indexed by ONNX node id.

    The converter numbers nodes its own way, so each ONNX tree is walked beside the
    booster's from the root, the true branch beside `yes` and the false one beside `no`;
    a node that differs in kind or threshold rejects the export.
    """
    (ensemble,) = (node for node in model.graph.node if node.op_type == "TreeEnsembleClassifier")
    attributes = {attribute.name: helper.get_attribute_value(attribute) for attribute in ensemble.attribute}
    onnx_trees: dict[int, dict[int, _OnnxNode]] = defaultdict(dict)
    for tree, node_id, mode, threshold, true_id, false_id in zip(
        attributes["nodes_treeids"],
        attributes["nodes_nodeids"],
        attributes["nodes_modes"],
        attributes["nodes_values"],
        attributes["nodes_truenodeids"],
        attributes["nodes_falsenodeids"],
        strict=True,
    ):
        onnx_trees[tree][node_id] = _OnnxNode(mode.decode(), np.float32(threshold), true_id, false_id)
    booster_trees = [json.loads(tree) for tree in booster.get_dump(with_stats=True, dump_format="json")]
    if sorted(onnx_trees) != list(range(len(booster_trees))):
        raise ParityError(f"the ONNX model holds {len(onnx_trees)} trees, the booster {len(booster_trees)}")
    return [_covers_of(tree, onnx_trees[tree], root) for tree, root in enumerate(booster_trees)]


class _OnnxNode(NamedTuple):
    mode: str
    threshold: np.float32
    true_id: int
    false_id: int


def _covers_of(tree: int, onnx_nodes: dict[int, _OnnxNode], booster_root: dict[str, Any]) -> list[float]:
    children = {child for node in onnx_nodes.values() if node.mode != "LEAF" for child in (node.true_id, node.false_id)}
    (onnx_root,) = onnx_nodes.keys() - children
    covers = [0.0] * (max(onnx_nodes) + 1)
    pending = [(onnx_root, booster_root)]
    while pending:
        node_id, booster_node = pending.pop()
        onnx_node = onnx_nodes[node_id]
        is_leaf = "children" not in booster_node
        if is_leaf != (onnx_node.mode == "LEAF") or (
            not is_leaf and onnx_node.threshold != np.float32(booster_node["split_condition"])
        ):
            raise ParityError(
                f"node {node_id} of ONNX tree {tree} is not node {booster_node['nodeid']} of the booster's"
            )
        covers[node_id] = float(booster_node["cover"])
        if not is_leaf:
            booster_children = {child["nodeid"]: child for child in booster_node["children"]}
            pending.append((onnx_node.true_id, booster_children[booster_node["yes"]]))
            pending.append((onnx_node.false_id, booster_children[booster_node["no"]]))
    return covers


def check_parity(booster: xgb.Booster, exported: ExportedModel, features: np.ndarray) -> float:
    """The largest |p_onnx - p_xgboost| over `features`; raises ParityError above PARITY_TOLERANCE.

    ONNX scores through the same loading checks and session settings the score function uses.
    """
    if len(features) == 0:
        raise ValueError("the parity check needs at least one row")
    session = load_session(
        exported.onnx, sha256=exported.sha256, feature_names=exported.feature_names, name="the exported model"
    )
    onnx_probability = predict_probabilities(session, features)
    xgboost_probability = predict(booster, features)
    differences = np.abs(onnx_probability - xgboost_probability)
    worst = int(np.argmax(differences))
    max_delta = float(differences[worst])
    if not max_delta <= PARITY_TOLERANCE:
        raise ParityError(
            f"ONNX and XGBoost disagree by up to {max_delta:.2e} (limit {PARITY_TOLERANCE:.0e}) over"
            f" {len(features):,} rows; worst is row {worst}: ONNX {onnx_probability[worst]:.6f},"
            f" XGBoost {xgboost_probability[worst]:.6f}. The model is rejected."
        )
    return max_delta
