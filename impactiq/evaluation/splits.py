"""The rows a model is fitted, validated and judged on, drawn once and drawn the same everywhere.

Training, interval calibration, model comparison and refutation each need the same split: the
holdout that reports a model's final numbers, and inside the training rows a validation fold on
which choices made after fitting are taken, so the holdout plays no part in them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from impactiq.data.experiment import Experiment
from impactiq.data.sampling import split_holdout, stratified_sample, subset_experiment
from impactiq.errors import ImpactIQError

# The share of the training rows kept apart for choices made after fitting (interval
# calibration, model comparison).
VALIDATION_SHARE = 0.25


def training_split(
    experiment: Experiment,
    outcome: str,
    *,
    sample: int | None,
    test_size: float,
    seed: int,
    on_stage: Callable[[str], None] | None = None,
) -> tuple[Experiment, np.ndarray, np.ndarray]:
    """(rows used, training positions, holdout positions) exactly as `train_model` draws them.

    Refutation and model comparison refit on the same rows and judge on the same holdout, so
    they take the split from here rather than drawing their own.
    """
    report = on_stage or (lambda stage: None)
    if sample is not None:
        report("sampling")
        experiment = stratified_sample(experiment, outcome, sample, seed)
    report("splitting holdout")
    train, holdout = split_holdout(experiment, outcome, test_size=test_size, seed=seed)
    return experiment, train, holdout


def validation_split(
    experiment: Experiment, train: np.ndarray, outcome: str, *, share: float = VALIDATION_SHARE, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The training positions split into (fit, validation), stratified like the holdout.

    Interval calibration and model comparison choose on the validation fold, so the holdout
    that reports a model's final numbers plays no part in those choices.
    """
    if not 0.0 < share < 1.0:
        raise ImpactIQError(f"The validation share must lie strictly between 0 and 1; got {share!r}.")
    fit, validation = split_holdout(
        subset_experiment(experiment, train), outcome, test_size=share, seed=seed + 1
    )
    return train[fit], train[validation]
