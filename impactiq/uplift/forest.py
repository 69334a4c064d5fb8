"""Fast, exact prediction with a fitted EconML causal forest: point, variance, one pass.

EconML's forests predict by looping over its trees in Python, once for the point
estimate and again, per subforest, for the variance; a single profile costs three such passes
and 100-200 ms on two cores, a million rows minutes. The forest is only arrays, though: every
tree stores, per node, the local alpha (`precond`) and jacobian (`jac`) of its moment equation.
Stacking those arrays once lets us gather every tree's leaf values with one index operation and
repeat EconML's formulas (`BaseGRF._predict_point_and_var`, econml 0.17) on whole arrays:

    alpha(x) = mean_t alpha_t(x),  J(x) = mean_t J_t(x),  theta(x) = pinv(J(x)) alpha(x)
    m_t(x) = J_t(x) theta(x) - alpha_t(x), averaged within each subforest ("little bag")

and the between-bag variance with EconML's within-bag correction and objective-Bayes debiasing.
Tests check the results against EconML's own to 1e-10.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from impactiq.errors import ImpactIQError
from impactiq.uplift.trees import children_descend, leaf_of

# Rows handled at once: the per-tree moments take rows x trees x outputs^2 floats.
CHUNK_ROWS = 4_096
# The arrays that make a forest, as `arrays()` returns them and `from_arrays` takes them.
# A forest estimates an effect per treatment arm plus an intercept; more outputs than this is not
# a forest ImpactIQ grew (and would make each row's p x p solve needlessly large).
MAX_OUTPUTS = 32
ARRAY_NAMES = ("roots", "feature", "threshold", "left", "right", "precond", "jac", "slices", "shape")
_erfc = np.frompyfunc(math.erfc, 1, 1)


class ForestPredictor:
    """The node arrays of a fitted `econml.grf` forest, stacked for vectorized prediction.

    Built once from the fitted forest (`from_forest`), saved as plain arrays (`arrays`) and
    rebuilt from them (`from_arrays`) without EconML: nodes of all trees are numbered in one
    sequence, children are node numbers or, for leaves, `-(node + 1)` (see `trees.leaf_of`).
    """

    def __init__(self, *, roots, feature, threshold, left, right, precond, jac, slices, shape):
        try:
            self.roots_ = np.asarray(roots, dtype=np.int64)
            self.feature_ = np.asarray(feature, dtype=np.int64)
            self.threshold_ = np.asarray(threshold, dtype=np.float64)
            self.left_ = np.asarray(left, dtype=np.int64)
            self.right_ = np.asarray(right, dtype=np.int64)
            # One row per component (alpha_j; J_jk flattened row-major), one column per node, so a
            # gather gives contiguous (trees, rows) arrays and every step below is elementwise.
            self.precond_ = np.ascontiguousarray(precond, dtype=np.float64)
            self.jac_ = np.ascontiguousarray(jac, dtype=np.float64)
            self.slices_ = np.asarray(slices, dtype=np.int64)
            self.n_outputs_, self.n_relevant_outputs_, self.n_features_, has_variance = (
                int(v) for v in np.asarray(shape).ravel()
            )
        except (TypeError, ValueError, OverflowError) as error:
            raise ImpactIQError(
                f"The saved forest's arrays are damaged ({error}); retrain the model."
            ) from error
        self.has_variance_ = bool(has_variance)
        self._check()

    @classmethod
    def from_forest(cls, forest) -> ForestPredictor:
        """The arrays of a fitted `econml.grf` forest (read from its attributes; no import)."""
        trees = [estimator.tree_ for estimator in forest.estimators_]
        counts = np.array([tree.node_count for tree in trees])
        offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        children_left = np.concatenate([tree.children_left for tree in trees]).astype(np.int64)
        children_right = np.concatenate([tree.children_right for tree in trees]).astype(np.int64)
        tree_of_node = np.repeat(np.arange(len(trees)), counts)
        is_leaf = children_left < 0

        def code(child: np.ndarray) -> np.ndarray:
            node = np.where(child < 0, 0, child + offsets[tree_of_node])
            return np.where(child < 0, -1, np.where(is_leaf[node], -node - 1, node))

        return cls(
            roots=np.where(is_leaf[offsets], -offsets - 1, offsets),
            feature=np.concatenate([tree.feature for tree in trees]),
            threshold=np.concatenate([tree.threshold for tree in trees]),
            left=code(children_left),
            right=code(children_right),
            precond=np.concatenate([tree.precond for tree in trees]).T,
            jac=np.concatenate([tree.jac for tree in trees]).T,
            slices=np.array([np.asarray(s) for s in forest.slices_]),
            shape=[
                forest.n_outputs_,
                forest.n_relevant_outputs_,
                forest.n_features_,
                bool(forest.inference),
            ],
        )

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> ForestPredictor:
        return cls(**{name: arrays[name] for name in ARRAY_NAMES})

    def arrays(self) -> dict[str, np.ndarray]:
        """Everything the forest predicts from, as plain arrays (for `numpy.savez`)."""
        shape = [self.n_outputs_, self.n_relevant_outputs_, self.n_features_, self.has_variance_]
        return {
            "roots": self.roots_,
            "feature": self.feature_,
            "threshold": self.threshold_,
            "left": self.left_,
            "right": self.right_,
            "precond": self.precond_,
            "jac": self.jac_,
            "slices": self.slices_,
            "shape": np.array(shape, dtype=np.int64),
        }

    def _check(self) -> None:
        """Refuse arrays that do not describe one forest (a damaged or foreign file).

        Every index must stay inside its array, every walk must end (children come after
        their parent), every split must read a feature the model has, and the sizes must be
        those of a real forest: at least one tree, a few outputs, bags of two trees or more.
        """
        n_nodes = self.feature_.size
        p = self.n_outputs_
        flat = (self.roots_, self.feature_, self.threshold_, self.left_, self.right_)
        if not (all(a.ndim == 1 for a in flat) and self.slices_.ndim == 2 and 0 < p <= MAX_OUTPUTS):
            raise ImpactIQError("The saved forest's arrays do not fit together; the model file is damaged.")
        children = np.concatenate([self.left_, self.right_, self.roots_])
        split = np.unique(children[(children >= 0) & (children < n_nodes)])
        n_bags, bag_size = self.slices_.shape
        consistent = (
            self.roots_.size > 0
            and self.threshold_.size == self.left_.size == self.right_.size == n_nodes
            and self.precond_.shape == (p, n_nodes)
            and self.jac_.shape == (p * p, n_nodes)
            and 0 < self.n_relevant_outputs_ <= p
            and self.n_features_ > 0
            and children_descend(self.left_, self.right_, self.roots_, n_nodes)
            and np.all((self.feature_[split] >= 0) & (self.feature_[split] < self.n_features_))
            and (not self.has_variance_ or (n_bags >= 1 and bag_size >= 2))
            and (
                self.slices_.size == 0 or (self.slices_.min() >= 0 and self.slices_.max() < self.roots_.size)
            )
        )
        if not consistent:
            raise ImpactIQError("The saved forest's arrays do not fit together; the model file is damaged.")

    def predict(
        self, X: np.ndarray, *, var: bool = True, n_threads: int = 1, projector: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """(theta, variance) of the relevant outputs for each row of X; variance None if not asked.

        theta has shape (n, n_relevant_outputs), variance the same (the diagonal of EconML's
        covariance). With a `projector` (n, n_relevant_outputs), the inner product of theta with
        it instead, and that product's variance, each shape (n, 1): EconML's
        `predict_projection_and_var`, which gives the interval of one arm's effect minus
        another's. Large inputs are split into chunks spread over `n_threads` threads (NumPy
        and the compiled tree walk release the GIL).
        """
        X = np.ascontiguousarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features_:
            raise ImpactIQError(
                f"The forest expects {self.n_features_} feature columns; got an array of shape {X.shape}."
            )
        if projector is not None:
            projector = np.asarray(projector, dtype=np.float64)
            if projector.shape != (len(X), self.n_relevant_outputs_):
                raise ImpactIQError(
                    f"The projector needs one row per row of X and {self.n_relevant_outputs_} columns; got "
                    f"shape {projector.shape}."
                )

        def chunk(start: int):
            rows = slice(start, start + CHUNK_ROWS)
            return self._predict_chunk(X[rows], var, None if projector is None else projector[rows])

        starts = range(0, len(X), CHUNK_ROWS)
        if n_threads > 1 and len(X) > CHUNK_ROWS:
            with ThreadPoolExecutor(n_threads) as pool:
                parts = list(pool.map(chunk, starts))
        else:
            parts = [chunk(s) for s in starts]
        width = self.n_relevant_outputs_ if projector is None else 1
        theta = np.concatenate([p[0] for p in parts]) if parts else np.empty((0, width))
        if not var:
            return theta, None
        return theta, np.concatenate([p[1] for p in parts]) if parts else np.empty_like(theta)

    def _leaves(self, X: np.ndarray) -> np.ndarray:
        """Global node index of each row's leaf in each tree, shape (trees, n)."""
        return leaf_of(X, self.roots_, self.feature_, self.threshold_, self.left_, self.right_)

    def _predict_chunk(
        self, X: np.ndarray, var: bool, projector: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        p, relevant = self.n_outputs_, self.n_relevant_outputs_
        leaves = self._leaves(X)
        alpha_t = [component[leaves] for component in self.precond_]  # p x (T, n)
        jac_t = [[self.jac_[j * p + k][leaves] for k in range(p)] for j in range(p)]  # p x p x (T, n)
        alpha = np.stack([a.mean(axis=0) for a in alpha_t], axis=-1)  # (n, p)
        jac = np.stack([np.stack([c.mean(axis=0) for c in row], axis=-1) for row in jac_t], axis=-2)
        invjac = np.linalg.pinv(jac)  # (n, p, p)
        theta = np.einsum("ijk,ik->ij", invjac, alpha)
        # The directions whose variance is wanted: each relevant output, or the projector.
        if projector is None:
            directions = np.broadcast_to(np.eye(p)[:relevant], (len(X), relevant, p))
            point = theta[:, :relevant]
        else:
            directions = np.zeros((len(X), 1, p))
            directions[:, 0, :relevant] = projector
            point = np.einsum("ij,ij->i", theta[:, :relevant], projector)[:, None]
        if not var:
            return point, None
        if not self.has_variance_:
            raise ImpactIQError("This forest was grown without inference, so it has no intervals.")
        # Each tree's moment at theta: m_tj = sum_k J_tjk theta_k - alpha_tj, p x (T, n).
        moments = [sum(jac_t[j][k] * theta[:, k] for k in range(p)) - alpha_t[j] for j in range(p)]
        return point, self._variance(moments, invjac, directions)

    def _variance(self, moments: list[np.ndarray], invjac: np.ndarray, directions: np.ndarray) -> np.ndarray:
        """EconML's bootstrap-of-little-bags variance of theta along each of `directions`.

        `directions` (n, d, p) holds d vectors per row: the unit vectors of the relevant outputs
        give the diagonal of EconML's covariance, a projector the variance of theta's inner
        product with it; the objective-Bayes debiasing applies to each, as in EconML. The bags
        are equal-sized and partition the trees, so EconML's mean over bags of the within-bag
        mean of m m' is the mean of m m' over all trees, computed here in one step.
        """
        p = len(moments)
        n_bags, bag_size = self.slices_.shape
        bag_means = [m[self.slices_].mean(axis=1) for m in moments]  # p x (S, n)
        moment = [b.mean(axis=0) for b in bag_means]  # p x (n,)

        def outer(f) -> np.ndarray:
            return np.stack([np.stack([f(j, k) for k in range(p)], axis=-1) for j in range(p)], axis=-2)

        sq_between = outer(lambda j, k: (bag_means[j] * bag_means[k]).mean(axis=0))  # (n, p, p)
        var_between = sq_between - outer(lambda j, k: moment[j] * moment[k])
        var_total = outer(lambda j, k: (moments[j] * moments[k]).mean(axis=0))
        invjac_t = np.transpose(invjac, (0, 2, 1))
        pred_var = np.einsum("iaj,ijk,iak->ia", directions, invjac @ var_between @ invjac_t, directions)
        correction = (var_total - sq_between) / (bag_size - 1)
        pred_var_correction = np.einsum(
            "iaj,ijk,iak->ia", directions, invjac @ correction @ invjac_t, directions
        )
        naive = pred_var - pred_var_correction
        se = np.maximum(pred_var, pred_var_correction) * np.sqrt(2.0 / n_bags)
        z = naive / np.clip(se, 1e-10, np.inf)
        numerator = np.exp(-(z**2) / 2) / np.sqrt(2.0 * np.pi)
        denominator = 0.5 * _erfc(-z / np.sqrt(2.0)).astype(np.float64)
        return naive + se * numerator / denominator


class ArmForests:
    """One forest per treated arm, answering as one forest with an output per arm.

    The forest DR learner fits each arm's effect on its own doubly robust scores, so a multi-arm
    model has one `ForestPredictor` per arm (EconML's `model_cate(T=arm)`). `predict` stacks
    them; a projector's variance (one arm's effect minus another's) is the sum of the two
    arms' variances weighted by the projector's squares. The two forests share the control
    arm's scores, so their errors are positively correlated and the sum overstates the
    variance of the difference: the interval is conservative, never too narrow.
    """

    def __init__(self, forests):
        self.forests_ = tuple(forests)
        if not self.forests_ or any(f.n_relevant_outputs_ != 1 for f in self.forests_):
            raise ImpactIQError("Each arm's forest must estimate one effect; retrain the model.")
        if len({f.n_features_ for f in self.forests_}) != 1:
            raise ImpactIQError("The arms' forests do not read the same features; retrain the model.")
        self.n_features_ = self.forests_[0].n_features_
        self.n_relevant_outputs_ = len(self.forests_)

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], n_arms: int) -> ArmForests:
        """The forests saved by `arrays`: arm k's arrays are named `<k>.<array>`."""
        return cls(
            ForestPredictor.from_arrays({name: arrays[f"{k}.{name}"] for name in ARRAY_NAMES})
            for k in range(1, n_arms + 1)
        )

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            f"{k}.{name}": value
            for k, forest in enumerate(self.forests_, start=1)
            for name, value in forest.arrays().items()
        }

    def predict(
        self, X: np.ndarray, *, var: bool = True, n_threads: int = 1, projector: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """As `ForestPredictor.predict`, with one relevant output per arm."""
        results = [forest.predict(X, var=var, n_threads=n_threads) for forest in self.forests_]
        theta = np.column_stack([point[:, 0] for point, _ in results])
        variance = np.column_stack([spread[:, 0] for _, spread in results]) if var else None
        if projector is None:
            return theta, variance
        point = np.einsum("ij,ij->i", theta, projector)[:, None]
        if not var:
            return point, None
        return point, np.einsum("ij,ij->i", variance, projector**2)[:, None]
