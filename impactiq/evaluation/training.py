"""Training: fit an uplift model on part of an experiment and judge it on the rest.

Training is fitting and judging together, so it sits in the evaluation layer: it draws the
holdout (`impactiq.data.sampling`), fits an `UpliftModel` (`impactiq.uplift.estimators`) on
the rest, scores the holdout (`impactiq.uplift.scoring`) and computes its metrics
(`impactiq.evaluation.holdout`). The `TrainedModel` it returns holds everything the pages and
`save_model` need: the fitted model, the holdout predictions, the metrics with their
intervals, the feature profile a scoring form needs, and a fingerprint of the data.
"""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from impactiq.data.experiment import Experiment, check_outcome
from impactiq.data.fingerprint import fingerprint_experiment
from impactiq.data.schema import Schema, arm_label, restrict_features
from impactiq.errors import ImpactIQError
from impactiq.evaluation.calibration import calibrate_intervals
from impactiq.evaluation.comparison import AUTO, compare_estimators
from impactiq.evaluation.holdout import N_BOOT, decile_table, holdout_metrics
from impactiq.evaluation.splits import training_split, validation_split
from impactiq.uplift.arms import (
    ARM_COLUMN,
    arm_columns,
    arm_view_frame,
    check_arm_names,
    score_arm_experiment,
)
from impactiq.uplift.features import feature_profile
from impactiq.uplift.scoring import PREDICTION_COLUMNS, predictions_frame
from impactiq.uplift.trained import TrainedModel

# Stages reported to `on_stage`, in order.
STAGES = (
    "sampling",
    "splitting holdout",
    "comparing estimators",
    "fitting nuisance and effect models",
    "calibrating intervals",
    "scoring holdout",
    "evaluating",
)
# Training rows above which intervals are not calibrated (`evaluation.calibration`): the twin (a
# sharper forest for its truth, then the estimator refitted) cost 2.2 times the fit at 700k
# training rows and 4.9 times at 1.4M, which on 14M rows would make hours of a ten-minute training.
CALIBRATION_MAX_ROWS = 1_000_000
# What `peak_rss_mb` measures; saved beside the number so nobody reads it as the fit's own cost.
PEAK_RSS_NOTE = (
    "peak resident memory of the whole training process up to the end of the fit "
    "(getrusage ru_maxrss), including data loaded before it; not the fit's own increment"
)


def train_model(
    experiment: Experiment,
    *,
    outcome: str,
    estimator: str = "causal_forest",
    features=None,
    sample: int | None = None,
    test_size: float = 0.3,
    seed: int = 0,
    params: dict | None = None,
    n_boot: int = N_BOOT,
    calibrate: bool = True,
    use_ray: bool = False,
    on_stage: Callable[[str], None] | None = None,
) -> TrainedModel:
    """Fit an uplift model for `outcome` on part of `experiment` and score it on the rest.

    `features` restricts the schema's features (None keeps them all). `sample` trains on a
    seeded, stratified subsample of that many rows (a quick first model on a large file). An
    experiment with separate arms (`Experiment.arm`) gives a multi-arm model, judged arm by
    arm against control (see `TrainedModel`).
    `estimator="auto"` (`AUTO`) fits every estimator that models the experiment (with separate
    arms, those of several arms) on the training rows less a validation fold, picks the one with
    the smallest doubly robust loss there (`evaluation.comparison`; the holdout plays no part),
    refits it on all training rows and records the comparison in `data["selection"]`.
    `calibrate` widens or narrows the intervals by a factor learned on a simulated twin
    (`evaluation.calibration`), up to `CALIBRATION_MAX_ROWS` training rows; above that, and
    when it cannot be done, `data["interval_calibration"]` says why not.
    `use_ray` runs every fit's cross-fitting folds and bootstrap refits (the comparison's, the
    model's, the interval calibration's) as Ray tasks, on the Ray this process is connected to
    (`uplift.cluster.session`), with the same results.
    `on_stage(name)` is called as each stage in `STAGES` starts, so a caller can show
    progress; it is a plain callable so that this runs headless too.
    """
    # Imported here, not at the top: EconML and LightGBM take seconds to import, and pages that
    # only show saved models import this module too.
    from impactiq.uplift.estimators import UpliftModel

    report = on_stage or (lambda stage: None)
    check_outcome(experiment, outcome)
    schema = restrict_features(experiment.schema, features)
    _check_feature_names(schema)
    data = {"fingerprint": fingerprint_experiment(experiment, outcome, features)}
    experiment, train, holdout_rows = training_split(
        experiment, outcome, sample=sample, test_size=test_size, seed=seed, on_stage=report
    )
    data.update(
        name=experiment.name,
        sample=sample,
        n_rows=experiment.n_rows,
        test_size=test_size,
        # The constructor overrides, so refutation can refit the model exactly as it was fitted.
        param_overrides=params,
    )
    X = experiment.frame[list(schema.features)]
    y, t = experiment.y(outcome), experiment.t
    data.update(n_train=len(train), n_holdout=len(holdout_rows), treated_share=float(t.mean()))

    arms = experiment.arm_names
    treatment = t if experiment.arm is None else experiment.arm
    if arms:
        data["arm_shares"] = {a: float(np.mean(experiment.arm == k)) for k, a in enumerate(arms, start=1)}

    if estimator == AUTO:
        report("comparing estimators")
        selection = compare_estimators(
            experiment,
            outcome,
            features=features,
            test_size=test_size,
            seed=seed,
            n_boot=n_boot,
            use_ray=use_ray,
        )
        estimator = selection.chosen
        data["selection"] = selection.to_dict()

    report("fitting nuisance and effect models")
    model = UpliftModel(
        estimator=estimator,
        binary_outcome=schema.is_binary(outcome),
        random_state=seed,
        params=params,
        use_ray=use_ray,
    )
    started = time.perf_counter()
    model.fit(y[train], treatment[train], X.iloc[train])
    fit = {"seconds": time.perf_counter() - started}
    if calibrate and model.has_intervals and len(train) > CALIBRATION_MAX_ROWS:
        data["interval_calibration"] = {
            "unavailable": f"{len(train):,} training rows is more than the "
            f"{CALIBRATION_MAX_ROWS:,} up to which the simulated twin is refitted (it takes two to five "
            "times the fit's time), so the intervals are the estimator's own."
        }
    elif calibrate and model.has_intervals:
        report("calibrating intervals")
        started = time.perf_counter()
        data["interval_calibration"] = _calibrated(
            model, y[train], treatment[train], X.iloc[train], experiment, train, outcome, seed
        )
        fit["calibration_seconds"] = time.perf_counter() - started
    fit.update(peak_rss_mb=_peak_rss_mb(), peak_rss_note=PEAK_RSS_NOTE)

    report("scoring holdout")
    binary = schema.is_binary(outcome)
    common = {
        "model": model,
        "schema": schema,
        "outcome": outcome,
        "estimator": estimator,
        "params": readable_params(model.params_),
        "seed": seed,
        "feature_profile": feature_profile(X.iloc[train], schema),
        "data": data,
        "fit": fit,
    }
    if arms:
        holdout = score_arm_experiment(model, experiment, outcome, rows=holdout_rows)
        report("evaluating")
        views = {arm: arm_view_frame(holdout, arms, arm) for arm in arms}
        return TrainedModel(
            **common,
            holdout=holdout,
            metrics={},
            deciles=pd.DataFrame(),
            arms=arms,
            arm_metrics={
                a: holdout_metrics(v, binary=binary, n_boot=n_boot, seed=seed) for a, v in views.items()
            },
            arm_deciles={a: decile_table(v) for a, v in views.items()},
        )
    tau = experiment.tau(outcome)
    holdout = predictions_frame(
        model,
        X.iloc[holdout_rows],
        y[holdout_rows],
        t[holdout_rows],
        None if tau is None else tau[holdout_rows],
    )

    report("evaluating")
    return TrainedModel(
        **common,
        holdout=holdout,
        metrics=holdout_metrics(holdout, binary=binary, n_boot=n_boot, seed=seed),
        deciles=decile_table(holdout),
    )


def _calibrated(model, y, treatment, X, experiment, train, outcome, seed) -> dict:
    """Calibrate `model`'s intervals on a twin of its training rows; why not, when it cannot be."""
    fit, validation = validation_split(experiment, train, outcome, seed=seed)
    # Positions within the training rows, which is what y, treatment and X hold.
    fit, validation = np.searchsorted(train, fit), np.searchsorted(train, validation)
    try:
        return calibrate_intervals(model, y, treatment, X, fit, validation, seed=seed).to_dict()
    except ImpactIQError as error:
        return {"unavailable": str(error)}


def readable_params(params: dict) -> dict:
    """The estimator's constructor arguments as JSON values; models become their repr."""
    plain = (bool, int, float, str, type(None))
    values = {k: v.item() if isinstance(v, np.generic) else v for k, v in params.items()}
    return {k: v if isinstance(v, plain) else repr(v) for k, v in values.items()}


def _check_feature_names(schema: Schema) -> None:
    """Refuse features named like a prediction column: the holdout holds both side by side."""
    check_arm_names(tuple(arm_label(a) for a in schema.arms))
    reserved = {
        *PREDICTION_COLUMNS,
        ARM_COLUMN,
        *(c for a in schema.arms for c in arm_columns(arm_label(a)).values()),
    }
    clashes = sorted(set(schema.features) & reserved)
    if clashes:
        raise ImpactIQError(
            f"Feature column(s) {', '.join(map(repr, clashes))} share a name with ImpactIQ's prediction "
            f"columns ({', '.join(PREDICTION_COLUMNS)}). Rename them in the file and upload it again."
        )


def _peak_rss_mb() -> float:
    """The process's peak resident memory so far, in MB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024**2 if sys.platform == "darwin" else 1024)
