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
from impactiq.evaluation.metrics import aipw_scores
from impactiq.evaluation.splits import VALIDATION_SHARE, training_split, validation_split
from impactiq.evaluation.validation import best_linear_predictor
from impactiq.uplift.scoring import predictions_frame

# The estimator name that picks one of `COMPARED` by validation loss (`training.train_model`).
AUTO = "auto"
AUTO_DESCRIPTION = (
    "Auto: fit all six estimators on the training rows less a validation fold and keep the one with the "
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
    synthetic data `pehe`, the root mean squared error against the true effect (else None)."""

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
        "doubly robust loss on the validation fold: mean of (AIPW score - uplift)^2, nuisance LightGBM "
        "per arm fitted on the fit rows, known propensity; lower is better; differences paired"
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
    estimators=COMPARED,
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

    `use_ray` runs the fits' cross-fitting on Ray (`UpliftModel`); the losses are the same.
    """
    from impactiq.uplift.estimators import ESTIMATORS, UpliftModel

    report = on_step or (lambda step: None)
    check_outcome(experiment, outcome)
    if experiment.arm is not None:
        raise ImpactIQError(
            "Estimators are compared on one treatment against control. For a multi-arm experiment, pool "
            "the arms or keep one arm on the Data page, and compare there."
        )
    unknown = [e for e in estimators if e not in ESTIMATORS]
    if unknown or not estimators:
        raise ImpactIQError(
            f"Compare one or more of {', '.join(ESTIMATORS)}; got {', '.join(map(repr, unknown)) or 'none'}."
        )
    schema = restrict_features(experiment.schema, features)
    binary = schema.is_binary(outcome)
    rows, train, holdout = training_split(experiment, outcome, sample=sample, test_size=test_size, seed=seed)
    fit_rows, validation_rows = validation_split(rows, train, outcome, share=validation_share, seed=seed)
    X = rows.frame[list(schema.features)]
    y, t = rows.y(outcome), rows.t

    report("fitting the validation loss's outcome models")
    nuisance = UpliftModel(
        estimator="t_learner", binary_outcome=binary, random_state=seed, n_bootstrap=0, use_ray=use_ray
    )
    nuisance.fit(y[fit_rows], t[fit_rows], X.iloc[fit_rows])
    y0, y1 = nuisance.predict_outcomes(X.iloc[validation_rows])
    propensity = float(t[fit_rows].mean())
    score = aipw_scores(y[validation_rows], t[validation_rows], y0, y1, propensity)

    losses, shown = {}, {}
    average = float(
        aipw_scores(y[fit_rows], t[fit_rows], *nuisance.predict_outcomes(X.iloc[fit_rows])).mean()
    )
    losses[AVERAGE_EFFECT] = (score - average) ** 2
    tau = rows.tau(outcome)
    for estimator in estimators:
        report(f"fitting {estimator}")
        model = UpliftModel(
            estimator=estimator, binary_outcome=binary, random_state=seed, n_bootstrap=0, use_ray=use_ray
        )
        started = time.perf_counter()
        model.fit(y[fit_rows], t[fit_rows], X.iloc[fit_rows])
        seconds = time.perf_counter() - started
        losses[estimator] = (score - model.effect(X.iloc[validation_rows])) ** 2
        scored = predictions_frame(
            model, X.iloc[holdout], y[holdout], t[holdout], None if tau is None else tau[holdout]
        )
        shown[estimator] = (seconds, _holdout_scores(scored, binary, n_boot, seed))
    chosen = min(estimators, key=lambda e: float(losses[e].mean()))
    candidates = []
    for name, loss in losses.items():
        seconds, scores = shown.get(name, (0.0, {}))
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
                **scores,
            )
        )
    return Comparison(candidates, chosen, len(fit_rows), len(validation_rows), len(holdout))


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
