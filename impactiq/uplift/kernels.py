"""The compiled loops that score saved models: tree walks, and a causal forest's estimate per row.

Imported on a model's first prediction, never at load (numba takes a fraction of a second to
import); compiled code is cached on disk beside this module, so compiling happens once per
machine. Every function here releases the GIL, so threads score disjoint rows in parallel.

Why the walk looks the way it does. Walking a tree is a chain of dependent loads (node, feature
value, threshold, child), and a data-dependent branch per node that the processor cannot predict.
Three things make it several times faster than a plain loop:
- trees are relabelled so that a node's right child directly follows its left one, and a node's
  threshold, feature and left child share 16 bytes: one load decides the next node, without a branch;
- leaves point to themselves, so the rows of a block can take the same number of steps (a tree's
  typical depth) without checking where each one is, and only the few rows still at a split
  go on from there;
- rows are walked in blocks of `BLOCK_ROWS`, one tree at a time, so the processor overlaps the
  independent chains of many rows.

The forest's estimate follows EconML's `BaseGRF._predict_point_and_var` (econml 0.17) for one
row at a time, which keeps memory flat and avoids a batched pseudo-inverse (the slowest step of
the vectorized version): see `grf_rows`.
"""

from __future__ import annotations

import math

import numba
import numpy as np

# Rows walked together through one tree (see the module's docstring).
BLOCK_ROWS = 256
# Steps beyond a tree's mean leaf depth that all rows of a block take together (see `walk_block`).
# Rows end in the deeper leaves more often than the count of leaves suggests (a split sends most
# rows to its larger side); on the demo model, scoring 1M rows with intervals, 0 to 4 extra steps
# gave about 187k, 205k, 212k, 222k and 210k rows/s.
SETTLE_EXTRA_STEPS = 3
# A node's `code`: the feature index in the low bits, then LightGBM's missing type (2 bits) and
# default direction (1 bit); -1 marks a leaf.
FEATURE_BITS = 24
FEATURE_MASK = (1 << FEATURE_BITS) - 1
LEAF_CODE = -1
MISSING_NONE, MISSING_ZERO, MISSING_NAN = 0, 1, 2
# LightGBM's kZeroThreshold: a value this close to 0 counts as zero for missing type Zero.
ZERO_THRESHOLD = 1e-35
NODE = np.dtype([("threshold", np.float64), ("code", np.int32), ("left", np.int32)])
# Above this 1-norm condition number a forest's local jacobian is inverted as EconML does, by
# pseudo-inverse; below it the plain inverse agrees with the pseudo-inverse to rounding.
PINV_CONDITION = 1e10

_JIT = {"nogil": True, "cache": True, "error_model": "numpy"}


@numba.njit(**_JIT)
def pack(roots, feature, threshold, left, right, default_left, missing_type, n_leaves):
    """Relabel trees for the walk: (nodes, roots, settle steps, leaf of each node).

    Input: nodes numbered in one sequence, children a node number or `-(leaf + 1)`, as
    `trees.children_descend` accepts. Output: every reachable node and leaf gets a new number,
    breadth first within its tree, with a node's children numbered consecutively; `nodes` holds
    records of `NODE`, `leaf[i]` is the original leaf id of new node i (-1 for a split), and
    `settle[t]` the steps every row takes in tree t before the rows still at a split go on alone:
    its mean leaf depth plus `SETTLE_EXTRA_STEPS`, at most its depth (see `walk_block`).
    """
    capacity = feature.shape[0] + n_leaves
    nodes = np.empty(capacity, dtype=NODE)
    leaf = np.full(capacity, -1, dtype=np.int64)
    source = np.empty(capacity, dtype=np.int64)  # the original node or leaf code of each new node
    level = np.zeros(capacity, dtype=np.int64)
    new_roots = np.empty(roots.shape[0], dtype=np.int64)
    settle = np.zeros(roots.shape[0], dtype=np.int32)
    size = 0
    for tree in range(roots.shape[0]):
        if size + 1 > capacity:
            raise ValueError("two parents share a child")
        new_roots[tree] = size
        source[size] = roots[tree]
        level[size] = 0
        size += 1
        head = new_roots[tree]
        leaf_levels = 0
        n_tree_leaves = 0
        deepest = 0
        while head < size:
            original = source[head]
            if original < 0:
                nodes[head].threshold = np.inf
                nodes[head].code = LEAF_CODE
                nodes[head].left = head
                leaf[head] = -original - 1
                leaf_levels += level[head]
                n_tree_leaves += 1
                deepest = max(deepest, level[head])
            else:
                if size + 2 > capacity:
                    raise ValueError("two parents share a child")
                code = feature[original]
                code |= np.int64(missing_type[original]) << FEATURE_BITS
                code |= np.int64(default_left[original]) << (FEATURE_BITS + 2)
                nodes[head].threshold = threshold[original]
                nodes[head].code = code
                nodes[head].left = size
                source[size] = left[original]
                source[size + 1] = right[original]
                level[size] = level[size + 1] = level[head] + 1
                size += 2
            head += 1
        settle[tree] = min(leaf_levels // n_tree_leaves + SETTLE_EXTRA_STEPS, deepest)
    return nodes[:size].copy(), new_roots, settle, leaf[:size].copy()


@numba.njit(**_JIT)
def _step(X, nodes, node_id, row, lightgbm):
    """The node after `node_id` for `row`; a leaf stays put.

    Written without data-dependent branches (bitwise operations on 0/1 integers), so that the
    compiler emits conditional moves: a mispredicted branch per node is what makes a plain walk slow.
    """
    node = nodes[node_id]
    code = node.code
    value = X[row, max(code, 0) & FEATURE_MASK]
    if lightgbm:
        kind = (code >> FEATURE_BITS) & 3
        is_nan = np.int64(value != value)
        nan_is_missing = np.int64(kind == MISSING_NAN)
        # NaN counts as 0 unless the split's missing type is NaN.
        value = 0.0 if is_nan & (1 - nan_is_missing) else value
        zero = np.int64(kind == MISSING_ZERO) & np.int64(abs(value) <= ZERO_THRESHOLD)
        missing = (nan_is_missing & is_nan) | zero
        by_default = (code >> (FEATURE_BITS + 2)) & 1
        go_left = (missing & by_default) | ((1 - missing) & np.int64(value <= node.threshold))
    else:
        go_left = np.int64(value <= node.threshold)
    return node.left + 1 - (go_left | np.int64(code < 0))


@numba.njit(**_JIT)
def walk_block(X, nodes, root, settle, first_row, n_rows, lightgbm, current, active):
    """current[b] = the (new) leaf node that row first_row + b reaches from `root`.

    All rows take `settle` steps together (most rows of a tree reach their leaf by then; a leaf
    stays put), then the rows still at a split go on as a shrinking list, so that a few deep
    branches do not make every row walk the tree's full depth.
    """
    for b in range(n_rows):
        current[b] = root
    for _ in range(settle):
        for b in range(n_rows):
            current[b] = _step(X, nodes, current[b], first_row + b, lightgbm)
    n_active = 0
    for b in range(n_rows):
        active[n_active] = b
        n_active += np.int64(nodes[current[b]].code >= 0)
    while n_active > 0:
        still = 0
        for i in range(n_active):
            b = active[i]
            following = _step(X, nodes, current[b], first_row + b, lightgbm)
            current[b] = following
            active[still] = b
            still += np.int64(nodes[following].code >= 0)
        n_active = still


@numba.njit(**_JIT)
def leaf_sum_rows(X, nodes, roots, settle, leaf, values, lightgbm, start, stop, out):
    """out[row] += the value of the leaf row reaches, tree after tree, for rows start..stop.

    Trees are added in order, as LightGBM adds them, so the sums are LightGBM's to rounding.
    """
    current = np.empty(BLOCK_ROWS, dtype=np.int64)
    active = np.empty(BLOCK_ROWS, dtype=np.int64)
    for first in range(start, stop, BLOCK_ROWS):
        n_rows = min(BLOCK_ROWS, stop - first)
        for tree in range(roots.shape[0]):
            walk_block(X, nodes, roots[tree], settle[tree], first, n_rows, lightgbm, current, active)
            for b in range(n_rows):
                out[first + b] += values[leaf[current[b]]]


@numba.njit(**_JIT)
def _invert(matrix, inverse, work):
    """inverse = matrix^-1 by Gauss-Jordan with partial pivoting; False if (nearly) singular.

    "Nearly" is a 1-norm condition number above `PINV_CONDITION`: there the caller falls back to
    the pseudo-inverse, which is what EconML uses throughout.
    """
    p = matrix.shape[0]
    work[:, :p] = matrix
    work[:, p:] = 0.0
    for i in range(p):
        work[i, p + i] = 1.0
    for column in range(p):
        pivot = column
        for r in range(column + 1, p):
            if abs(work[r, column]) > abs(work[pivot, column]):
                pivot = r
        if work[pivot, column] == 0.0:
            return False
        if pivot != column:
            for c in range(2 * p):
                work[column, c], work[pivot, c] = work[pivot, c], work[column, c]
        scale = 1.0 / work[column, column]
        for c in range(2 * p):
            work[column, c] *= scale
        for r in range(p):
            if r != column:
                factor = work[r, column]
                if factor != 0.0:
                    for c in range(2 * p):
                        work[r, c] -= factor * work[column, c]
    norm = 0.0
    inverse_norm = 0.0
    for c in range(p):
        column_sum = 0.0
        inverse_sum = 0.0
        for r in range(p):
            column_sum += abs(matrix[r, c])
            inverse_sum += abs(work[r, p + c])
        norm = max(norm, column_sum)
        inverse_norm = max(inverse_norm, inverse_sum)
    inverse[:, :] = work[:, p:]
    return norm * inverse_norm <= PINV_CONDITION


@numba.njit(**_JIT)
def grf_rows(
    X, nodes, roots, settle, leaf_data, p, slices, var, relevant, projector, start, stop, point, variance
):
    """A generalized random forest's estimate (and its variance) for rows start..stop.

    `leaf_data[node]` holds a leaf's local alpha (p values) then its jacobian (p x p, row-major);
    with mean alpha a(x) and mean jacobian J(x) over the trees, theta(x) = J(x)^-1 a(x). The
    outputs are theta's first `relevant` components, or (with a `projector` row per row) their
    inner product with it. The variance is EconML's bootstrap of little bags along each of those
    directions d: with w = J^-1' d and each tree's moment m_t = J_t theta - alpha_t projected to
    s_t = w . m_t, the between-bag variance of the bags' mean s, less EconML's within-bag
    correction, then its objective-Bayes debiasing, exactly as `BaseGRF._predict_point_and_var`
    does on whole matrices. The bags (`slices`) partition the trees (`ForestPredictor` checks).

    Loops run tree by tree over a block of rows, so that the leaves read one after the other
    belong to one small tree and stay in cache.
    """
    n_trees = roots.shape[0]
    n_bags, bag_size = slices.shape
    n_directions = relevant if projector.shape[0] == 0 else 1
    width = p + p * p
    leaves = np.empty((n_trees, BLOCK_ROWS), dtype=np.int64)
    active = np.empty(BLOCK_ROWS, dtype=np.int64)
    sums = np.empty((BLOCK_ROWS, width))
    thetas = np.empty((BLOCK_ROWS, p))
    weights = np.empty((BLOCK_ROWS, n_directions, p))
    jac = np.empty((p, p))
    inverse = np.empty((p, p))
    work = np.empty((p, 2 * p))
    direction = np.empty(p)
    in_bag = np.empty(BLOCK_ROWS)
    bag_means = np.empty(BLOCK_ROWS)
    bag_squares = np.empty(BLOCK_ROWS)
    squares = np.empty(BLOCK_ROWS)
    spread = math.sqrt(2.0 / max(n_bags, 1))
    for first in range(start, stop, BLOCK_ROWS):
        n_rows = min(BLOCK_ROWS, stop - first)
        sums[:n_rows] = 0.0
        for tree in range(n_trees):
            walk_block(X, nodes, roots[tree], settle[tree], first, n_rows, False, leaves[tree], active)
            for b in range(n_rows):
                node = leaves[tree, b]
                for c in range(width):
                    sums[b, c] += leaf_data[node, c]
        for b in range(n_rows):
            for j in range(p):
                for k in range(p):
                    jac[j, k] = sums[b, p + j * p + k] / n_trees
            if not _invert(jac, inverse, work):
                inverse[:, :] = np.linalg.pinv(jac)
            for j in range(p):
                total = 0.0
                for k in range(p):
                    total += inverse[j, k] * (sums[b, k] / n_trees)
                thetas[b, j] = total
            for d in range(n_directions):
                direction[:] = 0.0
                if projector.shape[0] == 0:
                    direction[d] = 1.0
                else:
                    direction[:relevant] = projector[first + b]
                estimate = 0.0
                for j in range(relevant):
                    estimate += direction[j] * thetas[b, j]
                point[first + b, d] = estimate
                for k in range(p):
                    total = 0.0
                    for j in range(p):
                        total += inverse[j, k] * direction[j]
                    weights[b, d, k] = total
        if not var:
            continue
        for d in range(n_directions):
            bag_means[:n_rows] = 0.0
            bag_squares[:n_rows] = 0.0
            squares[:n_rows] = 0.0
            for bag in range(n_bags):
                in_bag[:n_rows] = 0.0
                for i in range(bag_size):
                    tree = slices[bag, i]
                    for b in range(n_rows):
                        node = leaves[tree, b]
                        s = 0.0
                        for j in range(p):
                            moment = -leaf_data[node, j]
                            for k in range(p):
                                moment += leaf_data[node, p + j * p + k] * thetas[b, k]
                            s += weights[b, d, j] * moment
                        in_bag[b] += s
                        squares[b] += s * s
                for b in range(n_rows):
                    mean = in_bag[b] / bag_size
                    bag_means[b] += mean
                    bag_squares[b] += mean * mean
            for b in range(n_rows):
                between = bag_squares[b] / n_bags - (bag_means[b] / n_bags) ** 2
                correction = (squares[b] / n_trees - bag_squares[b] / n_bags) / (bag_size - 1)
                naive = between - correction
                se = max(between, correction) * spread
                z = naive / max(se, 1e-10)
                density = math.exp(-(z**2) / 2) / math.sqrt(2.0 * math.pi)
                tail = 0.5 * math.erfc(-z / math.sqrt(2.0))
                variance[first + b, d] = naive + se * density / tail
