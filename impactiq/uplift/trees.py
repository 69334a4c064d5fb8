"""Walking many binary decision trees, compiled: the shared core of every saved model's scoring.

A saved model is arrays, not pickled objects (see `impactiq.uplift.portable`), so its trees are
walked here rather than by the library that grew them. All trees of a model are stacked into
flat node arrays; children are node indices, or `-(leaf + 1)` for a leaf. The walk is a small
loop compiled by numba (already a dependency of EconML's explanations), imported on the first
prediction rather than at load, so that loading a model stays fast; compiled code is cached on
disk beside this module. A NumPy walk of the same trees is several times slower on a million
rows, which is why the loop is compiled.

Two split rules are supported: EconML's forests send a row left when `x <= threshold`;
LightGBM's (`Tree::NumericalDecision`, LightGBM 4.x) do the same except for missing values:
NaN counts as 0 unless the split's missing type is NaN, and a missing value (NaN, or a zero
under missing type Zero) follows the split's default direction.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from functools import cache

import numpy as np

MISSING_NONE, MISSING_ZERO, MISSING_NAN = 0, 1, 2
# Rows below which one thread walks them all (thread start-up would cost more than it saves).
ROWS_PER_THREAD = 16_384
_ZERO_THRESHOLD = 1e-35


def leaf_sum(
    X: np.ndarray,
    roots: np.ndarray,
    feature: np.ndarray,
    threshold: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    leaf_value: np.ndarray,
    *,
    default_left: np.ndarray | None = None,
    missing_type: np.ndarray | None = None,
) -> np.ndarray:
    """Each row's sum over the trees of the value of the leaf it reaches, shape (rows,).

    What a boosted model's raw score is; summed inside the walk, so memory does not grow with
    the number of trees. Trees are added in order, as LightGBM adds them.
    """
    n_rows = np.shape(X)[0]
    out = np.zeros((1, n_rows), dtype=np.float64)
    values = np.ascontiguousarray(leaf_value, dtype=np.float64)
    _run(_kernel(), X, roots, feature, threshold, left, right, default_left, missing_type, values, out)
    return out[0]


def leaf_of(
    X: np.ndarray,
    roots: np.ndarray,
    feature: np.ndarray,
    threshold: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    *,
    default_left: np.ndarray | None = None,
    missing_type: np.ndarray | None = None,
) -> np.ndarray:
    """The leaf each row of X reaches in each tree, shape (trees, rows), as non-negative leaf ids.

    `roots[i]` is tree i's root (a node index, or a leaf code for a one-leaf tree). Passing
    `default_left` and `missing_type` (per node) applies LightGBM's missing-value rule.
    """
    out = np.empty((len(roots), np.shape(X)[0]), dtype=np.int64)
    no_values = np.empty(0, dtype=np.float64)
    _run(_kernel(), X, roots, feature, threshold, left, right, default_left, missing_type, no_values, out)
    return out


def _run(
    kernel, X, roots, feature, threshold, left, right, default_left, missing_type, leaf_value, out
) -> None:
    """Run a compiled walk over all rows, in threads for large inputs."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    lightgbm = missing_type is not None
    n_nodes = len(feature)
    if not lightgbm:
        default_left = np.zeros(n_nodes, dtype=np.bool_)
        missing_type = np.zeros(n_nodes, dtype=np.int8)
    n_rows = X.shape[0]
    arrays = (
        X,
        np.ascontiguousarray(roots, dtype=np.int64),
        np.ascontiguousarray(feature, dtype=np.int64),
        np.ascontiguousarray(threshold, dtype=np.float64),
        np.ascontiguousarray(left, dtype=np.int64),
        np.ascontiguousarray(right, dtype=np.int64),
        np.ascontiguousarray(default_left, dtype=np.bool_),
        np.ascontiguousarray(missing_type, dtype=np.int8),
        lightgbm,
        leaf_value,
    )
    n_threads = min(os.cpu_count() or 1, max(1, n_rows // ROWS_PER_THREAD))
    bounds = np.linspace(0, n_rows, n_threads + 1).astype(np.int64)
    if n_threads == 1:
        kernel(*arrays, 0, n_rows, out)
    else:
        # The compiled loop releases the GIL, so threads walk their rows in parallel.
        with ThreadPoolExecutor(n_threads) as pool:
            list(pool.map(lambda i: kernel(*arrays, bounds[i], bounds[i + 1], out), range(n_threads)))


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


def _walk(
    X,
    roots,
    feature,
    threshold,
    left,
    right,
    default_left,
    missing_type,
    lightgbm,
    leaf_value,
    start,
    stop,
    out,
):
    """Rows start..stop down every tree: each leaf into out[tree, row], or (with `leaf_value`)
    the leaves' values added up into out[0, row]."""
    for tree in range(roots.shape[0]):
        for row in range(start, stop):
            node = roots[tree]
            while node >= 0:
                value = X[row, feature[node]]
                if lightgbm:
                    kind = missing_type[node]
                    if np.isnan(value) and kind != MISSING_NAN:
                        value = 0.0
                    if (kind == MISSING_ZERO and abs(value) <= _ZERO_THRESHOLD) or (
                        kind == MISSING_NAN and np.isnan(value)
                    ):
                        go_left = default_left[node]
                    else:
                        go_left = value <= threshold[node]
                else:
                    go_left = value <= threshold[node]
                node = left[node] if go_left else right[node]
            if leaf_value.shape[0]:
                out[0, row] += leaf_value[-node - 1]
            else:
                out[tree, row] = -node - 1


@cache
def _kernel():
    """`_walk` compiled without the GIL (so threads run it in parallel), cached on disk; numba
    compiles it once per output type (leaves: int64, sums: float64)."""
    import numba

    return numba.njit(cache=True, nogil=True)(_walk)
