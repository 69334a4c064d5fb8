"""Which rows a model trains on and which it is judged on: seeded, stratified draws.

A model's own fit says nothing about whether it ranks people by their true uplift, so every
model is scored on a holdout: a share of the rows set aside before fitting, drawn separately
within each treatment x outcome stratum (each arm x outcome in a multi-arm test) so that all arms and their rare successes appear in
the holdout in the proportions of the data (an 85/15 split with a 4% visit rate leaves few
control visitors; an unstratified draw can starve one arm). A quick first model on a large
file trains on a subsample drawn the same way.
"""

from __future__ import annotations

import numpy as np

from impactiq.data.experiment import Experiment, check_outcome
from impactiq.errors import ImpactIQError

# Neither part of a split may have fewer rows than this in an arm.
MIN_ROWS_PER_ARM_PER_PART = 10
# The smallest sample the Train page offers to draw: fewer rows rarely leave both arms enough
# rows in the training set and the holdout. A data set smaller than this trains on all its rows.
SMALLEST_SAMPLE = 200


def split_holdout(experiment: Experiment, outcome: str, *, test_size: float = 0.3, seed: int = 0):
    """(train rows, holdout rows): sorted row positions, the holdout a `test_size` share.

    Each treatment x outcome stratum (for an amount: outcome > 0) is split in the same
    proportion, to within one row, so the holdout has both arms and their successes in the
    data's proportions. The draw is seeded.
    """
    check_outcome(experiment, outcome)
    if isinstance(test_size, bool) or not isinstance(test_size, int | float) or not 0 < test_size < 1:
        raise ImpactIQError(
            f"The holdout share must lie strictly between 0 and 1 (0.3 is usual); got {test_size!r}."
        )
    strata = _strata(_groups(experiment), experiment.y(outcome))
    holdout = _stratified_draw(strata, round(test_size * len(strata)), np.random.default_rng(seed))
    in_training = np.ones(len(strata), dtype=bool)
    in_training[holdout] = False
    train = np.flatnonzero(in_training)
    for part, rows in (("training set", train), ("holdout", holdout)):
        groups = _groups(experiment)[rows]
        names = (
            ("control", *(f"arm '{a}'" for a in experiment.arm_names)) if experiment.arm is not None else None
        )
        for value, arm in enumerate(names or ("control", "treated")):
            count = int(np.count_nonzero(groups == value))
            if count < MIN_ROWS_PER_ARM_PER_PART:
                raise ImpactIQError(
                    f"With a holdout share of {test_size:g} the {part} would hold only {count} {arm} rows "
                    f"(at least {MIN_ROWS_PER_ARM_PER_PART} are needed). Use more rows or a "
                    f"{'smaller' if part == 'training set' else 'larger'} holdout share."
                )
    return train, holdout


def stratified_sample(experiment: Experiment, outcome: str, sample, seed: int) -> Experiment:
    """A seeded subsample of `sample` rows, stratified like the holdout split (all rows when fewer)."""
    if isinstance(sample, bool) or not isinstance(sample, int | np.integer) or sample < 2:
        raise ImpactIQError(f"The sample size must be a whole number of rows (at least 2); got {sample!r}.")
    if sample >= experiment.n_rows:
        return experiment
    rows = _stratified_draw(
        _strata(_groups(experiment), experiment.y(outcome)), int(sample), np.random.default_rng(seed)
    )
    return subset_experiment(experiment, rows)


def subset_experiment(experiment: Experiment, rows: np.ndarray) -> Experiment:
    """The experiment's rows at positions `rows`, renumbered from 0, with its schema and warnings."""
    return Experiment(
        name=experiment.name,
        frame=experiment.frame.iloc[rows].reset_index(drop=True),
        schema=experiment.schema,
        t=experiment.t[rows],
        warnings=list(experiment.warnings),
        arm=None if experiment.arm is None else experiment.arm[rows],
    )


def _groups(experiment: Experiment) -> np.ndarray:
    """Each row's group: its arm (0 control, k the k-th arm) when arms are kept apart, else t."""
    return np.asarray(experiment.t if experiment.arm is None else experiment.arm, dtype=np.int64)


def _strata(groups: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Group x (outcome > 0); for a 0/1 outcome and two arms, treatment x outcome (0..3)."""
    return 2 * groups + (y > 0)


def _stratified_draw(strata: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted positions of `size` rows drawn without replacement, each stratum in proportion.

    Quotas follow the largest remainder method, so they sum to exactly `size` and each
    stratum's quota is within one row of its proportional share.
    """
    # Strata are small non-negative codes: counting them is linear, where np.unique hashes or
    # sorts (10 s per call on 14M rows).
    counts = np.bincount(strata)
    labels = np.flatnonzero(counts)
    counts = counts[labels]
    exact = counts * size / len(strata)
    quotas = np.floor(exact).astype(np.int64)
    remainder = size - int(quotas.sum())
    quotas[np.argsort(-(exact - quotas), kind="stable")[:remainder]] += 1
    chosen = [
        rng.choice(np.flatnonzero(strata == label), size=quota, replace=False)
        for label, quota in zip(labels, quotas, strict=True)
    ]
    return np.sort(np.concatenate(chosen))
