"""The compiled tree walk: hand-checked leaves, LightGBM's missing-value rule, threads, cycles."""

from __future__ import annotations

import numpy as np
import pytest

from impactiq.uplift import trees
from impactiq.uplift.trees import MISSING_NAN, MISSING_NONE, MISSING_ZERO, children_descend, leaf_of

# One tree: node 0 splits x0 <= 0.5; its left child is leaf 0, its right child node 1, which
# splits x1 <= 2.0 into leaves 1 and 2. A second tree is a single leaf (leaf 3).
ROOTS = np.array([0, -4])
FEATURE = np.array([0, 1])
THRESHOLD = np.array([0.5, 2.0])
LEFT = np.array([-1, -2])
RIGHT = np.array([1, -3])


def test_rows_reach_the_leaves_worked_out_by_hand():
    X = np.array([[0.0, 9.0], [0.5, 9.0], [0.6, 2.0], [0.6, 2.1]])
    leaves = leaf_of(X, ROOTS, FEATURE, THRESHOLD, LEFT, RIGHT)
    np.testing.assert_array_equal(leaves, [[0, 0, 1, 2], [3, 3, 3, 3]])


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
    leaves = leaf_of(
        X,
        ROOTS[:1],
        FEATURE,
        THRESHOLD,
        LEFT,
        RIGHT,
        default_left=np.array([default_left, False]),
        missing_type=np.array([missing_type, MISSING_NONE]),
    )
    np.testing.assert_array_equal(leaves[0], expected)


def test_threads_change_nothing(monkeypatch):
    X = np.random.default_rng(0).uniform(0, 3, size=(5_000, 2))
    whole = leaf_of(X, ROOTS, FEATURE, THRESHOLD, LEFT, RIGHT)
    monkeypatch.setattr(trees, "ROWS_PER_THREAD", 1_000)
    np.testing.assert_array_equal(leaf_of(X, ROOTS, FEATURE, THRESHOLD, LEFT, RIGHT), whole)


def test_only_arrays_whose_walks_end_are_trees():
    assert children_descend(LEFT, RIGHT, ROOTS, 4)
    assert not children_descend(np.array([0, -2]), RIGHT, ROOTS, 4)  # node 0 is its own child
    assert not children_descend(LEFT, np.array([1, -9]), ROOTS, 4)  # no leaf 8
    assert not children_descend(LEFT, RIGHT, np.array([5, -4]), 4)  # no node 5
