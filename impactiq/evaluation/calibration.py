"""Intervals that hold: each arm's interval width calibrated on a simulated twin of the data.

An estimator's own 95% interval is right only under its own assumptions. The causal forest's
variance estimate (bootstrap of little bags) is conservative at the sizes ImpactIQ trains on,
and misses the smoothing bias of its leaves; the bootstrap intervals of the meta-learners miss
their shrinkage. Which of the two wins depends on the data: on the designs of
`data.designs` the uncalibrated forest covered the true effect anywhere from 0.85 to 0.999 of
the time. No real data set shows a row's true effect, so the width cannot be checked against it
directly, and the doubly robust scores are far too noisy to check it row by row.

A twin can be checked. It keeps the real rows' features and treatments and draws new outcomes
from the fitted model: the control outcome the model expects for each row, plus an effect of
the row's arm (for a 0/1 outcome a fresh Bernoulli draw, for an amount the expected value plus
a permuted real residual). In the twin the true effect is known, so the same estimator, refitted
on the twin's fit fold with the same settings, can be scored on the validation fold: the factor
that makes 95% of its standardized errors |estimate - truth| / se fall within 1.96 is the factor
by which the intervals were too wide or too narrow. It is applied to the real model's
intervals, arm by arm.

What the twin can and cannot see: it measures the estimator's variance, and its bias on effects
shaped like the twin's truth. Were that truth the model's own estimate, it would be exactly as
smooth as the model can represent, and the twin would miss the bias of smoothing real jumps
away. The truth is therefore a forest's effect with smaller leaves (`_sharper`), which keeps
more of the real structure: the same forest's for the two forests, a causal forest's for the
linear model and the meta-learners. Bias from structure no model found stays invisible, as to
any method without the truth. The coverage this gives on the designs is in
`bench/bench_coverage.py`: at 40k rows, over three data sets, the X-learner's calibrated
intervals held (0.93-0.97) on all six designs, the S-learner's on five, the T-learner's and
both forests' on four.

The causal forest of several arms is calibrated another way. Its leaves are split for all arms
at once, and with leaves sized for accuracy its bias, in structure too fine for any forest of
the data to resolve, differed from arm to arm: on the three-channel data at 1M rows it came to
0.46-0.87 of the forest's standard error, while those standard errors overstated the sampling
spread about twofold for every arm. The sharper truth could not tell the arms apart: the twin
narrowed e-mail and social by 0.73-0.87 (coverage 0.86-0.91) and left display too wide
(0.97-0.999), and at 100k rows it widened arms that were already too wide. So that forest grows
leaves small enough to keep its bias well inside its spread (`uplift.estimators.forest_params`),
and its twin measures the spread alone, which needs no truth: outcomes are
drawn twice from the fitted model (its own effect), the forest is refitted on each draw, and
the factor makes 95% of the differences between the two refits' estimates, all arms together,
fall within 1.96 of their combined standard error. On the three-channel data every arm's calibrated coverage then
lay within 0.90-0.98 (bench/bench_channels.py: 0.92-0.96 on three data sets at 1M rows, 0.90-0.98
on five at 100k). The other
estimators of several arms keep the sharper truth, and their twin may widen an arm's intervals
but never narrow them.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from impactiq.errors import ImpactIQError
from impactiq.intervals import Z95
from impactiq.uplift.portable import MAX_INTERVAL_SCALE, MIN_INTERVAL_SCALE

# The probabilities a twin's 0/1 outcome is drawn with stay inside this range.
_P_MIN, _P_MAX = 0.001, 0.999
# The twin's truth (see `_twin_effect`): a forest's with leaves `SHARPER` times smaller, the
# model's own kind for these, else a causal forest.
_FORESTS = ("causal_forest", "dr")
SHARPER = 13 / 6
# A twin whose median standard error is below this share of the model's does not resemble the data.
MIN_SE_RATIO = 0.5
# Validation rows below which a 95th percentile of standardized errors is too unsteady to use.
MIN_VALIDATION_ROWS = 200
# The twin's draws come from this child stream of the seed (NumPy's spawn key), never from
# `default_rng(seed)` itself: a data set generated from the same seed, as every synthetic demo
# set is, would hand the twin the very uniforms that drew its features. On the multi-channel
# demo (seed 0, trained with seed 0) the twin's outcomes then followed the "loyal" flag, whose
# draw came first: 13% successes instead of 5%, standard errors 1-10% of the model's.
TWIN_STREAM = 0x7717


TRUTH_METHOD = (
    "factor making 95% of standardized errors fall within 1.96 on a simulated twin (outcomes drawn "
    "from the fitted model, a forest's effect from a sharper forest; the same estimator refitted on "
    "the fit fold, scored on the validation fold); with several arms, only a factor above 1 is applied"
)
SPREAD_METHOD = (
    "factor making 95% of the differences between two simulated twins' estimates, all arms together, "
    "fall within 1.96 of their combined standard error (two sets of outcomes drawn from the fitted model, the same "
    "estimator refitted on each twin's fit fold, scored on the validation fold): the sampling "
    "spread, which the small leaves of a forest of several arms leave as its error"
)


@dataclass(frozen=True)
class IntervalCalibration:
    """Each arm's factor on its interval half-width, the factor the twin asked for (they differ
    where a model of several arms keeps its own width rather than narrow), the twin's coverage
    before calibration, and the method that learned them."""

    scale: tuple[float, ...]
    twin_scale: tuple[float, ...]
    twin_coverage: tuple[float, ...]
    n_fit: int
    n_validation: int
    method: str = TRUTH_METHOD

    def to_dict(self) -> dict:
        return {
            "scale": list(self.scale),
            "twin_scale": list(self.twin_scale),
            "twin_coverage": list(self.twin_coverage),
            "n_fit": self.n_fit,
            "n_validation": self.n_validation,
            "method": self.method,
        }


def calibrate_intervals(
    model,
    y: np.ndarray,
    treatment: np.ndarray,
    X: pd.DataFrame,
    fit_rows,
    validation_rows,
    *,
    seed: int,
) -> IntervalCalibration:
    """Learn `model`'s interval factors on a twin of (y, treatment, X) and apply them to it.

    `model` is a fitted `UpliftModel` with intervals (its factors must still be 1); `treatment`
    is 0/1, or 0..K for K arms; the twin's model is fitted on `fit_rows` and scored on
    `validation_rows` (positions into the arrays). Returns what was learned; `model` now
    carries the factors.
    """
    from impactiq.uplift.estimators import UpliftModel

    if not model.has_intervals:
        raise ImpactIQError(f"The {model.estimator} model has no intervals to calibrate.")
    if len(validation_rows) < MIN_VALIDATION_ROWS:
        raise ImpactIQError(
            f"Calibrating intervals needs at least {MIN_VALIDATION_ROWS} validation rows; there are "
            f"{len(validation_rows)}. Train on more rows."
        )
    rng = twin_generator(seed)
    several = model.n_arms_ > 1
    spread = measures_spread(model)
    effect = _effects(model, X, several)[0] if spread else _twin_effect(model, y, treatment, X, several)
    outcomes = _expected_outcomes(model, effect, X, several)  # (n, arms + 1), control first
    arm = np.asarray(treatment, dtype=np.intp)
    validation = X.iloc[validation_rows]

    def refit_on_twin() -> tuple[np.ndarray, np.ndarray]:
        twin_y = _twin_outcomes(model, outcomes, y, arm, rng)
        twin = UpliftModel(
            estimator=model.estimator,
            binary_outcome=model.binary_outcome,
            random_state=model.random_state,
            n_jobs=model.n_jobs,
            n_bootstrap=model.n_bootstrap,
            params=model.params,
            use_ray=model.use_ray,
        )
        twin.fit(twin_y[fit_rows], arm[fit_rows], X.iloc[fit_rows])
        return _effects(twin, validation, several)

    point, se = refit_on_twin()
    _check_resemblance(se, _effects(model, validation, several)[1])
    if spread:
        other, other_se = refit_on_twin()
        z = _standardized(point - other, np.sqrt(se**2 + other_se**2))
    else:
        truth = outcomes[:, 1:] - outcomes[:, :1]
        z = _standardized(point - truth[validation_rows], se)
    # The spread's factor is one for all arms: the forest's standard errors overstate every arm's
    # spread alike (see the module docstring), and one pair of twins sets an arm's own factor only
    # to within about 0.1 (0.56-0.67 for one arm over three pairs at 100k rows).
    quantile = np.full(z.shape[1], np.quantile(z, 0.95)) if spread else np.quantile(z, 0.95, axis=0)
    needed = np.clip(quantile / Z95, MIN_INTERVAL_SCALE, MAX_INTERVAL_SCALE)
    scale = applied_scale(needed, narrow=spread or not several)
    twin_scale = tuple(float(f) for f in needed)
    coverage = tuple(float(np.mean(z[:, k] <= Z95)) for k in range(z.shape[1]))
    model.set_interval_scale(scale, asked=twin_scale)
    return IntervalCalibration(
        scale,
        twin_scale,
        coverage,
        len(fit_rows),
        len(validation_rows),
        SPREAD_METHOD if spread else TRUTH_METHOD,
    )


def measures_spread(model) -> bool:
    """Whether `model`'s twin measures its sampling spread alone rather than its error against a
    known truth: a causal forest of several arms whose leaves are no larger than the default's,
    which keep its bias small (`uplift.estimators.forest_params`). Larger leaves set by hand (or a
    share of rows) may leave a bias the spread does not show."""
    from impactiq.uplift.estimators import SEVERAL_ARMS_LEAF

    if model.n_arms_ < 2 or model.estimator != "causal_forest":
        return False
    leaf = (model.params or {}).get("min_samples_leaf")
    return leaf is None or (isinstance(leaf, int | np.integer) and leaf <= SEVERAL_ARMS_LEAF)


def applied_scale(needed, *, narrow: bool) -> tuple[float, ...]:
    """The factors applied to the intervals, from those the twin asks for: all of them where a
    factor below 1 may `narrow` the intervals, else only those above 1 (a model of several arms
    other than the causal forest: its twin shows too little of the bias to narrow them; see the
    module docstring)."""
    needed = np.asarray(needed, dtype=np.float64)
    return tuple(float(f) for f in (needed if narrow else np.maximum(needed, 1.0)))


def _standardized(error: np.ndarray, se: np.ndarray) -> np.ndarray:
    """|error| / se, infinite where the standard error is 0 or missing (no interval can cover it)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.abs(error) / se
    return np.where(se > 0, z, np.inf)


def _twin_outcomes(model, outcomes: np.ndarray, y, arm: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw of the twin's outcomes: for a 0/1 outcome a Bernoulli draw with each row's
    probability in its own arm, for an amount that expected value plus a permuted real residual."""
    rows = np.arange(len(arm))
    if model.binary_outcome:  # the probabilities are already inside [_P_MIN, _P_MAX]
        return (rng.uniform(size=len(arm)) < outcomes[rows, arm]).astype(np.float64)
    residual = np.asarray(y, dtype=np.float64) - outcomes[rows, arm]
    return outcomes[rows, arm] + _permuted_within(residual, arm, rng)


def twin_generator(seed: int) -> np.random.Generator:
    """The twin's own random stream of `seed`, independent of `default_rng(seed)`'s."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(TWIN_STREAM,)))


def _twin_effect(model, y, treatment, X: pd.DataFrame, several: bool) -> np.ndarray:
    """Each row's effect of every arm in the twin, (n, arms): for the forests the same forest with
    leaves `SHARPER` times smaller, for the other estimators such a causal forest.

    A twin whose truth is the model's own estimate has effects exactly as smooth as the model can
    represent, so it never shows the bias of smoothing real jumps away and calibrates the
    intervals too narrow: 0.88-0.93 for the forest on the designs with jumps at 40k rows, and 0.45
    for the linear model on the Criteo-like data, whose effect is not linear. Smaller leaves keep
    more of the real structure, and more noise: leaves 13/6 times smaller brought the forest to
    0.94-0.97 on those designs, leaves 16/6 times smaller made it too wide (bench/bench_coverage.py).

    The meta-learners' own estimates are the other way wrong: boosted trees fitted per arm are
    rough, and the twin counts their roughness, which no refit follows, as error. With their own
    truth their calibrated intervals were too wide on most designs (0.97-0.999 at 40k rows, three
    data sets); with the sharper forest's they held on six (X-learner), five (S-learner) and four
    (T-learner) of the six designs.
    """
    return _effects(_sharper(model, y, treatment, X), X, several)[0]


def _check_resemblance(twin_se: np.ndarray, model_se: np.ndarray) -> None:
    """Refuse a twin whose standard errors are far smaller than the model's: it does not resemble
    the data, and a factor learned there would mean nothing. Outcomes drawn from an outcome model
    that follows its own training rows closely are far more predictable than real ones, and so
    were outcomes drawn with the data generator's own uniforms (see `TWIN_STREAM`).
    """
    # EconML's debiased forest variance can be NaN for a row (its truncated-normal correction
    # underflows); such rows say nothing about the spread and are left out.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an arm with no finite value: NaN, refused
        ratio = np.nanmedian(twin_se, axis=0) / np.nanmedian(model_se, axis=0)
    if np.any(~(ratio >= MIN_SE_RATIO)):
        raise ImpactIQError(
            f"The simulated twin does not resemble the data (its standard errors are {np.min(ratio):.0%} of the "
            "model's), so the intervals keep the estimator's own width."
        )


def _effects(model, X: pd.DataFrame, several: bool) -> tuple[np.ndarray, np.ndarray]:
    """(effect, standard error) of every arm, each (n, arms)."""
    point, lower, upper = (
        model.effect_by_arm_with_interval(X)
        if several
        else tuple(part[:, None] for part in model.effect_with_interval(X))
    )
    return point, (upper - lower) / (2.0 * Z95)


def _sharper(model, y, treatment, X: pd.DataFrame):
    """A forest with leaves `SHARPER` times smaller than `model`'s (for an estimator other than the
    forests, a causal forest with leaves that much smaller than the default's), fitted on the same
    rows with the same seed."""
    from impactiq.uplift.estimators import UpliftModel, forest_params

    if model.estimator in _FORESTS:
        estimator, params = model.estimator, dict(model.params or {})
        leaf = model.params_["min_samples_leaf"]
    else:
        # The leaves a causal forest of as many arms had when this truth was measured: one arm's,
        # times the arms (bench/bench_coverage.py; the 3-arm S-learner in bench/bench_channels.py).
        estimator, params = "causal_forest", {}
        leaf = model.n_arms_ * forest_params(len(y))["min_samples_leaf"]
    params["min_samples_leaf"] = max(1, round(leaf / SHARPER))
    sharper = UpliftModel(
        estimator=estimator,
        binary_outcome=model.binary_outcome,
        random_state=model.random_state,
        n_jobs=model.n_jobs,
        params=params,
        use_ray=model.use_ray,
    )
    return sharper.fit(y, treatment, X)


def _expected_outcomes(model, effect: np.ndarray, X: pd.DataFrame, several: bool) -> np.ndarray:
    """Each row's expected outcome under control and every arm, (n, arms + 1): the control
    outcome `model` expects plus the twin's `effect` of each arm.

    For a 0/1 outcome the treated probabilities are the control probability plus the effect, kept
    inside [0.001, 0.999], so the twin's true effect is what the draws carry.
    """
    control = model.predict_arm_outcomes(X)[:, :1] if several else model.predict_outcomes(X)[0][:, None]
    if model.binary_outcome:
        control = np.clip(control, _P_MIN, _P_MAX)
        return np.column_stack([control, np.clip(control + effect, _P_MIN, _P_MAX)])
    return np.column_stack([control, control + effect])


def _permuted_within(residual: np.ndarray, arm: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The residuals shuffled among the rows of each arm: real noise, detached from the features."""
    shuffled = residual.copy()
    for code in np.unique(arm):
        rows = np.flatnonzero(arm == code)
        shuffled[rows] = residual[rng.permutation(rows)]
    return shuffled
