"""Many binary decision trees, relabelled once for the compiled walk: the core of scoring a saved model.

A saved model is arrays, not pickled objects (see `impactiq.uplift.portable`), so its trees are
walked here rather than by the library that grew them. The saved arrays number all nodes of all
trees in one sequence; children are node numbers, or `-(leaf + 1)` for a leaf. `PackedTrees`
relabels them once, on a model's first prediction, into the layout the compiled walk needs
(`impactiq.uplift.kernels`, which says why); numba is imported then, not at load, so that
loading a model stays fast.

Two split rules are supported: EconML's forests send a row left when `x <= threshold`;
LightGBM's (`Tree::NumericalDecision`, LightGBM 4.x) do the same except for missing values:
NaN counts as 0 unless the split's missing type is NaN, and a missing value (NaN, or a zero
under missing type Zero) follows the split's default direction.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from impactiq.errors import ImpactIQError

MISSING_NONE, MISSING_ZERO, MISSING_NAN = 0, 1, 2
# Rows below which one thread walks them all (thread start-up would cost more than it saves). A
# thread starts in a fraction of a millisecond and 2,048 rows take about 20 ms, so a stream's
# micro-batch of 5,000 events uses both cores (bench/bench_stream.py: 19,700 events/s with the
# previous 16,384, 25,200 with this).
ROWS_PER_THREAD = 2_048
# Row ranges per thread in a large call (see `in_threads`).
RANGES_PER_THREAD = 4


class PackedTrees:
    """Trees in the compiled walk's layout, built from the saved arrays (see the module docstring).

    `n_leaves` bounds the leaf ids the codes may name. Passing `default_left` and
    `missing_type` (per node) applies LightGBM's missing-value rule.
    """

    def __init__(
        self,
        roots: np.ndarray,
        feature: np.ndarray,
        threshold: np.ndarray,
        left: np.ndarray,
        right: np.ndarray,
        *,
        n_leaves: int,
        default_left: np.ndarray | None = None,
        missing_type: np.ndarray | None = None,
    ):
        from impactiq.uplift import kernels

        n_nodes = len(feature)
        # LightGBM without missing-value splits (what data with no gaps grows) only counts NaN as
        # 0: done once on the input, so the walk is the plain, faster one.
        self.nan_as_zero = missing_type is not None
        self.lightgbm = missing_type is not None and bool(np.any(np.asarray(missing_type) != MISSING_NONE))
        if not self.lightgbm:
            default_left = np.zeros(n_nodes, dtype=np.bool_)
            missing_type = np.zeros(n_nodes, dtype=np.int8)
        try:
            self.nodes, self.roots, self.settle, self.leaf = kernels.pack(
                np.ascontiguousarray(roots, dtype=np.int64),
                np.ascontiguousarray(feature, dtype=np.int64),
                np.ascontiguousarray(threshold, dtype=np.float64),
                np.ascontiguousarray(left, dtype=np.int64),
                np.ascontiguousarray(right, dtype=np.int64),
                np.ascontiguousarray(default_left, dtype=np.bool_),
                np.ascontiguousarray(missing_type, dtype=np.int8),
                int(n_leaves),
            )
        except ValueError as error:
            raise ImpactIQError(f"A saved tree is damaged ({error}); retrain the model.") from error

    def leaf_sum(self, X: np.ndarray, leaf_value: np.ndarray) -> np.ndarray:
        """Each row's sum over the trees of the value of the leaf it reaches, shape (rows,).

        What a boosted model's raw score is; summed inside the walk, so memory does not grow with
        the number of trees. Trees are added in order, as LightGBM adds them.
        """
        from impactiq.uplift import kernels

        X = np.ascontiguousarray(X, dtype=np.float64)
        if self.nan_as_zero and not self.lightgbm and np.isnan(X).any():
            X = np.where(np.isnan(X), 0.0, X)
        values = np.ascontiguousarray(leaf_value, dtype=np.float64)
        out = np.zeros(X.shape[0], dtype=np.float64)
        in_threads(
            X.shape[0],
            lambda start, stop: kernels.leaf_sum_rows(
                X, self.nodes, self.roots, self.settle, self.leaf, values, self.lightgbm, start, stop, out
            ),
        )
        return out


def in_threads(n_rows: int, work: Callable[[int, int], None], n_threads: int | None = None) -> None:
    """Call `work(start, stop)` on consecutive row ranges covering 0..n_rows, in parallel threads.

    The compiled kernels release the GIL, so threads run them truly in parallel. By default one
    thread per core, none for fewer than `ROWS_PER_THREAD` rows each.
    """
    if n_threads is None:
        n_threads = os.cpu_count() or 1
    n_threads = max(1, min(n_threads, n_rows // ROWS_PER_THREAD))
    if n_threads == 1:
        work(0, n_rows)
        return
    # More ranges than threads, taken in turn: a thread slowed by another process does not leave
    # the others idle at the end.
    n_ranges = min(RANGES_PER_THREAD * n_threads, max(n_threads, n_rows // ROWS_PER_THREAD))
    bounds = np.linspace(0, n_rows, n_ranges + 1).astype(np.int64)
    with ThreadPoolExecutor(n_threads) as pool:
        list(pool.map(lambda i: work(int(bounds[i]), int(bounds[i + 1])), range(n_ranges)))


def children_descend(left: np.ndarray, right: np.ndarray, roots: np.ndarray, n_leaves: int) -> bool:
    """Whether every walk ends: children are later nodes or valid leaf codes, roots valid.

    Trees number a node's children after the node itself (scikit-learn, EconML and LightGBM
    all grow them that way), so requiring it rules out cycles in arrays from a damaged file.
    """
    nodes = np.arange(len(left))
    children = np.concatenate([left, right])
    parents = np.concatenate([nodes, nodes])
    internal = children >= 0
    return bool(
        np.all(children[internal] > parents[internal])
        and np.all(children < len(left))
        and np.all(children >= -n_leaves)
        and np.all((roots < len(left)) & (roots >= -n_leaves))
    )
