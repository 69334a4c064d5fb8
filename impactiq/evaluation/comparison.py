"""Which estimator to trust on this data: several fitted on one split, side by side, and `auto`.

Every candidate is fitted on the same rows (the training rows less a validation fold) and
judged twice: on the validation fold by a loss that needs no true effect, and on the holdout by
the scores every model reports (Qini and uplift at the top 30% with intervals, the best linear
predictor's calibration slope). `auto` picks by the validation loss alone, so the holdout, which
reports the final numbers, plays no part in the choice.

The loss is the doubly robust (DR) loss of Saito and Yasui (2020) and EconML's DRTester: the mean
squared difference between each validation row's doubly robust score and the model's uplift.
The score is unbiased for the row's effect, so the loss estimates the model's mean squared error
plus a constant that is the same for every model: differences between models are what count,
and their standard errors are paired (each row's loss difference). Its nuisance (each arm's
expected outcome) is a LightGBM model per arm fitted on the fit rows, and the propensity is the
design's treated share, as everywhere in ImpactIQ. The average effect alone ("no model") is a
row of its own: a model that does not beat it has found no heterogeneity worth using.

With the arms of an experiment kept apart, the candidates are the estimators that model several
arms, each row has a doubly robust score per arm (`metrics.arm_aipw_scores`, each arm's known
share its propensity), and a row's loss is its squared differences averaged over the arms: one
number judges the model of every arm, and the choice is one estimator for all of them, as the
model that is saved is one. The holdout columns are each arm's against control.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from impactiq.data.experiment import Experiment, check_outcome
from impactiq.data.schema import restrict_features
from impactiq.errors import ImpactIQError
from impactiq.evaluation.holdout import holdout_metrics
from impactiq.evaluation.metrics import arm_aipw_scores
from impactiq.evaluation.splits import VALIDATION_SHARE, training_split, validation_split
from impactiq.evaluation.validation import best_linear_predictor
from impactiq.uplift.arms import arm_view_frame, score_arm_experiment
from impactiq.uplift.scoring import predictions_frame

# The estimator name that picks one of `COMPARED` by validation loss (`training.train_model`).
AUTO = "auto"
AUTO_DESCRIPTION = (
    "Auto: fit every estimator that models this experiment (all six; with the arms kept apart, the four "
    "that model several arms) on the training rows less a validation fold and keep the one with the "
    "smallest doubly robust loss there; the comparison is shown with the result (several times slower)."
)
COMPARED = ("causal_forest", "dr", "linear_dml", "t_learner", "x_learner", "s_learner")
AVERAGE_EFFECT = "average effect"
# Metric intervals of the comparison table: fewer replicates than a model's own report.
COMPARISON_BOOT = 100


@dataclass(frozen=True)
class Candidate:
    """One estimator's showing: `loss` and `loss_se` the DR loss on the validation fold, `excess`
    and `excess_se` its difference from the best candidate's (paired), and on the holdout the
    Qini, uplift at the top 30% and the calibration slope, each {estimate, lower, upper}; on
    synthetic data `pehe`, the root mean squared error against the true effect (else None). For
    a model of several arms those holdout columns are each arm's against control, in `arms`
    ({arm: {qini, uplift_at_30, calibration_slope, pehe}}), and the ones above stay empty."""

    estimator: str
    fit_seconds: float
    loss: float
    loss_se: float
    excess: float
    excess_se: float
    qini: dict = field(default_factory=dict)
    uplift_at_30: dict = field(default_factory=dict)
    calibration_slope: dict = field(default_factory=dict)
    pehe: float | None = None
    arms: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Comparison:
    """Candidates fitted on `n_fit` rows, judged on `n_validation` and `n_holdout` rows; `chosen`
    the one with the smallest validation loss (never the average-effect baseline)."""

    candidates: list[Candidate]
    chosen: str
    n_fit: int
    n_validation: int
    n_holdout: int
    loss_definition: str = (
        "doubly robust loss on the validation fold: mean of (AIPW score - uplift)^2 (with several arms "
        "averaged over the arms), nuisance LightGBM per arm fitted on the fit rows, known propensity; lower "
        "is better; differences paired"
    )

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Comparison:
        return cls(**{**data, "candidates": [Candidate(**c) for c in data["candidates"]]})


def compare_estimators(
    experiment: Experiment,
    outcome: str,
    *,
    estimators=None,
    features=None,
    sample: int | None = None,
    test_size: float = 0.3,
    seed: int = 0,
    validation_share: float = VALIDATION_SHARE,
    n_boot: int = COMPARISON_BOOT,
    use_ray: bool = False,
    on_step: Callable[[str], None] | None = None,
) -> Comparison:
    """Fit each of `estimators` on the same rows and judge them (see the module).

    By default every estimator that models the experiment: all of `COMPARED`, or for an
    experiment with separate arms the `MULTI_ARM_ESTIMATORS`. `use_ray` runs the fits'
    cross-fitting on Ray (`UpliftModel`); the losses are the same.
    """
    from impactiq.uplift.estimators import UpliftModel

    report = on_step or (lambda step: None)
    check_outcome(experiment, outcome)
    estimators = _candidates(experiment, estimators)
    schema = restrict_features(experiment.schema, features)
    binary = schema.is_binary(outcome)
    rows, train, holdout = training_split(experiment, outcome, sample=sample, test_size=test_size, seed=seed)
    fit_rows, validation_rows = validation_split(rows, train, outcome, share=validation_share, seed=seed)
    X = rows.frame[list(schema.features)]
    y = rows.y(outcome)
    treatment = rows.t if rows.arm is None else rows.arm

    report("fitting the validation loss's outcome models")
    nuisance = UpliftModel(
        estimator="t_learner", binary_outcome=binary, random_state=seed, n_bootstrap=0, use_ray=use_ray
    )
    nuisance.fit(y[fit_rows], treatment[fit_rows], X.iloc[fit_rows])
    shares = [float(np.mean(treatment[fit_rows] == k)) for k in range(int(treatment.max()) + 1)]

    def scores(positions: np.ndarray) -> np.ndarray:
        outcomes = nuisance.predict_arm_outcomes(X.iloc[positions])  # (rows, arms + 1), one arm too
        return arm_aipw_scores(y[positions], treatment[positions], outcomes, shares)

    score = scores(validation_rows)
    losses, shown = {AVERAGE_EFFECT: _row_loss(score, scores(fit_rows).mean(axis=0))}, {}
    for estimator in estimators:
        report(f"fitting {estimator}")
        model = UpliftModel(
            estimator=estimator, binary_outcome=binary, random_state=seed, n_bootstrap=0, use_ray=use_ray
        )
        started = time.perf_counter()
        model.fit(y[fit_rows], treatment[fit_rows], X.iloc[fit_rows])
        seconds = time.perf_counter() - started
        losses[estimator] = _row_loss(score, model.effect_by_arm(X.iloc[validation_rows]))
        shown[estimator] = (
            seconds,
            _holdout_evidence(model, rows, outcome, X, holdout, binary, n_boot, seed),
        )
    chosen = min(estimators, key=lambda e: float(losses[e].mean()))
    candidates = []
    for name, loss in losses.items():
        seconds, scores_shown = shown.get(name, (0.0, {}))
        mean, se = _mean_se(loss)
        excess, excess_se = _mean_se(loss - losses[chosen])
        candidates.append(
            Candidate(
                estimator=name,
                fit_seconds=seconds,
                loss=mean,
                loss_se=se,
                excess=excess,
                excess_se=excess_se,
                **scores_shown,
            )
        )
    return Comparison(candidates, chosen, len(fit_rows), len(validation_rows), len(holdout))


def _candidates(experiment: Experiment, estimators) -> tuple[str, ...]:
    """The estimators to compare: those asked for, each able to model the experiment."""
    from impactiq.uplift.estimators import ESTIMATORS, MULTI_ARM_ESTIMATORS

    several = experiment.arm is not None
    estimators = tuple(estimators or (MULTI_ARM_ESTIMATORS if several else COMPARED))
    unknown = [e for e in estimators if e not in ESTIMATORS]
    if unknown:
        raise ImpactIQError(
            f"Compare one or more of {', '.join(ESTIMATORS)}; got {', '.join(map(repr, unknown))}."
        )
    one_arm_only = [e for e in estimators if several and e not in MULTI_ARM_ESTIMATORS]
    if one_arm_only:
        raise ImpactIQError(
            f"{', '.join(one_arm_only)} model one treatment against control; with the arms kept apart compare "
            f"{', '.join(MULTI_ARM_ESTIMATORS)}, or pool the arms on the Data page."
        )
    return estimators


def _row_loss(score: np.ndarray, uplift: np.ndarray) -> np.ndarray:
    """Each validation row's squared difference between its doubly robust scores and the uplift,
    averaged over the arms, so that one loss judges a model of every arm at once."""
    return np.mean((score - uplift) ** 2, axis=1)


def _holdout_evidence(
    model, rows: Experiment, outcome, X, holdout, binary: bool, n_boot: int, seed: int
) -> dict:
    """A candidate's holdout columns; with several arms each arm's against control, under `arms`."""
    if rows.arm is None:
        tau = rows.tau(outcome)
        scored = predictions_frame(
            model,
            X.iloc[holdout],
            rows.y(outcome)[holdout],
            rows.t[holdout],
            None if tau is None else tau[holdout],
        )
        return _holdout_scores(scored, binary, n_boot, seed)
    scored = score_arm_experiment(model, rows, outcome, rows=holdout)
    names = rows.arm_names
    return {
        "arms": {
            arm: _holdout_scores(arm_view_frame(scored, names, arm), binary, n_boot, seed) for arm in names
        }
    }


def dr_loss(score: np.ndarray, uplift: np.ndarray) -> tuple[float, float]:
    """The doubly robust loss of predictions `uplift` against rows' AIPW `score`s, with its
    standard error: the mean of (score - uplift)^2 (see the module)."""
    return _mean_se((np.asarray(score, dtype=np.float64) - np.asarray(uplift, dtype=np.float64)) ** 2)


def _mean_se(values: np.ndarray) -> tuple[float, float]:
    """The mean of per-row values and its standard error."""
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(values.size))


def _holdout_scores(scored: pd.DataFrame, binary: bool, n_boot: int, seed: int) -> dict:
    """The comparison's holdout columns for one candidate."""
    metrics = holdout_metrics(scored, binary=binary, n_boot=n_boot, seed=seed)
    try:
        blp = best_linear_predictor(scored)
        slope = {"estimate": blp.slope, "lower": blp.slope_interval[0], "upper": blp.slope_interval[1]}
    except ImpactIQError as error:
        slope = {"unavailable": str(error)}
    return {
        "qini": metrics["qini_auc_score"],
        "uplift_at_30": metrics["uplift_at_k"]["overall"]["0.3"],
        "calibration_slope": slope,
        "pehe": metrics.get("pehe"),
    }
