"""The compiled tree walk: hand-checked leaves, LightGBM's missing-value rule, threads, damaged trees."""

from __future__ import annotations

import numpy as np
import pytest

from impactiq.errors import ImpactIQError
from impactiq.uplift import trees
from impactiq.uplift.trees import MISSING_NAN, MISSING_NONE, MISSING_ZERO, PackedTrees, children_descend

# One tree: node 0 splits x0 <= 0.5; its left child is leaf 0, its right child node 1, which
# splits x1 <= 2.0 into leaves 1 and 2. A second tree is a single leaf (leaf 3).
ROOTS = np.array([0, -4])
FEATURE = np.array([0, 1])
THRESHOLD = np.array([0.5, 2.0])
LEFT = np.array([-1, -2])
RIGHT = np.array([1, -3])
# Leaf values that spell out which leaf a row reached: leaf i of the first tree is worth i, the
# lone leaf of the second tree 100.
LEAF_VALUE = np.array([0.0, 1.0, 2.0, 100.0])


def test_rows_reach_the_leaves_worked_out_by_hand():
    X = np.array([[0.0, 9.0], [0.5, 9.0], [0.6, 2.0], [0.6, 2.1]])
    packed = PackedTrees(ROOTS, FEATURE, THRESHOLD, LEFT, RIGHT, n_leaves=4)
    np.testing.assert_array_equal(packed.leaf_sum(X, LEAF_VALUE), [100, 100, 101, 102])
    # Leaves at depths 1, 2, 2: all rows take the mean depth (1) plus the extra steps, at most the
    # depth (2); a lone leaf takes none.
    np.testing.assert_array_equal(packed.settle, [2, 0])


@pytest.mark.parametrize(
    ("missing_type", "default_left", "expected"),
    [
        (MISSING_NONE, True, [0, 2, 0]),  # NaN counts as 0 and goes left; 7 goes right
        (MISSING_NAN, False, [2, 2, 0]),  # NaN is missing and goes right by default
        (MISSING_NAN, True, [0, 2, 0]),
        (MISSING_ZERO, False, [2, 2, 2]),  # NaN becomes 0, and 0 is missing: right by default
    ],
)
def test_lightgbm_missing_values_follow_the_split_rule(missing_type, default_left, expected):
    X = np.array([[np.nan, 9.0], [7.0, 9.0], [0.0, 9.0]])
    packed = PackedTrees(
        ROOTS[:1],
        FEATURE,
        THRESHOLD,
        LEFT,
        RIGHT,
        n_leaves=3,
        default_left=np.array([default_left, False]),
        missing_type=np.array([missing_type, MISSING_NONE]),
    )
    np.testing.assert_array_equal(packed.leaf_sum(X, LEAF_VALUE[:3]), expected)


def test_a_forest_split_sends_nan_right_as_numpy_compares():
    packed = PackedTrees(ROOTS[:1], FEATURE, THRESHOLD, LEFT, RIGHT, n_leaves=3)
    np.testing.assert_array_equal(packed.leaf_sum(np.array([[np.nan, 9.0]]), LEAF_VALUE[:3]), [2])


def test_deep_unbalanced_trees_equal_a_plain_walk():
    """Random trees of uneven depth: every row's leaf equals a node-by-node walk in Python."""
    rng = np.random.default_rng(3)
    roots, feature, threshold, left, right, n_leaves = _random_trees(rng, n_trees=7, n_nodes=60)
    X = rng.normal(size=(2_000, 4))
    X[rng.random(X.shape) < 0.05] = 0.0
    values = rng.normal(size=n_leaves)
    packed = PackedTrees(roots, feature, threshold, left, right, n_leaves=n_leaves)
    expected = np.zeros(len(X))
    for root in roots:
        for row, x in enumerate(X):
            node = root
            while node >= 0:
                node = left[node] if x[feature[node]] <= threshold[node] else right[node]
            expected[row] += values[-node - 1]
    np.testing.assert_allclose(packed.leaf_sum(X, values), expected, rtol=0, atol=1e-12)


def test_threads_change_nothing(monkeypatch):
    X = np.random.default_rng(0).uniform(0, 3, size=(5_000, 2))
    packed = PackedTrees(ROOTS, FEATURE, THRESHOLD, LEFT, RIGHT, n_leaves=4)
    whole = packed.leaf_sum(X, LEAF_VALUE)
    monkeypatch.setattr(trees, "ROWS_PER_THREAD", 1_000)
    np.testing.assert_array_equal(packed.leaf_sum(X, LEAF_VALUE), whole)


def test_only_arrays_whose_walks_end_are_trees():
    assert children_descend(LEFT, RIGHT, ROOTS, 4)
    assert not children_descend(np.array([0, -2]), RIGHT, ROOTS, 4)  # node 0 is its own child
    assert not children_descend(LEFT, np.array([1, -9]), ROOTS, 4)  # no leaf 8
    assert not children_descend(LEFT, RIGHT, np.array([5, -4]), 4)  # no node 5


def test_nodes_shared_by_two_parents_are_refused():
    # Both children of node 0 are node 1, and node 1 both children of... leaf 0: more walks
    # than a tree of this size holds, which only a damaged file describes.
    left, right = np.array([1, -1]), np.array([1, -1])
    with pytest.raises(ImpactIQError, match="damaged"):
        PackedTrees(np.array([0]), FEATURE, THRESHOLD, left, right, n_leaves=1)


def _random_trees(rng, *, n_trees: int, n_nodes: int):
    """Trees grown by splitting a random leaf at a time, numbered as the saved arrays are."""
    roots, feature, threshold, left, right = [], [], [], [], []
    n_leaves = 0
    for _ in range(n_trees):
        base = len(feature)
        # Grow: every node is appended, children after parents; open slots are leaves.
        slots = [(None, None)]  # (parent, side) waiting to become a node or a leaf
        count = 0
        pending = []
        while slots:
            parent, side = slots.pop(rng.integers(len(slots)))
            if count < n_nodes and (count == 0 or rng.random() < 0.7):
                node = base + count
                count += 1
                feature.append(int(rng.integers(4)))
                threshold.append(float(rng.normal()))
                left.append(0)
                right.append(0)
                pending.append((parent, side, node))
                slots += [(node, "left"), (node, "right")]
            else:
                pending.append((parent, side, -(n_leaves + 1)))
                n_leaves += 1
        for parent, side, code in pending:
            if parent is None:
                roots.append(code)
            elif side == "left":
                left[parent] = code
            else:
                right[parent] = code
    arrays = (np.array(a) for a in (roots, feature, threshold, left, right))
    return (*arrays, n_leaves)
