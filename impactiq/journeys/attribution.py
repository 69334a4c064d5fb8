"""Every attribution model's credit per channel, side by side, for one conversion stage.

The models: the rules of `journeys.heuristics` (first, last, linear, time decay, position-based),
the Markov removal effect (`journeys.markov`) and Shapley values (`journeys.shapley`). Each
conversion with a touch in its window is credited once in every model, so each model's credited
conversions add up to the same total; conversions without a touch are counted apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from impactiq.errors import ImpactIQError
from impactiq.journeys.events import Events
from impactiq.journeys.heuristics import (
    DEFAULT_HALF_LIFE_DAYS,
    RULES,
    PositionShares,
    channel_credit,
    touch_credit,
)
from impactiq.journeys.markov import markov_attribution
from impactiq.journeys.paths import Journeys, build_journeys
from impactiq.journeys.shapley import DEFAULT_PERMUTATIONS, shapley_attribution

MODELS = (*RULES, "markov", "shapley")
DEFAULT_LOOKBACK_DAYS = 30.0


@dataclass(frozen=True)
class AttributionSettings:
    """The choices every model shares, and the rules' parameters."""

    lookback_days: float = DEFAULT_LOOKBACK_DAYS
    half_life_days: float = DEFAULT_HALF_LIFE_DAYS
    shares: PositionShares = PositionShares()
    by_day: bool = False
    stage: str | None = None
    n_permutations: int = DEFAULT_PERMUTATIONS
    seed: int = 0


@dataclass(frozen=True)
class Attribution:
    """`credit`: one row per model and channel with conversions, revenue and, for Shapley's
    sampled sets, their standard errors; `journeys` the paths they were computed from."""

    credit: pd.DataFrame
    journeys: Journeys
    settings: AttributionSettings
    notes: tuple[str, ...] = ()

    @property
    def attributed(self) -> int:
        return self.journeys.n_conversions - self.journeys.unattributed


def attribute(
    events: Events, models: tuple[str, ...] = MODELS, settings: AttributionSettings = AttributionSettings()
) -> Attribution:
    """Run `models` on the conversions of `settings.stage` (every conversion when None)."""
    unknown = [m for m in models if m not in MODELS]
    if unknown or not models:
        raise ImpactIQError(f"Unknown attribution model(s) {unknown}; choose from {', '.join(MODELS)}.")
    conversions = events.of_stage(settings.stage)
    journeys = build_journeys(events.touches, conversions, lookback_days=settings.lookback_days)
    if journeys.n_conversions == journeys.unattributed:
        raise ImpactIQError(
            f"None of the {journeys.n_conversions:,} conversions has a touchpoint of the same person in the "
            f"{settings.lookback_days:g} days before it. Check that both files identify people the same way, or "
            "widen the lookback window."
        )
    notes = []
    if "markov" in models and len(models) > 1 and journeys.n_null_paths == 0:
        # Asked alone, the Markov model says why it cannot run; among others it steps aside.
        models = tuple(m for m in models if m != "markov")
        notes.append(
            "The Markov model was left out: it needs the touchpoints of people who did not convert, and every "
            "touch here led to a conversion."
        )
    rows = [_credit(model, journeys, settings) for model in models]
    return Attribution(
        credit=pd.concat(rows, ignore_index=True), journeys=journeys, settings=settings, notes=tuple(notes)
    )


def _credit(model: str, journeys: Journeys, settings: AttributionSettings) -> pd.DataFrame:
    zeros = np.zeros(len(journeys.channels))
    conversions_se = revenue_se = zeros
    if model in RULES:
        credit = touch_credit(
            journeys,
            model,
            half_life_days=settings.half_life_days,
            shares=settings.shares,
            by_day=settings.by_day,
        )
        conversions, revenue = channel_credit(journeys, credit)
    elif model == "markov":
        result = markov_attribution(journeys)
        conversions, revenue = result.conversions, result.revenue
    else:
        result = shapley_attribution(journeys, n_permutations=settings.n_permutations, seed=settings.seed)
        conversions, revenue = result.conversions, result.revenue
        conversions_se, revenue_se = result.standard_error, result.revenue_standard_error
    return pd.DataFrame(
        {
            "model": model,
            "channel": journeys.channels,
            "conversions": conversions,
            "conversions_se": conversions_se,
            "revenue": revenue,
            "revenue_se": revenue_se,
        }
    )


def credit_by_group(credit: pd.DataFrame, groups: pd.Series) -> pd.DataFrame:
    """`Attribution.credit` summed over the channels of each group (`groups` maps channel to group;
    a channel it does not name is its own group), in the same layout with the group as `channel`.

    Standard errors are summed, an upper bound: the sampled Shapley errors of two channels are
    correlated and their covariance is not kept, so the group's interval is conservative."""
    group = credit["channel"].map(groups).fillna(credit["channel"])
    summed = (
        credit.assign(channel=group)
        .groupby(["model", "channel"], sort=False, as_index=False)[
            ["conversions", "conversions_se", "revenue", "revenue_se"]
        ]
        .sum()
    )
    return summed
