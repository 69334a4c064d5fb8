"""Fast, exact prediction with a fitted EconML causal forest: point, variance, one pass.

EconML's forests predict by looping over its trees in Python, once for the point
estimate and again, per subforest, for the variance; a single profile costs three such passes
and 100-200 ms on two cores, a million rows minutes. The forest is only arrays, though: every
tree stores, per node, the local alpha (`precond`) and jacobian (`jac`) of its moment equation.
Stacking those arrays once lets a compiled loop (`impactiq.uplift.kernels.grf_rows`) walk every
tree for a row and repeat EconML's formulas (`BaseGRF._predict_point_and_var`, econml 0.17):

    alpha(x) = mean_t alpha_t(x),  J(x) = mean_t J_t(x),  theta(x) = pinv(J(x)) alpha(x)
    m_t(x) = J_t(x) theta(x) - alpha_t(x), averaged within each subforest ("little bag")

and the between-bag variance with EconML's within-bag correction and objective-Bayes debiasing.
Tests check the results against EconML's own to 1e-10.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from impactiq.errors import ImpactIQError
from impactiq.uplift.trees import PackedTrees, children_descend, in_threads

# The arrays that make a forest, as `arrays()` returns them and `from_arrays` takes them.
# A forest estimates an effect per treatment arm plus an intercept; more outputs than this is not
# a forest ImpactIQ grew (and would make each row's p x p solve needlessly large).
MAX_OUTPUTS = 32
ARRAY_NAMES = ("roots", "feature", "threshold", "left", "right", "precond", "jac", "slices", "shape")


class ForestPredictor:
    """The node arrays of a fitted `econml.grf` forest, stacked for vectorized prediction.

    Built once from the fitted forest (`from_forest`), saved as plain arrays (`arrays`) and
    rebuilt from them (`from_arrays`) without EconML: nodes of all trees are numbered in one
    sequence, children are node numbers or, for leaves, `-(node + 1)` (see `trees.PackedTrees`).
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
            and (not self.has_variance_ or (n_bags >= 1 and bag_size >= 2 and self._bags_partition_trees()))
            and (
                self.slices_.size == 0 or (self.slices_.min() >= 0 and self.slices_.max() < self.roots_.size)
            )
        )
        if not consistent:
            raise ImpactIQError("The saved forest's arrays do not fit together; the model file is damaged.")

    def _bags_partition_trees(self) -> bool:
        """Whether every tree is in exactly one bag, as EconML's subforests are (and the variance assumes)."""
        return np.array_equal(np.sort(self.slices_.ravel()), np.arange(self.roots_.size))

    def predict(
        self, X: np.ndarray, *, var: bool = True, n_threads: int = 1, projector: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """(theta, variance) of the relevant outputs for each row of X; variance None if not asked.

        theta has shape (n, n_relevant_outputs), variance the same (the diagonal of EconML's
        covariance). With a `projector` (n, n_relevant_outputs), the inner product of theta with
        it instead, and that product's variance, each shape (n, 1): EconML's
        `predict_projection_and_var`, which gives the interval of one arm's effect minus
        another's. Rows are spread over up to `n_threads` threads (the compiled loop releases
        the GIL); each row's result does not depend on how rows are split.
        """
        from impactiq.uplift import kernels

        X = np.ascontiguousarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features_:
            raise ImpactIQError(
                f"The forest expects {self.n_features_} feature columns; got an array of shape {X.shape}."
            )
        if var and not self.has_variance_:
            raise ImpactIQError("This forest was grown without inference, so it has no intervals.")
        relevant = self.n_relevant_outputs_
        if projector is None:
            projector = np.empty((0, relevant))
        else:
            projector = np.ascontiguousarray(projector, dtype=np.float64)
            if projector.shape != (len(X), relevant):
                raise ImpactIQError(
                    f"The projector needs one row per row of X and {relevant} columns; got shape {projector.shape}."
                )
        width = relevant if projector.shape[0] == 0 else 1
        point = np.empty((len(X), width))
        variance = np.empty((len(X), width))
        trees, leaf_data, slices = self._packed
        in_threads(
            len(X),
            lambda start, stop: kernels.grf_rows(
                X,
                trees.nodes,
                trees.roots,
                trees.settle,
                leaf_data,
                self.n_outputs_,
                slices,
                var,
                relevant,
                projector,
                start,
                stop,
                point,
                variance,
            ),
            n_threads,
        )
        return point, (variance if var else None)

    @cached_property
    def _packed(self) -> tuple[PackedTrees, np.ndarray, np.ndarray]:
        """The trees in the compiled walk's layout, each leaf's alpha and jacobian in one row
        (so one row read gives a leaf's whole moment), and the bags; built on first use."""
        trees = PackedTrees(
            self.roots_, self.feature_, self.threshold_, self.left_, self.right_, n_leaves=self.feature_.size
        )
        is_leaf = trees.leaf >= 0
        leaf_data = np.zeros((len(trees.leaf), self.precond_.shape[0] + self.jac_.shape[0]))
        leaf_data[is_leaf] = np.concatenate([self.precond_, self.jac_])[:, trees.leaf[is_leaf]].T
        slices = np.ascontiguousarray(
            self.slices_ if self.has_variance_ else np.zeros((0, 0)), dtype=np.int64
        )
        return trees, leaf_data, slices


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
