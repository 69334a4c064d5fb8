"""How good a model is on rows it never saw: every holdout score with its 95% interval.

`holdout_metrics` turns a frame of scored rows (`impactiq.uplift.scoring.predictions_frame`)
into the scores the Train page, the saved model and the command line report; `evaluate_model`
does the same for any fitted model on any labelled table. Metric definitions follow
scikit-uplift (see `impactiq.evaluation.metrics`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from impactiq.data.experiment import Experiment, check_outcome
from impactiq.errors import ImpactIQError
from impactiq.evaluation import metrics
from impactiq.intervals import difference_in_means, mean_interval
from impactiq.uplift.arms import arm_view_frame, score_arm_experiment
from impactiq.uplift.scoring import predictions_frame

# The share of top-ranked rows at which `uplift_at_k` is reported.
TOP_K = (0.1, 0.3)
# Bootstrap replicates behind each metric's percentile interval.
N_BOOT = 200


def holdout_metrics(holdout: pd.DataFrame, *, binary: bool, n_boot: int = N_BOOT, seed: int = 0) -> dict:
    """Every score of a predictions frame (see `predictions_frame`) as plain JSON-ready values.

    Ranking scores (Qini and uplift AUC, uplift at the top k for both strategies, mean
    predicted uplift) carry percentile bootstrap 95% intervals from `n_boot` replicates drawn
    within each arm (of at most `metrics.BOOTSTRAP_MAX_ROWS` rows each, rescaled: see
    `metrics.bootstrap_ci`). `ate` is the doubly robust (AIPW) average effect on these rows built
    from the model's predicted outcomes, with its normal 95% interval; `naive_ate` the
    difference in means with its Welch interval: a model whose `ate` disagrees with it is
    biased. With the true effect (synthetic data): pehe, the 95% interval's coverage, the true
    average effect and the bias of the mean predicted uplift. A score that is undefined on
    these rows holds its reason in `unavailable` instead of a number.
    """
    y, t, uplift = (holdout[c].to_numpy() for c in ("y", "t", "uplift"))
    boot = {"n_boot": n_boot, "seed": seed}
    result = {
        "definition": "scikit-uplift 0.5 (sklift.metrics): curves at distinct scores, "
        "(area - random) / (perfect - random); intervals: percentile bootstrap within arms"
        + (
            f" of {metrics.BOOTSTRAP_MAX_ROWS:,} rows each, rescaled (m-out-of-n)"
            if len(holdout) > metrics.BOOTSTRAP_MAX_ROWS
            else ""
        ),
        "n_rows": len(holdout),
        "n_treated": int(np.count_nonzero(t == 1)),
        "n_control": int(np.count_nonzero(t == 0)),
        "qini_auc_score": _bootstrapped(metrics.qini_auc_score, y, uplift, t, **boot),
    }
    if binary:
        result["uplift_auc_score"] = _bootstrapped(metrics.uplift_auc_score, y, uplift, t, **boot)
    else:
        result["uplift_auc_score"] = {"unavailable": "the uplift AUC is defined for 0/1 outcomes only"}
    result["uplift_at_k"] = {
        strategy: {
            f"{k:g}": _bootstrapped(metrics.uplift_at_k, y, uplift, t, strategy=strategy, k=k, **boot)
            for k in TOP_K
        }
        for strategy in metrics.STRATEGIES
    }
    result["mean_uplift"] = _bootstrapped(_mean_uplift, y, uplift, t, **boot)
    result["ate"] = _doubly_robust_ate(holdout)
    result["naive_ate"] = _difference_in_means(y, t)
    if "tau" in holdout:
        tau = holdout["tau"].to_numpy()
        result["true_ate"] = float(tau.mean())
        result["ate_error"] = metrics.ate_error(tau, uplift)
        result["pehe"] = metrics.pehe(tau, uplift)
        if holdout["uplift_lower"].notna().all():
            result["interval_coverage"] = metrics.interval_coverage(
                tau, holdout["uplift_lower"], holdout["uplift_upper"]
            )
    return result


def decile_table(holdout: pd.DataFrame) -> pd.DataFrame:
    """Observed against predicted uplift by decile of predicted uplift (`metrics.uplift_by_decile`)."""
    return metrics.uplift_by_decile(holdout["y"], holdout["uplift"], holdout["t"], bins=10)


def evaluate_model(
    model_like, experiment: Experiment, outcome: str, *, n_boot: int = N_BOOT, seed: int = 0
) -> dict:
    """The holdout metrics of `train_model`, for any fitted model on any labelled experiment.

    `model_like` is a `TrainedModel`, a `SavedModel` or an `UpliftModel`: anything with
    `feature_names_in_`, `effect`, `effect_with_interval`, `predict_outcomes` and `has_intervals`.
    Scoring a model on its own training rows overstates it; pass rows it never saw.
    """
    check_outcome(experiment, outcome)
    names = list(model_like.feature_names_in_)
    lacking = [c for c in names if c not in experiment.frame.columns]
    if lacking:
        raise ImpactIQError(
            f"The table lacks the feature column(s) {', '.join(map(repr, lacking))} that the model was "
            "trained on. Evaluate on a table with the same columns as the training data."
        )
    tau = experiment.tau(outcome)
    frame = predictions_frame(model_like, experiment.frame[names], experiment.y(outcome), experiment.t, tau)
    return holdout_metrics(frame, binary=experiment.schema.is_binary(outcome), n_boot=n_boot, seed=seed)


def evaluate_arms(
    model_like, experiment: Experiment, outcome: str, *, n_boot: int = N_BOOT, seed: int = 0
) -> dict[str, dict]:
    """`evaluate_model` for a multi-arm model: each arm's metrics against control, by arm name.

    Each arm is judged on the rows of control and that arm, exactly as training judges it.
    """
    check_outcome(experiment, outcome)
    scored = score_arm_experiment(model_like, experiment, outcome)
    binary = experiment.schema.is_binary(outcome)
    return {
        arm: holdout_metrics(
            arm_view_frame(scored, experiment.arm_names, arm), binary=binary, n_boot=n_boot, seed=seed
        )
        for arm in experiment.arm_names
    }


def _mean_uplift(y, uplift, t) -> float:
    """The average predicted uplift (a metric function for `metrics.bootstrap_ci`)."""
    return float(np.mean(uplift))


def _bootstrapped(metric, y, uplift, t, *, n_boot: int, seed: int, **kwargs) -> dict:
    """{estimate, lower, upper} of `metric` with its bootstrap 95% interval, or why not."""
    try:
        estimate, lower, upper = metrics.bootstrap_ci(
            metric, y, uplift, t, n_boot=n_boot, seed=seed, **kwargs
        )
    except ImpactIQError as error:
        return {"unavailable": str(error)}
    return {"estimate": estimate, "lower": lower, "upper": upper}


def aipw_scores_of(frame: pd.DataFrame, propensity: float | None = None) -> np.ndarray:
    """Each scored row's doubly robust effect score (`metrics.aipw_scores` on a predictions frame)."""
    return metrics.aipw_scores(frame["y"], frame["t"], frame["y0_pred"], frame["y1_pred"], propensity)


def _doubly_robust_ate(holdout: pd.DataFrame) -> dict:
    """AIPW average effect with the model's predicted outcomes and the observed treated share.

    In a randomized experiment the propensity is the treated share, so the estimate is
    unbiased even where the outcome predictions are off; good predictions only narrow it.
    """
    mean = mean_interval(aipw_scores_of(holdout))
    return {
        "estimate": mean.estimate,
        "lower": mean.lower,
        "upper": mean.upper,
        "method": "doubly robust (AIPW) with the model's predicted outcomes; normal 95% interval",
    }


def _difference_in_means(y: np.ndarray, t: np.ndarray) -> dict:
    """Treated mean minus control mean with its Welch (unpooled) normal 95% interval."""
    difference = difference_in_means(y, t)
    return {
        "estimate": difference.estimate,
        "lower": difference.lower,
        "upper": difference.upper,
        "method": "difference in means",
    }
