"""Persuadability classes: who gains from a contact, who converts anyway, who is hurt.

Thresholds are explicit (`Thresholds`) and by default taken from the model's holdout
(`default_thresholds`), because an uplift of one percentage point is large for a 4% visit rate
and small for a 40% one. In order of precedence:

1. do-not-disturb: treatment is expected to hurt: the interval's upper bound is below zero, or
   the uplift is at or below −`harm`;
2. persuadable: the uplift is at or above `persuadable`;
3. sure thing: the rest whose expected outcome without treatment is at or above `baseline`
   (they would convert anyway);
4. lost cause: the rest (unlikely to convert either way).

The Simulator classifies one profile with these rules and Segments groups users by them, so
both pages always agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

PERSUADABLE = "persuadable"
SURE_THING = "sure thing"
LOST_CAUSE = "lost cause"
DO_NOT_DISTURB = "do-not-disturb"
CLASSES = (PERSUADABLE, SURE_THING, LOST_CAUSE, DO_NOT_DISTURB)
# The rules of `classify`, in words for the page.
CLASS_RULES = (
    "Defaults from the holdout: the median positive uplift, and the median outcome without treatment. "
    "Do-not-disturb: the interval's upper bound is below 0 or the uplift is at most −the harm threshold. "
    "Else persuadable: the uplift is at least the persuadable threshold. Else sure thing: the outcome "
    "without treatment is at least the baseline threshold. Else lost cause."
)


@dataclass(frozen=True)
class Thresholds:
    """Class boundaries in the outcome's units (a probability for 0/1 outcomes).

    persuadable: uplift at or above which a user is persuadable. harm: a user whose uplift is at
    or below −harm is do-not-disturb. baseline: expected outcome without treatment at or above
    which a user who is neither is a sure thing rather than a lost cause.
    """

    persuadable: float
    harm: float
    baseline: float


def default_thresholds(holdout: pd.DataFrame) -> Thresholds:
    """Class thresholds read off the holdout's predictions.

    persuadable and harm: the median of the positive predicted uplifts (the median absolute
    uplift when none is positive), so a persuadable user gains at least as much as a typical
    user who gains at all, and a do-not-disturb user loses as much. baseline: the median
    expected outcome without treatment, splitting the rest into the likelier half (sure things)
    and the less likely half (lost causes).
    """
    uplift = holdout["uplift"].to_numpy(dtype=np.float64)
    positive = uplift[uplift > 0]
    scale = float(np.median(positive)) if positive.size else float(np.median(np.abs(uplift)))
    return Thresholds(persuadable=scale, harm=scale, baseline=float(np.median(holdout["y0_pred"])))


def classify(uplift, upper, y0, thresholds: Thresholds):
    """The class of each user (see the module docstring); a string for scalar inputs.

    Only the interval's upper bound enters (a confident loss); a missing bound (a model
    without intervals) leaves the uplift rules alone.
    """
    uplift, upper, y0 = (np.asarray(a, dtype=np.float64) for a in (uplift, upper, y0))
    hurt = (upper < 0) | (uplift <= -thresholds.harm)
    classes = np.select(
        [hurt, uplift >= thresholds.persuadable, y0 >= thresholds.baseline],
        [DO_NOT_DISTURB, PERSUADABLE, SURE_THING],
        default=LOST_CAUSE,
    ).astype(object)
    return str(classes) if classes.ndim == 0 else classes


def settled(klass: str, lower: float, upper: float, thresholds: Thresholds) -> bool:
    """Whether the uplift's 95% interval supports the class on its own, not only the estimate.

    A persuadable user's interval lies above zero, a do-not-disturb user's below it; a sure thing
    or lost cause (a small effect either way) has an interval inside (-harm, persuadable). Where
    it does not (or there is no interval), the class is only the likeliest one: "likely
    persuadable" is what a person should read."""
    if not (np.isfinite(lower) and np.isfinite(upper)):
        return False
    if klass == PERSUADABLE:
        return lower > 0
    if klass == DO_NOT_DISTURB:
        return upper < 0
    return -thresholds.harm < lower and upper < thresholds.persuadable


def representative_users(frame, thresholds: Thresholds) -> dict[str, int]:
    """Row positions of one typical persuadable user and one typical sure thing in a scored frame.

    For a demo's story: among the users whose class their interval settles (`settled`), the one
    with the median uplift (a typical persuadable) and the one at the 90th percentile of the
    outcome without contact (a sure thing who clearly would convert anyway); where no user is
    settled, among those the estimate alone puts in the class. A class nobody is in is left out."""
    uplift = frame["uplift"].to_numpy(dtype=np.float64)
    lower = frame["uplift_lower"].to_numpy(dtype=np.float64)
    upper = frame["uplift_upper"].to_numpy(dtype=np.float64)
    y0 = frame["y0_pred"].to_numpy(dtype=np.float64)
    classes = classify(uplift, upper, y0, thresholds)
    chosen = {}
    for klass, measure, quantile in ((PERSUADABLE, uplift, 0.5), (SURE_THING, y0, 0.9)):
        members = np.flatnonzero(classes == klass)
        sure = [i for i in members if settled(klass, lower[i], upper[i], thresholds)]
        pool = np.asarray(sure if sure else members, dtype=np.int64)
        if len(pool):
            order = pool[np.argsort(measure[pool], kind="stable")]
            chosen[klass] = int(order[int(quantile * len(order))])
    return chosen
