"""Rule-based multi-touch attribution: first, last, linear, time decay and position-based.

Each conversion's credit sums to 1 over the touches on its path (`journeys.paths`), and its
revenue is shared in the same proportions. The rules, as the industry's analytics tools define
them (Google Analytics' former attribution models; the position-based default 40/20/40):

- first touch: all credit to the first touch; last touch: all to the last;
- linear: equal credit to every touch;
- time decay: weight 2^(-age / half-life) for a touch `age` days before the conversion, the
  weights scaled to sum to 1;
- position-based: `first` share to the first touch, `last` share to the last, the rest split
  equally over the touches between; a path of two touches gives first and last
  first/(first+last) and last/(first+last); a path of one touch gives it everything.

With `by_day`, a person's touches on the same calendar day are one step of the path: the rule
gives credit to days (the first day, the last day, each day equally, each day by its age in whole
days), and a day's touches share its credit equally. Time decay by day uses the day's age in whole
days before the conversion's day.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from impactiq.errors import ImpactIQError
from impactiq.journeys.paths import Journeys

RULES = ("first", "last", "linear", "time_decay", "position")
DEFAULT_HALF_LIFE_DAYS = 7.0


@dataclass(frozen=True)
class PositionShares:
    """The position-based model's shares: first touch, last touch, the middle gets the rest."""

    first: float = 0.4
    last: float = 0.4

    def __post_init__(self):
        if min(self.first, self.last) < 0 or self.first + self.last > 1:
            raise ImpactIQError(
                f"Position-based shares must be 0 or more with first + last at most 1; got first "
                f"{self.first} and last {self.last}."
            )


def touch_credit(
    journeys: Journeys,
    rule: str,
    *,
    half_life_days: float = DEFAULT_HALF_LIFE_DAYS,
    shares: PositionShares = PositionShares(),
    by_day: bool = False,
) -> np.ndarray:
    """Each touch's share of its conversion (one entry per touch of `journeys`, summing to 1 per path)."""
    if rule not in RULES:
        raise ImpactIQError(f"Unknown attribution rule {rule!r}; choose one of {', '.join(RULES)}.")
    if rule == "time_decay" and not half_life_days > 0:
        raise ImpactIQError(
            f"The time-decay half-life must be a positive number of days; got {half_life_days}."
        )
    if not by_day:
        steps = np.arange(len(journeys.conversion), dtype=np.int64)
        ages = journeys.age_days
    else:
        steps, ages = _days(journeys)
    step_conversion, step_age, step_size = _steps(journeys.conversion, steps, ages)
    step_credit = _step_credit(step_conversion, step_age, rule, half_life_days, shares)
    return (step_credit / step_size)[steps]


def channel_credit(journeys: Journeys, credit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(conversions, revenue) credited to each channel of `journeys.channels`."""
    k = len(journeys.channels)
    conversions = np.bincount(journeys.channel, weights=credit, minlength=k)
    revenue = np.bincount(
        journeys.channel, weights=credit * journeys.revenue[journeys.conversion], minlength=k
    )
    return conversions, revenue


def _days(journeys: Journeys) -> tuple[np.ndarray, np.ndarray]:
    """Each touch's step (its calendar day within its path, numbered over all paths) and the
    step's age in whole days: from the touch's day to its conversion's day."""
    new_step = np.ones(len(journeys.day), dtype=bool)
    new_step[1:] = (journeys.conversion[1:] != journeys.conversion[:-1]) | (
        journeys.day[1:] != journeys.day[:-1]
    )
    steps = np.cumsum(new_step) - 1
    return steps, (journeys.conversion_day[journeys.conversion] - journeys.day).astype(np.float64)


def _steps(conversion: np.ndarray, steps: np.ndarray, ages: np.ndarray):
    """Per step: its conversion, its age, and its number of touches."""
    first = np.flatnonzero(np.r_[True, steps[1:] != steps[:-1]])
    size = np.diff(np.r_[first, len(steps)])
    return conversion[first], ages[first], size.astype(np.float64)


def _step_credit(
    conversion: np.ndarray, age: np.ndarray, rule: str, half_life: float, shares: PositionShares
):
    """Each step's share of its conversion under `rule` (steps sorted by conversion, then time)."""
    n = len(conversion)
    starts = np.r_[True, conversion[1:] != conversion[:-1]] if n else np.zeros(0, dtype=bool)
    ends = np.r_[conversion[1:] != conversion[:-1], True] if n else np.zeros(0, dtype=bool)
    path_of = np.cumsum(starts) - 1
    length = np.bincount(path_of)[path_of].astype(np.float64) if n else np.zeros(0)
    if rule == "first":
        return starts.astype(np.float64)
    if rule == "last":
        return ends.astype(np.float64)
    if rule == "linear":
        return 1.0 / length
    if rule == "time_decay":
        # Ages counted from the path's youngest step, which weighs 1: the shares are the same (a
        # common factor cancels), and a short half-life cannot underflow every weight to 0 / 0.
        youngest = np.minimum.reduceat(age, np.flatnonzero(starts))[path_of]
        weight = np.exp2(-(age - youngest) / half_life)
        return weight / np.bincount(path_of, weights=weight)[path_of]
    credit = np.where(starts, shares.first, 0.0) + np.where(ends, shares.last, 0.0)
    middle = ~(starts | ends)
    credit[middle] = (1.0 - shares.first - shares.last) / (length[middle] - 2)
    two = length == 2
    ends_total = shares.first + shares.last
    credit[two] = np.where(starts[two], shares.first, shares.last) / ends_total if ends_total else 0.5
    credit[length == 1] = 1.0
    return credit
