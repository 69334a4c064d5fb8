"""Scoring with a fitted model: effects of raw tables, and the frames of scored rows.

`predict_uplift` turns any fitted model (`UpliftModel`, `TrainedModel`, `SavedModel`) into the columns every page,
metric and segment reads (uplift with its 95% interval, expected outcomes without and with
treatment), and `predictions_frame` / `score_experiment` put those beside a labelled table's
outcome, treatment and features: the "scored rows" that evaluation and decisions work on.
`score_rows` adds to any table the columns a batch scoring run writes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from impactiq.data.experiment import Experiment
from impactiq.errors import ImpactIQError
from impactiq.uplift.arms import arm_columns, best_arm

# Columns of a predictions frame; a feature may not use these names.
PREDICTION_COLUMNS = ("y", "t", "uplift", "uplift_lower", "uplift_upper", "y0_pred", "y1_pred", "tau")

# Columns that evaluation and decisions read from scored rows.
REQUIRED_COLUMNS = ("y", "t", "uplift", "uplift_upper", "y0_pred", "y1_pred")


def predict_uplift(model, X: pd.DataFrame) -> pd.DataFrame:
    """Uplift, its 95% interval (NaN without intervals) and expected outcomes of each row of X.

    `model` is an `UpliftModel` (X: encoded-ready features) or anything with the same methods
    taking a raw table (`TrainedModel`, `SavedModel`). The index of X is kept.
    """
    if model.has_intervals:
        uplift, lower, upper = (
            np.asarray(a, dtype=np.float64) for a in model.effect_with_interval(X, alpha=0.05)
        )
    else:
        uplift = np.asarray(model.effect(X), dtype=np.float64)
        lower = upper = np.full(len(X), np.nan)
    y0, y1 = (np.asarray(a, dtype=np.float64) for a in model.predict_outcomes(X, uplift=uplift))
    return pd.DataFrame(
        {"uplift": uplift, "uplift_lower": lower, "uplift_upper": upper, "y0_pred": y0, "y1_pred": y1},
        index=X.index,
    )


def score_rows(model_like, rows: pd.DataFrame) -> pd.DataFrame:
    """A copy of `rows` with the columns `python -m impactiq score` writes.

    Two arms: uplift, and uplift_lower and uplift_upper when the model has intervals. Several
    arms: each arm's uplift and 95% interval (`arms.arm_columns`), and `best_arm`: the arm with
    the largest estimated uplift, or the control value when none is positive. One machine and
    Ray's tasks (`cluster.map_in_order`) both score with this, so they write the same file; the
    copy also makes rows writable that Ray hands over read-only from its object store.
    """
    scored = rows.copy()
    if model_like.arms:
        point, lower, upper = model_like.effect_by_arm_with_interval(scored, alpha=0.05)
        for k, arm in enumerate(model_like.arms):
            names = arm_columns(arm)
            scored[names["uplift"]] = point[:, k]
            scored[names["uplift_lower"]] = lower[:, k]
            scored[names["uplift_upper"]] = upper[:, k]
        control = ", ".join(map(str, model_like.schema.control_values))
        scored["best_arm"] = best_arm(point, model_like.arms, control)
    elif model_like.has_intervals:
        scored["uplift"], scored["uplift_lower"], scored["uplift_upper"] = model_like.effect_with_interval(
            scored, alpha=0.05
        )
    else:
        scored["uplift"] = model_like.effect(scored)
    return scored


def predictions_frame(
    model, X: pd.DataFrame, y: np.ndarray, t: np.ndarray, tau: np.ndarray | None
) -> pd.DataFrame:
    """One row per scored row: its features, then y, t, uplift with its 95% interval, predicted
    outcomes and tau.

    The features stay beside the predictions because segments and simulator presets are built
    from them (feature names may not clash with these columns: see `PREDICTION_COLUMNS`).
    """
    predicted = predict_uplift(model, X)
    columns = {
        "y": np.asarray(y, dtype=np.float64),
        "t": np.asarray(t, dtype=np.int8),
        **{name: predicted[name].to_numpy() for name in predicted.columns},
    }
    if tau is not None:
        columns["tau"] = np.asarray(tau, dtype=np.float64)
    # Categorical features keep their dtype (and so their categories) in the frame.
    return X.reset_index(drop=True).assign(**columns)


def score_experiment(model_like, experiment: Experiment) -> pd.DataFrame:
    """A labelled experiment scored like a model's holdout: predictions, y, t and the features.

    `model_like` is a `TrainedModel` or `SavedModel`; its own outcome is read from the
    experiment. The frame has the columns of `predictions_frame` (features included), so it
    can be evaluated and segmented exactly as a holdout.
    """
    outcome = model_like.outcome
    if outcome not in experiment.schema.outcomes:
        raise ImpactIQError(
            f"The table has no outcome '{outcome}', which the model predicts; score a table that holds it."
        )
    features = model_like.features(experiment.frame)
    return predictions_frame(
        model_like, features, experiment.y(outcome), experiment.t, experiment.tau(outcome)
    )


def check_scored(frame: pd.DataFrame) -> None:
    """Refuse anything but a non-empty frame of scored rows (see `REQUIRED_COLUMNS`)."""
    if not isinstance(frame, pd.DataFrame):
        raise ImpactIQError(f"Pass the scored rows as a pandas DataFrame; got {type(frame).__name__}.")
    lacking = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if lacking:
        raise ImpactIQError(
            f"The scored rows lack the column(s) {', '.join(map(repr, lacking))}. Segment a model's holdout "
            "or a table scored with `score_experiment`, which hold y, t, uplift, y0_pred and y1_pred."
        )
    if len(frame) == 0:
        raise ImpactIQError("There are no scored rows to segment; score a table with at least one row.")
