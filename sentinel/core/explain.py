"""Why the model scored a transaction as it did: each feature's exact share of its margin.

A review or block decision goes to a person, who needs to see what drove it, and only
the model that decided can say. These are the path-dependent TreeSHAP values
(Lundberg et al. 2018, "Consistent Individualized Feature Attribution for Tree
Ensembles", Algorithm 2) of the served ONNX trees, in log-odds: one per feature and
the bias, summing to the margin, as XGBoost's `pred_contribs` gives them for the
booster that was exported.

The score image has no XGBoost, so the trees are read from the ONNX model itself,
through the `onnx` package: its TreeEnsembleClassifier node's attributes, the width
of its one input, and its metadata. TreeSHAP also needs each node's cover (the
training weight that reached it), which ONNX trees do not hold: export stores it in
the model's metadata (TREE_COVER_METADATA_KEY), and a model without it cannot be
explained.

All that depends on the model alone is worked out once, at load: every root-to-leaf
path, its distinct features and their cover fractions. Per row, Algorithm 2's EXTEND
and UNWIND run for all paths of all trees at once, as array operations.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
import onnx

# A JSON list with one list per tree (in tree id order) of the cover of each node, indexed by node id.
TREE_COVER_METADATA_KEY = "sentinel.tree_cover"

_ENSEMBLE = ("ai.onnx.ml", "TreeEnsembleClassifier")
_LEAF = "LEAF"
_COMPARISONS = {
    "BRANCH_LT": np.less,
    "BRANCH_LEQ": np.less_equal,
    "BRANCH_GT": np.greater,
    "BRANCH_GTE": np.greater_equal,
    "BRANCH_EQ": np.equal,
    "BRANCH_NEQ": np.not_equal,
}

Attributes = Mapping[str, onnx.AttributeProto]  # the ensemble node's attributes by name


class UnexplainableModel(Exception):
    """The model's trees cannot be read, so its decisions cannot be explained."""


class _Step(NamedTuple):
    node: int  # index in _Nodes
    feature: int
    went_true: bool
    fraction: float  # cover of the child taken / cover of the node


class _Path(NamedTuple):
    steps: tuple[_Step, ...]
    leaf_value: float

    def features(self) -> list[int]:
        """The distinct features the path tests, in the order it first tests them."""
        return list(dict.fromkeys(step.feature for step in self.steps))


class _Nodes(NamedTuple):
    """Every node of every tree, in the model's order."""

    tree: list[int]
    node_id: list[int]
    feature: np.ndarray
    threshold: np.ndarray  # float32, as onnxruntime compares
    is_leaf: list[bool]
    true_id: list[int]
    false_id: list[int]
    missing_goes_true: np.ndarray
    comparisons: tuple[tuple[np.ufunc, np.ndarray], ...]  # how each group of branch nodes compares

    def decide(self, row: np.ndarray) -> np.ndarray:
        """Whether the row goes to each node's true child (as onnxruntime does), then one True for padding."""
        inputs = row[self.feature]
        decisions = np.zeros(len(inputs) + 1, dtype=bool)
        for compare, members in self.comparisons:
            decisions[members] = compare(inputs[members], self.threshold[members])
        decisions[:-1] |= self.missing_goes_true & np.isnan(inputs)
        decisions[-1] = True
        return decisions


class TreeEnsemble:
    """A binary tree-ensemble classifier, read from its ONNX model, that explains its margin."""

    def __init__(self, feature_count: int, base_margin: float, nodes: _Nodes, paths: list[_Path]) -> None:
        self.feature_count = feature_count
        self._nodes = nodes
        steps = max((len(path.steps) for path in paths), default=0)
        slots = max((len(path.features()) for path in paths), default=0)
        # One column per path. Shorter paths are padded: steps through an always-true
        # decision, and slots of a feature that changes nothing (a zero fraction of 1).
        self._step_node = np.full((steps, len(paths)), len(nodes.feature))
        self._step_went_true = np.ones((steps, len(paths)), dtype=bool)
        self._step_in_slot = np.zeros((steps, slots, len(paths)), dtype=bool)
        self._slot_feature = np.zeros((slots, len(paths)), dtype=np.intp)
        self._zero_fraction = np.ones((slots, len(paths)))
        for column, path in enumerate(paths):
            features = path.features()
            self._slot_feature[: len(features), column] = features
            for row, step in enumerate(path.steps):
                slot = features.index(step.feature)
                self._step_node[row, column] = step.node
                self._step_went_true[row, column] = step.went_true
                self._step_in_slot[row, slot, column] = True
                self._zero_fraction[slot, column] *= step.fraction
        self._leaf_value = np.array([path.leaf_value for path in paths])
        self.bias = base_margin + float(self._zero_fraction.prod(axis=0) @ self._leaf_value)
        # Algorithm 2's UNWIND of a slot that is off (o = 0): a fixed weight per position, divided by the fraction.
        self._off_position_weight = (slots + 1) / (slots - np.arange(slots))
        zero_fraction = self._zero_fraction
        self._off_slot_weight = np.divide(1.0, zero_fraction, out=np.zeros_like(zero_fraction), where=zero_fraction > 0)

    @classmethod
    def from_onnx(cls, onnx_bytes: bytes) -> TreeEnsemble:
        """The ensemble of a model made by training.export.to_onnx; raises UnexplainableModel for any other."""
        try:
            model = onnx.load_model_from_string(onnx_bytes)
        except Exception as error:  # protobuf's own error, for bytes that are not a model
            raise UnexplainableModel(f"the model's bytes are not an ONNX model: {error}") from None
        if not model.HasField("graph"):
            raise UnexplainableModel("the model has no single graph")
        graph = model.graph
        metadata = {entry.key: entry.value for entry in model.metadata_props}
        if TREE_COVER_METADATA_KEY not in metadata:
            raise UnexplainableModel(
                f"the model has no node covers (metadata {TREE_COVER_METADATA_KEY!r}); export it again to explain it"
            )
        attributes = _ensemble_attributes(graph)
        if _attribute_text(attributes, "post_transform") != "LOGISTIC":
            raise UnexplainableModel("the model's probability is not the logistic of its trees' sum")
        base = _attribute_floats(attributes, "base_values", required=False)
        if len(base) > 1 or np.any(_attribute_ints(attributes, "class_ids")):
            raise UnexplainableModel("the model scores more than one class")
        feature_count = _input_width(graph)
        nodes = _nodes_of(attributes)
        if nodes.feature.size and not 0 <= nodes.feature.min() <= nodes.feature.max() < feature_count:
            raise UnexplainableModel(f"the model's trees test features beyond its {feature_count} inputs")
        leaf_values: dict[tuple[int, int], float] = defaultdict(float)
        for tree, node_id, weight in zip(
            _attribute_ints(attributes, "class_treeids").tolist(),
            _attribute_ints(attributes, "class_nodeids").tolist(),
            _attribute_floats(attributes, "class_weights").tolist(),
            strict=True,
        ):
            leaf_values[tree, node_id] += weight
        paths = _paths(nodes, leaf_values, _covers(metadata[TREE_COVER_METADATA_KEY]))
        return cls(feature_count, float(base.sum()), nodes, paths)

    def contributions(self, row: np.ndarray) -> np.ndarray:
        """Each feature's share of the margin (log-odds) for one row, then the bias; together they are the margin."""
        values = np.asarray(row, dtype=np.float32)
        if values.shape != (self.feature_count,):
            raise ValueError(f"expected one row of {self.feature_count} features, got an array of shape {values.shape}")
        strays = self._nodes.decide(values)[self._step_node] != self._step_went_true
        # A slot's one fraction (Algorithm 2's o) is 1 when the row goes the path's way at each step on its feature.
        one_fraction = ~np.any(strays[:, None, :] & self._step_in_slot, axis=0)
        shares = self._leaf_value * (one_fraction - self._zero_fraction) * self._unwound_sums(one_fraction)
        per_feature = np.bincount(self._slot_feature.ravel(), weights=shares.ravel(), minlength=self.feature_count)
        return np.append(per_feature, self.bias)

    def _unwound_sums(self, one_fraction: np.ndarray) -> np.ndarray:
        """Algorithm 2's sum(UNWIND(m, i).w) for every slot i of every path, m being the path EXTENDed by its slots."""
        zero_fraction = self._zero_fraction
        slots, paths = zero_fraction.shape
        weights = np.ones((1, paths))  # the path's first element, which stands for no feature
        for length in range(1, slots + 1):  # EXTEND(m, z, o) with slot length - 1
            position = np.arange(length)[:, None]
            extended = np.zeros((length + 1, paths))
            extended[:length] = weights * zero_fraction[length - 1] * ((length - position) / (length + 1))
            extended[1:] += weights * one_fraction[length - 1] * ((position + 1) / (length + 1))
            weights = extended
        when_on = np.zeros_like(zero_fraction)
        following = weights[slots]
        for position in range(slots - 1, -1, -1):
            unwound = following * ((slots + 1) / (position + 1))
            when_on += unwound
            following = weights[position] - unwound * zero_fraction * ((slots - position) / (slots + 1))
        when_off = (self._off_position_weight @ weights[:slots]) * self._off_slot_weight
        return np.where(one_fraction, when_on, when_off)


def _nodes_of(attributes: Attributes) -> _Nodes:
    modes = _attribute_texts(attributes, "nodes_modes")
    unknown = set(modes) - {_LEAF, *_COMPARISONS}
    if unknown:
        raise UnexplainableModel(f"the model's trees hold nodes of unknown modes: {', '.join(sorted(unknown))}")
    by_mode = defaultdict(list)
    for index, mode in enumerate(modes):
        by_mode[mode].append(index)
    missing_goes_true = _attribute_ints(attributes, "nodes_missing_value_tracks_true", required=False) != 0
    nodes = _Nodes(
        tree=_attribute_ints(attributes, "nodes_treeids").tolist(),
        node_id=_attribute_ints(attributes, "nodes_nodeids").tolist(),
        feature=_attribute_ints(attributes, "nodes_featureids").astype(np.intp),
        threshold=_attribute_floats(attributes, "nodes_values"),
        is_leaf=[mode == _LEAF for mode in modes],
        true_id=_attribute_ints(attributes, "nodes_truenodeids").tolist(),
        false_id=_attribute_ints(attributes, "nodes_falsenodeids").tolist(),
        missing_goes_true=missing_goes_true if missing_goes_true.size else np.zeros(len(modes), dtype=bool),
        comparisons=tuple(
            (_COMPARISONS[mode], np.array(members)) for mode, members in by_mode.items() if mode != _LEAF
        ),
    )
    if any(len(values) != len(modes) for values in nodes[:-1]):  # every field but the comparisons
        raise UnexplainableModel(f"the model's {_ENSEMBLE[1]} describes its nodes in lists of different lengths")
    return nodes


def _covers(text: str) -> list[list[float]]:
    try:
        return [[float(cover) for cover in tree] for tree in json.loads(text)]
    except (ValueError, TypeError) as error:
        raise UnexplainableModel(f"the model's node covers are not lists of numbers, one per tree: {error}") from None


def _paths(nodes: _Nodes, leaf_values: Mapping[tuple[int, int], float], covers: list[list[float]]) -> list[_Path]:
    """Every root-to-leaf path of every tree, with the cover fraction of each step."""
    index_by_tree: dict[int, dict[int, int]] = defaultdict(dict)
    for index, (tree, node_id) in enumerate(zip(nodes.tree, nodes.node_id, strict=True)):
        index_by_tree[tree][node_id] = index
    if sorted(index_by_tree) != list(range(len(covers))):
        raise UnexplainableModel(f"the model's node covers are for {len(covers)} trees, not its {len(index_by_tree)}")
    paths: list[_Path] = []
    for tree, index_of in index_by_tree.items():
        cover = covers[tree]
        children = {
            child
            for index in index_of.values()
            if not nodes.is_leaf[index]
            for child in (nodes.true_id[index], nodes.false_id[index])
        }
        roots = index_of.keys() - children
        if len(roots) != 1 or not children <= index_of.keys() or len(cover) <= max(index_of):
            raise UnexplainableModel(f"tree {tree} of the model is not one tree, or does not fit its node covers")
        stack: list[tuple[int, tuple[_Step, ...]]] = [(roots.pop(), ())]
        while stack:
            node_id, steps = stack.pop()
            if len(steps) >= len(index_of):
                raise UnexplainableModel(f"tree {tree} of the model loops")
            index = index_of[node_id]
            if nodes.is_leaf[index]:
                paths.append(_Path(steps, leaf_values.get((tree, node_id), 0.0)))
                continue
            if not cover[node_id] > 0:
                raise UnexplainableModel(f"node {node_id} of tree {tree} has a cover of {cover[node_id]}")
            for went_true, child in ((True, nodes.true_id[index]), (False, nodes.false_id[index])):
                step = _Step(index, int(nodes.feature[index]), went_true, cover[child] / cover[node_id])
                stack.append((child, (*steps, step)))
    return paths


def _ensemble_attributes(graph: onnx.GraphProto) -> dict[str, onnx.AttributeProto]:
    ensembles = [node for node in graph.node if (node.domain, node.op_type) == _ENSEMBLE]
    if len(ensembles) != 1:
        raise UnexplainableModel(f"the model has {len(ensembles)} {_ENSEMBLE[1]} nodes, not one")
    return {attribute.name: attribute for attribute in ensembles[0].attribute}


def _input_width(graph: onnx.GraphProto) -> int:
    if len(graph.input) != 1:
        raise UnexplainableModel(f"the model has {len(graph.input)} inputs, not one")
    input_type = graph.input[0].type
    if not (input_type.HasField("tensor_type") and input_type.tensor_type.HasField("shape")):
        raise UnexplainableModel("the model has no single input type")
    dimensions = input_type.tensor_type.shape.dim
    if not dimensions or not dimensions[-1].HasField("dim_value") or dimensions[-1].dim_value < 1:
        raise UnexplainableModel("the model's input has no fixed number of features")
    return dimensions[-1].dim_value


def _attribute(attributes: Attributes, name: str) -> onnx.AttributeProto:
    if name not in attributes:
        raise UnexplainableModel(f"the model's {_ENSEMBLE[1]} has no attribute {name!r}")
    return attributes[name]


def _attribute_ints(attributes: Attributes, name: str, *, required: bool = True) -> np.ndarray:
    if not required and name not in attributes:
        return np.zeros(0, dtype=np.int64)
    return np.array(_attribute(attributes, name).ints, dtype=np.int64)


def _attribute_floats(attributes: Attributes, name: str, *, required: bool = True) -> np.ndarray:
    if not required and name not in attributes:
        return np.zeros(0, dtype=np.float32)
    return np.array(_attribute(attributes, name).floats, dtype=np.float32)  # ONNX floats are float32: exact


def _attribute_texts(attributes: Attributes, name: str) -> list[str]:
    return [_decoded(text) for text in _attribute(attributes, name).strings]


def _attribute_text(attributes: Attributes, name: str) -> str:
    return _decoded(_attribute(attributes, name).s)


def _decoded(text: bytes) -> str:
    """An attribute's text, which ONNX keeps as bytes."""
    try:
        return text.decode()
    except UnicodeDecodeError as error:
        raise UnexplainableModel(f"the model holds text that is not UTF-8: {error}") from None
