"""One interface over the uplift estimators ImpactIQ offers, shaped like EconML's.

Every estimator answers the same questions in the same vocabulary: `effect(X)` is the estimated
individual effect of treatment (the uplift), `effect_interval(X, alpha)` its interval,
`predict_outcomes(X)` the expected outcome without and with treatment. Pages, the pipeline and
the benchmarks therefore never branch on which estimator was chosen.

Why the propensity is not learned
---------------------------------
ImpactIQ analyses randomized experiments: whether a user was treated was decided by a coin whose
bias the experimenter set. The propensity is therefore known by design and identical for every
user. Estimating it with a classifier would only add noise (and, with flexible learners,
spurious dependence on X), so every estimator here is handed the known value through
`KnownPropensity`, a classifier that returns a constant. By default that constant is the
treated share of the training data, which is the maximum-likelihood estimate of the coin's bias.

Nuisance models
---------------
Outcome models are LightGBM with modest, fixed settings (100 trees, 31 leaves, learning rate
0.1) and `n_jobs=1` below `THREADED_BOOSTER_ROWS` training rows: on a small shared machine
LightGBM's OpenMP threads slow down several-fold as soon as another process competes for a core,
whereas single-threaded training is steady; the parallelism goes to the forests (threaded and
contention-tolerant) and to bootstrap refits. From a million rows on, each tree's histograms are
large enough for threads to pay: at 3M rows two threads fitted in 14.3 s instead of 24.4 s and
predicted in 6.1 s instead of 9.5 s, with the same predictions.
Binary outcomes use a classifier (EconML's `discrete_outcome=True`) or, where EconML calls
`predict`, a cross-entropy regressor that predicts probabilities.

Intervals
---------
The causal forest and the forest DR learner carry EconML's analytic forest intervals (bootstrap
of little bags: the spread between sub-forests, debiased); LinearDML carries OLS standard errors
of its linear final stage, which are right only if the effect really is linear in the features.
The meta-learners have no analytic intervals, so they get bootstrap intervals: `n_bootstrap`
refits on resamples drawn with replacement within each arm, and a normal interval from the
refits' standard deviation around the full-data estimate. With the 20 or so refits that are
affordable, a normal interval is steadier than reading the 2.5% and 97.5% percentiles off 20
draws, and unlike a percentile interval it always contains the estimate. A bootstrap covers
sampling variation only, not the shrinkage bias of the learners.

Ray
---
With `use_ray=True` the work that splits into independent fits runs as Ray tasks
(`impactiq.uplift.cluster`): the cross-fitting folds of the DML and DR estimators through
EconML's own `use_ray`, and the meta-learners' bootstrap refits through `cluster.map_in_order`.
The final stage (the causal forest's trees, the linear fit) and a meta-learner's one full fit
stay in this process. Every task is seeded as on one machine and LightGBM runs single-threaded
and deterministic, so a model fitted on Ray equals one fitted here.
"""

from __future__ import annotations

import inspect
import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
from econml.dml import CausalForestDML, LinearDML
from econml.dr import ForestDRLearner
from econml.metalearners import SLearner, TLearner, XLearner
from econml.utilities import filter_none_kwargs
from joblib import Parallel, delayed
from lightgbm import LGBMClassifier, LGBMRegressor
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import DataConversionWarning

from impactiq.errors import ImpactIQError
from impactiq.uplift.boosters import TextBooster
from impactiq.uplift.cluster import AUTO, connect, map_in_order
from impactiq.uplift.encoding import FeatureEncoder
from impactiq.uplift.forest import ArmForests, ForestPredictor
from impactiq.uplift.portable import (
    ESTIMATORS,
    MAX_ARMS,
    MAX_INTERVAL_SCALE,
    MIN_INTERVAL_SCALE,
    MULTI_ARM_ESTIMATORS,
    PortableModel,
    normal_quantile,
)

ESTIMATOR_DESCRIPTIONS = {
    "causal_forest": (
        "Causal forest (EconML CausalForestDML): flexible effects with analytic 95% intervals; the default."
    ),
    "linear_dml": (
        "Linear DML (EconML LinearDML): effect linear in the features, fast and easy to read; its "
        "analytic intervals are right only if the effect really is linear, and miss the truth far "
        "more often than 5% when it is not."
    ),
    "dr": (
        "Doubly robust forest (EconML ForestDRLearner): a forest on doubly robust scores with "
        "analytic intervals; the scores weight the smaller arm up, so it is noisier than the causal "
        "forest when the arms are unequal."
    ),
    "t_learner": (
        "T-learner: one LightGBM model per arm, effect = their difference; intervals by "
        "bootstrap refits (sampling error only), no analytic intervals."
    ),
    "x_learner": (
        "X-learner: T-learner refined by imputed effects, suited to unequal arms; intervals by "
        "bootstrap refits (sampling error only), no analytic intervals."
    ),
    "s_learner": (
        "S-learner: one LightGBM model with treatment as a feature; tends to shrink effects to "
        "zero; intervals by bootstrap refits (sampling error only), no analytic intervals."
    ),
}

_ANALYTIC = {
    "causal_forest": "analytic (EconML forest variance, bootstrap of little bags)",
    "dr": "analytic (EconML forest variance, bootstrap of little bags)",
    "linear_dml": "analytic (EconML OLS standard errors of the linear final stage)",
}
_META = {"t_learner": TLearner, "x_learner": XLearner, "s_learner": SLearner}


class _WithoutInSampleScore:
    """An EconML orthogonal learner whose final stage is fitted without scoring it on the training rows.

    After fitting the final stage, econml 0.17's `_OrthoLearner._fit_final` scores it on every
    training row (`score_`); for a forest that is EconML's tree-by-tree walk in Python over all
    rows: 7.4 s of a 51 s causal-forest fit at 1M rows, 27.5 s of 159 s at 3M. ImpactIQ judges
    models on their holdout and never reads `score_`, so this repeats `_fit_final` without it.
    """

    def _fit_final(
        self,
        Y,
        T,
        X=None,
        W=None,
        Z=None,
        nuisances=None,
        sample_weight=None,
        freq_weight=None,
        sample_var=None,
        groups=None,
    ):
        self._ortho_learner_model_final.fit(
            Y,
            T,
            **filter_none_kwargs(
                X=X,
                W=W,
                Z=Z,
                nuisances=nuisances,
                sample_weight=sample_weight,
                freq_weight=freq_weight,
                sample_var=sample_var,
                groups=groups,
            ),
        )
        self.score_ = None


class _CausalForestDML(_WithoutInSampleScore, CausalForestDML):
    pass


class _ForestDRLearner(_WithoutInSampleScore, ForestDRLearner):
    pass


_ECONML_CLASSES = {
    "causal_forest": _CausalForestDML,
    "linear_dml": LinearDML,
    "dr": _ForestDRLearner,
    **_META,
}
# The estimators whose nuisance models are cross-fitted, fold by fold: EconML's `use_ray` applies.
_CROSS_FITTED = ("causal_forest", "linear_dml", "dr")

# Cross-fitting folds. Two folds halve the nuisance cost of three; with a known propensity the
# only nuisance is E[Y|X], which LightGBM learns well from half the data.
_CV = 2
# Training rows from which the LightGBM nuisance models use threads (see the module docstring).
THREADED_BOOSTER_ROWS = 1_000_000
_MIN_ROWS_PER_ARM = 20
# Forest sizing (see `forest_params`), calibrated on the Criteo-like synthetic data at 100k-1M rows.
_FOREST_TREES = 200
_TREE_ROWS_SCALE = 10.0
_TREE_ROWS_POWER = 0.6
_LEAF_DIVISOR = 6.0
_MIN_LEAF = 5
SEVERAL_ARMS_LEAF = 50
_SEVERAL_ARMS_TREES = 300


def forest_params(n_rows: int, n_arms: int = 1) -> dict[str, Any]:
    """Final-stage forest settings that grow with the training size.

    Generalized random forests grow each tree on a subsample of s = n^beta rows with beta < 1
    (Athey, Tibshirani and Wager 2019), so the cost of a tree grows far slower than the data
    while every row still enters the nuisance fits and, through different subsamples, the forest.
    Here s = 10 n^0.6 (10k rows at 100k, 40k at 1M), capped at 45% of the data, the most the
    interval theory and EconML allow. Leaves hold at least sqrt(n)/6 rows (53 at 100k, 167 at
    1M): an effect on a rare binary outcome is a difference of two small rates, leaves of a few
    rows make it noise, and leaves too large smooth real differences away. Smaller leaves (sqrt(n)/10
    or /16) had a larger error against the truth on the Criteo-like data and on every design of
    `data.designs` (10-40% more), so the leaves stay this size and the bias they leave is what the
    interval calibration accounts for (`evaluation.calibration`, bench/bench_coverage.py). The 200
    trees (a multiple of EconML's sub-forest size 4) keep the forest's Monte Carlo noise small next
    to its sampling error. `criterion="het"` splits on effect heterogeneity, as in the paper; on
    the Criteo-like data it gave a slightly lower error than EconML's default "mse" at each size
    we compared (100k, 300k, 1M).

    With several treated arms the forest grows leaves of 50 rows at every size, and 300 trees.
    Its leaves are split for all arms at once, so an arm's effect is smoothed over leaves cut for
    the others' differences. On the three-channel synthetic data at 1M rows, with leaves of three
    times one arm's size (the size that followed the truth most closely), that bias came to 0.87,
    0.65 and 0.46 of the forest's standard error for e-mail, social and display, while the
    standard errors overstated the sampling spread about twofold for every arm (four data sets,
    each model scored on one holdout). The bias lies in structure finer than a forest of that data
    resolves, so no simulated twin could tell the arms apart: coverage was e-mail 0.93-0.94 but
    display 0.97-0.999, and 0.98-0.99 for e-mail at 100k rows. Leaves small enough that the bias
    stays inside the sampling spread leave the spread as the error, which a twin measures without
    any truth (`evaluation.calibration`). Leaves of sqrt(n)/6 (167 at 1M) or 5 n^0.2 (79) still
    let e-mail's bias pull its calibrated coverage to 0.84-0.92 and 0.89 at 1M rows; leaves of 50
    kept every arm within 0.90-0.98 on three data sets at 1M rows (0.92-0.96) and five at 100k
    (0.90-0.98; bench/bench_channels.py). The price is accuracy: at 1M rows e-mail's estimates correlate
    0.46-0.55 with the truth, against 0.73 with the large leaves, and the recommended channel is
    the truly best one for 59-64% of users against 65-72%. Small leaves make each tree noisier, so the
    forest grows half as many trees again: 400 took the fit to 2.0 times the single-arm fit on the
    same rows, the most bench/bench_channels.py allows; 300 took it to 1.6-1.7 times.
    """
    tree_rows = _TREE_ROWS_SCALE * n_rows**_TREE_ROWS_POWER
    several = n_arms > 1
    return {
        "n_estimators": _SEVERAL_ARMS_TREES if several else _FOREST_TREES,
        "max_samples": min(0.45, tree_rows / n_rows),
        "min_samples_leaf": SEVERAL_ARMS_LEAF
        if several
        else max(_MIN_LEAF, round(math.sqrt(n_rows) / _LEAF_DIVISOR)),
    }


def _fit_econml(estimator: str, params: dict[str, Any], y: np.ndarray, t: np.ndarray, features: np.ndarray):
    """The EconML estimator named `estimator`, built with `params` and fitted on (y, t, features)."""
    est = _ECONML_CLASSES[estimator](**params)
    if estimator in _META:
        est.fit(y, t, X=features)
        return est
    with warnings.catch_warnings():
        # EconML hands binary outcomes to the classifier as a column vector; harmless.
        warnings.simplefilter("ignore", DataConversionWarning)
        est.fit(y, t, X=features, W=None)
    # On Ray, EconML keeps its tasks' results referenced from the fitted estimator (`nuisances_ref`),
    # which would pin them in the cluster's object store for as long as the model lives.
    vars(est).pop("nuisances_ref", None)
    return est


def _refit_on_resample(resampling: tuple, b: int):
    """Bootstrap refit `b`: the estimator fitted on rows drawn with replacement within each arm.

    `resampling` is (estimator, params, y, t, features, rows of each arm, random_state). A
    module-level function seeded by (random_state, b) alone, so a thread here and a Ray task on
    another machine draw the same rows and fit the same model.
    """
    estimator, params, y, t, features, arms, seed = resampling
    rng = np.random.default_rng([seed, b])
    rows = np.concatenate([rng.choice(idx, size=idx.size, replace=True) for idx in arms])
    return _fit_econml(estimator, params, y[rows], t[rows], features[rows])


class NotFittedError(ImpactIQError, AttributeError):
    """A model was asked for estimates before `fit`; like scikit-learn's, also an AttributeError."""


class KnownPropensity(ClassifierMixin, BaseEstimator):
    """A 'classifier' that returns the known treatment probabilities for every row.

    It stands in for EconML's propensity model: in a randomized experiment the probability of
    treatment is set by design, so there is nothing to learn (see the module docstring).
    `propensity` is the treated share of a two-arm experiment; `shares`, when given, the share
    of every arm (control first) of a multi-arm one.
    """

    def __init__(self, propensity: float = 0.5, shares: tuple[float, ...] | None = None):
        self.propensity = propensity
        self.shares = shares

    def fit(self, X, y, sample_weight=None):
        self.classes_ = np.unique(y)
        return self

    def _probabilities(self) -> np.ndarray:
        if self.shares is not None:
            return np.asarray(self.shares, dtype=np.float64)
        return np.array([1.0 - self.propensity, self.propensity])

    def predict_proba(self, X) -> np.ndarray:
        return np.tile(self._probabilities(), (len(X), 1))

    def predict(self, X) -> np.ndarray:
        return np.full(len(X), self.classes_[int(np.argmax(self._probabilities()))])


class UpliftModel(BaseEstimator):
    """An uplift estimator: fit on (y, t, X), then estimate individual effects with intervals.

    Parameters (keyword-only, stored unchanged; everything learned ends in `_`):
    - estimator: one of `ESTIMATORS`.
    - binary_outcome: True for 0/1 outcomes (visit, conversion); False for amounts (spend).
    - propensity: the known probability of treatment; None means the treated share of the
      training data (the experiment's design, estimated without a model). With several arms
      it must be None: each arm's share of the training data is its known probability.
    - random_state: seed for every random choice (folds, forests, LightGBM, bootstrap).
    - n_jobs: threads for forests and bootstrap refits (joblib semantics, -1 = all cores).
    - n_bootstrap: refits for the meta-learners' bootstrap intervals; 0 means no intervals.
    - params: keyword overrides for the EconML estimator's constructor (for example
      `{"n_estimators": 400}` for the causal forest), applied over the defaults.
    - use_ray: run cross-fitting folds and bootstrap refits as Ray tasks (see the module
      docstring), on the Ray this process is connected to, or a local one started for it.
    """

    def __init__(
        self,
        *,
        estimator: str = "causal_forest",
        binary_outcome: bool = True,
        propensity: float | None = None,
        random_state: int = 0,
        n_jobs: int = -1,
        n_bootstrap: int = 20,
        params: dict[str, Any] | None = None,
        use_ray: bool = False,
    ):
        self.estimator = estimator
        self.binary_outcome = binary_outcome
        self.propensity = propensity
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.n_bootstrap = n_bootstrap
        self.params = params
        self.use_ray = use_ray

    # ---------------------------------------------------------------- fitting
    def fit(self, y, t, X: pd.DataFrame) -> UpliftModel:
        """Learn the encoding, the nuisance models and the effect model from one experiment.

        `t` is 0 for control and 1 for treated; for a multi-arm experiment, k for the k-th arm
        (1..K). Several arms are fitted as one model by the causal forest (EconML's categorical
        treatment), with one forest per arm inside the forest DR learner, and per arm inside the
        T- and S-learner; `n_arms_` is K.
        """
        if self.estimator not in ESTIMATORS:
            raise ImpactIQError(
                f"Unknown estimator {self.estimator!r}; choose one of {', '.join(ESTIMATORS)}."
            )
        if self.n_bootstrap < 0:
            raise ImpactIQError(f"n_bootstrap must be 0 or more refits; got {self.n_bootstrap}.")
        encoder = FeatureEncoder().fit(X)
        y, t = self._check_targets(y, t, len(X))
        features = encoder.transform(X)
        n_arms = int(t.max())
        shares = np.bincount(t, minlength=n_arms + 1) / len(t)
        if n_arms > 1 and self.propensity is not None:
            raise ImpactIQError(
                "With several arms the known probabilities are each arm's share of the data; leave "
                "propensity=None."
            )
        propensity = float(np.mean(t > 0)) if self.propensity is None else float(self.propensity)
        if not 0.0 < propensity < 1.0:
            raise ImpactIQError(f"propensity must lie strictly between 0 and 1; got {propensity}.")
        if n_arms == 1:
            shares = np.array([1.0 - propensity, propensity])

        self.encoder_ = encoder
        self.feature_names_in_ = encoder.feature_names_in_
        self.n_features_in_ = len(encoder.feature_names_in_)
        self.categories_ = dict(encoder.categories_)
        self.propensity_ = propensity
        self.n_arms_ = n_arms
        self.arm_shares_ = tuple(float(share) for share in shares)
        # An outcome never below zero in training (a rate, an amount spent) is never predicted below it.
        self.outcome_floor_ = 0.0 if y.min() >= 0 else -np.inf
        self.params_ = self._resolve_params(len(y), propensity)
        if self.use_ray:
            connect(AUTO)
        self.estimator_ = self._fit_one(y, t, features)
        self.bootstrap_estimators_ = self._fit_bootstrap(y, t, features)
        # Predictions go through the exported arrays and trees, so a model scores the same just
        # trained and loaded from disk, where no EconML object exists.
        self.portable_ = self._export()
        return self

    def _check_targets(self, y, t, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
        y = np.asarray(y, dtype=np.float64).ravel()
        t = np.asarray(t).ravel()
        if len(y) != n_rows or len(t) != n_rows:
            raise ImpactIQError(
                f"Outcome ({len(y)} rows), treatment ({len(t)} rows) and features ({n_rows} rows) "
                "must have the same number of rows."
            )
        if not np.all(np.isfinite(y)):
            raise ImpactIQError(
                f"The outcome has {int((~np.isfinite(y)).sum())} missing or infinite value(s); "
                "drop those rows or fill them before training."
            )
        if self.binary_outcome and not np.isin(y, (0.0, 1.0)).all():
            raise ImpactIQError(
                "The outcome is declared binary but holds values other than 0 and 1; set "
                "binary_outcome=False for amounts such as spend."
            )
        codes = np.arange(MAX_ARMS + 1)
        if not np.isin(t, codes).all():
            raise ImpactIQError(
                f"The treatment must be 0 for control and 1 for treated rows (1 to {MAX_ARMS} for the arms "
                "of a multi-arm experiment)."
            )
        t = t.astype(np.int8)
        counts = np.bincount(t, minlength=int(t.max()) + 1)
        n_arms = len(counts) - 1
        if n_arms > 1 and self.estimator not in MULTI_ARM_ESTIMATORS:
            raise ImpactIQError(
                f"The {self.estimator} estimator handles one treated arm here; for {n_arms} arms choose "
                f"{', '.join(MULTI_ARM_ESTIMATORS)}, or pool the arms."
            )
        if n_arms == 0 or counts.min() < _MIN_ROWS_PER_ARM:
            shown = ", ".join(
                f"{count} {'control' if arm == 0 else f'in arm {arm}'}" for arm, count in enumerate(counts)
            )
            raise ImpactIQError(
                f"Training needs at least {_MIN_ROWS_PER_ARM} rows in control and in every arm; got {shown}. "
                "Use more data."
            )
        if self.binary_outcome and np.unique(y).size < 2:
            raise ImpactIQError(
                f"The outcome is {int(y[0])} in every row, so there is no effect to learn; choose "
                "another outcome or more data."
            )
        return y, t

    def _resolve_params(self, n_rows: int, propensity: float) -> dict[str, Any]:
        """The EconML constructor arguments: defaults for this size, then the user's overrides."""
        cls = _ECONML_CLASSES[self.estimator]
        overrides = dict(self.params or {})
        allowed = set(inspect.signature(cls.__init__).parameters) - {"self"}
        unknown = sorted(set(overrides) - allowed)
        if unknown:
            raise ImpactIQError(
                f"{cls.__name__} has no parameter(s) {', '.join(unknown)}; allowed are "
                f"{', '.join(sorted(allowed))}."
            )
        seed = self.random_state
        # Several arms: every arm's known share, and EconML told the arms' codes (control first).
        several = self.n_arms_ > 1
        known = KnownPropensity(propensity, shares=self.arm_shares_ if several else None)
        arms = {"categories": list(range(self.n_arms_ + 1))} if several else {}
        dml = {
            "model_y": self._outcome_model("classifier" if self.binary_outcome else "regressor", n_rows),
            "model_t": known,
            "discrete_outcome": self.binary_outcome,
            "discrete_treatment": True,
            "cv": _CV,
            "random_state": seed,
            **arms,
        }
        if self.estimator == "causal_forest":
            defaults = {
                **dml,
                "drate": False,
                "inference": True,
                "n_jobs": self.n_jobs,
                "criterion": "het",
                **forest_params(n_rows, self.n_arms_),
            }
        elif self.estimator == "linear_dml":
            defaults = dml
        elif self.estimator == "dr":
            defaults = {
                "model_regression": self._outcome_model(
                    "classifier" if self.binary_outcome else "regressor", n_rows
                ),
                "model_propensity": known,
                "discrete_outcome": self.binary_outcome,
                "cv": _CV,
                "n_jobs": self.n_jobs,
                "random_state": seed,
                # Each arm's forest is grown on every row's doubly robust score for that arm, so
                # its leaves estimate one effect: sized as for one arm.
                **forest_params(n_rows),
                **arms,
            }
        else:
            arm_model = self._outcome_model("probability" if self.binary_outcome else "regressor", n_rows)
            if self.estimator == "t_learner":
                defaults = {"models": arm_model, **arms}
            elif self.estimator == "x_learner":
                defaults = {
                    "models": arm_model,
                    "cate_models": self._outcome_model("regressor", n_rows),
                    "propensity_model": known,
                }
            else:
                defaults = {"overall_model": arm_model, **arms}
        resolved = {**defaults, **overrides}
        self._check_ray_repetitions(resolved)
        return resolved

    def _check_ray_repetitions(self, params: dict[str, Any]) -> None:
        """Refuse repeated cross-fitting (`mc_iters` > 1) on Ray, where EconML repeats one split.

        Each repetition should draw new folds from the estimator's random state; on Ray, EconML
        0.17 hands every repetition's task a copy of that state as it was before any draw, so all
        repetitions use the same folds and the result is one fit's (measured: LinearDML with
        mc_iters=2 on Ray equals mc_iters=1 here exactly, and differs from mc_iters=2 here).
        """
        repetitions = params.get("mc_iters") or 1
        if (self.use_ray or params.get("use_ray")) and repetitions > 1:
            raise ImpactIQError(
                f"mc_iters={repetitions} asks for repeated cross-fitting with new folds, but on Ray EconML "
                "0.17 gives every repetition the same folds, so the result would be one repetition's. "
                "Leave mc_iters out of the parameters, or train without Ray."
            )

    def _outcome_model(self, kind: str, n_rows: int):
        """A seeded LightGBM model, threaded only on large data; see the module docstring for the settings."""
        settings = {
            "n_estimators": 100,
            "learning_rate": 0.1,
            "num_leaves": 31,
            "min_child_samples": 100,
            "n_jobs": 1 if n_rows < THREADED_BOOSTER_ROWS else self.n_jobs,
            "random_state": self.random_state,
            "deterministic": True,
            "force_col_wise": True,
            "verbose": -1,
        }
        if kind == "classifier":
            return LGBMClassifier(**settings)
        if kind == "probability":
            return LGBMRegressor(objective="cross_entropy", **settings)
        return LGBMRegressor(**settings)

    def _fit_one(self, y: np.ndarray, t: np.ndarray, features: np.ndarray):
        params = self.params_
        if self.use_ray and self.estimator in _CROSS_FITTED:
            params = {**params, "use_ray": True}
        try:
            return _fit_econml(self.estimator, params, y, t, features)
        except (ValueError, TypeError) as error:
            # The names are checked before fitting; a value is only judged by the library's fit.
            if not self.params:
                raise
            raise ImpactIQError(
                f"The {self.estimator} estimator refused the settings {self.params}: {str(error).rstrip('.')}. "
                "Change them, or leave them out for the defaults."
            ) from error

    def _fit_bootstrap(self, y: np.ndarray, t: np.ndarray, features: np.ndarray) -> list:
        """Refits on resamples drawn with replacement within each arm (meta-learners only)."""
        if self.estimator not in _META or self.n_bootstrap == 0:
            return []
        arms = [np.flatnonzero(t == arm) for arm in range(self.n_arms_ + 1)]
        resampling = (self.estimator, self.params_, y, t, features, arms, self.random_state)
        refits = range(self.n_bootstrap)
        if self.use_ray:
            return list(map_in_order(_refit_on_resample, resampling, refits))
        return Parallel(n_jobs=self.n_jobs, prefer="threads")(
            delayed(_refit_on_resample)(resampling, b) for b in refits
        )

    def _export(self) -> PortableModel:
        """The fitted model's prediction side as arrays and LightGBM text (see `portable`).

        Reads the fitted EconML objects' attributes (econml 0.17): the final forest of the
        causal forest and forest DR learner, LinearDML's final-stage coefficients and their
        covariance, and the LightGBM boosters of the outcome models and meta-learners.
        """
        est = self.estimator_

        def texts(models) -> list[TextBooster]:
            return [TextBooster(model.booster_.model_to_string()) for model in models]

        forest = linear = None
        if self.estimator == "causal_forest":
            forest = ForestPredictor.from_forest(est.model_cate.estimators_[0])
        elif self.estimator == "dr" and self.n_arms_ > 1:
            forest = ArmForests(
                ForestPredictor.from_forest(est.model_cate(T=arm)) for arm in range(1, self.n_arms_ + 1)
            )
        elif self.estimator == "dr":
            forest = ForestPredictor.from_forest(est.model_cate(T=1))
        if self.estimator == "linear_dml":
            # One outcome: the parameters (intercept first) and their covariance, whether EconML
            # keeps an outcome axis (binary outcomes) or not (amounts).
            final = est.model_final_
            n_params = np.shape(final._param)[0]
            linear = (
                np.reshape(np.asarray(final._param, dtype=np.float64), (n_params, -1))[:, 0],
                np.reshape(np.asarray(final._param_var, dtype=np.float64), (-1, n_params, n_params))[0],
            )
        if self.estimator in ("causal_forest", "linear_dml"):
            boosters = {"outcome": texts(m for folds in est.models_y for m in folds)}
        elif self.estimator == "dr":
            boosters = {"outcome_by_arm": texts(m for folds in est.models_regression for m in folds)}
        elif self.estimator == "s_learner":
            boosters = {"overall": texts([est.overall_model])}
        else:
            boosters = {"arms": texts(est.models)}
        if self.estimator == "x_learner":
            boosters["cate"] = texts([est.cate_controls_models[0], est.cate_treated_models[0]])
        refits = [self._effect_models(refit) for refit in self.bootstrap_estimators_]
        if refits:
            boosters["bootstrap"] = texts(m for models in refits for m in models)
        return PortableModel(
            estimator=self.estimator,
            binary_outcome=self.binary_outcome,
            propensity=self.propensity_,
            arm_shares=self.arm_shares_,
            outcome_floor=self.outcome_floor_,
            interval_method=self._interval_method(),
            encoder=self.encoder_,
            boosters=boosters,
            forest=forest,
            linear=linear,
            n_jobs=self.n_jobs,
        )

    def _effect_models(self, est) -> list:
        """The LightGBM models a meta-learner's effect is computed from (see `portable`)."""
        if self.estimator == "t_learner":
            return list(est.models)
        if self.estimator == "x_learner":
            return [est.cate_controls_models[0], est.cate_treated_models[0]]
        return [est.overall_model]

    def _interval_method(self) -> str:
        if self.estimator in _ANALYTIC:
            return _ANALYTIC[self.estimator]
        if not self.bootstrap_estimators_:
            return "none (n_bootstrap=0)"
        return f"bootstrap ({len(self.bootstrap_estimators_)} refits within arms, normal approximation)"

    def set_interval_scale(self, scale: tuple[float, ...], *, asked: tuple[float, ...] | None = None) -> None:
        """Multiply each arm's interval half-width by its factor (learned by
        `evaluation.calibration.calibrate_intervals`); the interval method says so, and, where
        `asked` (the factors the calibration found) differs from `scale`, what was not applied."""
        self._check_fitted()
        if not self.has_intervals:
            raise ImpactIQError(f"The {self.estimator} model has no intervals to calibrate.")
        scale = tuple(float(v) for v in scale)
        if len(scale) != self.n_arms_ or not all(
            MIN_INTERVAL_SCALE <= v <= MAX_INTERVAL_SCALE for v in scale
        ):
            raise ImpactIQError(
                f"Give one interval factor per arm ({self.n_arms_}) between {MIN_INTERVAL_SCALE} and "
                f"{MAX_INTERVAL_SCALE}; got {scale}."
            )
        factors = ", ".join(f"{v:.2f}" for v in scale)
        kept = ""
        if asked is not None and tuple(round(v, 2) for v in asked) != tuple(round(v, 2) for v in scale):
            kept = (
                f"; the twin asked for {', '.join(f'{v:.2f}' for v in asked)}, and a model of several arms "
                "keeps its own width rather than narrow it"
            )
        self.portable_.interval_scale_ = scale
        self.portable_.interval_method = f"{self._interval_method()}; width calibrated on a simulated twin of the data (factor {factors}{kept})"

    # ---------------------------------------------------------------- estimates
    def _check_fitted(self) -> None:
        if not hasattr(self, "portable_"):
            raise NotFittedError(
                "This UpliftModel is not fitted yet: call fit(y, t, X) before asking for effects."
            )

    def _encode(self, X: pd.DataFrame) -> np.ndarray:
        self._check_fitted()
        return self.encoder_.transform(X)

    @property
    def has_intervals(self) -> bool:
        """Whether `effect_interval` can answer (every estimator can, unless n_bootstrap=0)."""
        self._check_fitted()
        return self.portable_.has_intervals

    @property
    def interval_method(self) -> str:
        """How the intervals are computed, in words fit for a report."""
        self._check_fitted()
        return self.portable_.interval_method

    def effect(self, X: pd.DataFrame) -> np.ndarray:
        """Estimated individual effect of treatment for each row of X, shape (n,)."""
        self._check_fitted()
        return self.portable_.effect(X)

    def effect_interval(self, X: pd.DataFrame, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper (1 - alpha) interval bounds of each row's effect, each shape (n,)."""
        _, lower, upper = self.effect_with_interval(X, alpha=alpha)
        return lower, upper

    def effect_with_interval(
        self, X: pd.DataFrame, alpha: float = 0.05
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(effect, lower, upper) of each row, in one pass where the estimator allows.

        The numbers are EconML's own (`effect`, `effect_interval`), computed from the exported
        arrays and trees; for the causal forest one pass over the trees gives both.
        """
        self._check_fitted()
        return self.portable_.effect_with_interval(X, alpha=alpha)

    def ate(self, X: pd.DataFrame) -> float:
        """The estimated average effect over the rows of X (the mean of `effect`)."""
        return float(self.effect(X).mean())

    def ate_interval(self, X: pd.DataFrame, alpha: float = 0.05) -> tuple[float, float]:
        """A (1 - alpha) interval for the average effect over the rows of X.

        Analytic estimators use EconML's `ate_interval`; for the forests its standard error is the
        root mean of the per-row variances, a conservative bound (EconML's own wording) because
        it treats the rows' errors as perfectly correlated. Bootstrap estimators use the spread
        of the refits' averages.
        """
        features = self._encode(X)
        z = normal_quantile(alpha)
        self.portable_.check_single_arm("ate_interval")
        if self.estimator in _ANALYTIC:
            lower, upper = self.estimator_.ate_interval(features, alpha=alpha)
            return float(np.ravel(lower)[0]), float(np.ravel(upper)[0])
        point = self.portable_.effect_of(features).mean()
        spread = z * self.portable_.bootstrap_effects(features).mean(axis=1).std(ddof=1)
        return float(point - spread), float(point + spread)

    def predict_outcomes(
        self, X: pd.DataFrame, uplift: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Expected outcome of each row without and with treatment, `(y0, y1)`; see `portable`."""
        self._check_fitted()
        return self.portable_.predict_outcomes(X, uplift=uplift)

    def effect_by_arm(self, X: pd.DataFrame) -> np.ndarray:
        """Each row's effect of every arm against control, shape (n, n_arms_)."""
        self._check_fitted()
        return self.portable_.effect_by_arm(X)

    def effect_by_arm_with_interval(
        self, X: pd.DataFrame, alpha: float = 0.05
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(effect, lower, upper) of every arm against control, each shape (n, n_arms_)."""
        self._check_fitted()
        return self.portable_.effect_by_arm_with_interval(X, alpha=alpha)

    def compare_arms(
        self, X: pd.DataFrame, first: int, second: int, alpha: float = 0.05
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(difference, lower, upper) of arm `first`'s effect minus arm `second`'s; see `portable`."""
        self._check_fitted()
        return self.portable_.compare_arms(X, first, second, alpha=alpha)

    def predict_arm_outcomes(self, X: pd.DataFrame) -> np.ndarray:
        """Each row's expected outcome under control and every arm, shape (n, n_arms_ + 1)."""
        self._check_fitted()
        return self.portable_.predict_arm_outcomes(X)
