"""The causal check of an attribution, whole: the linked logs' holdout lift, every model's
credit against it, and how far each model's split of credit lies from what the channels caused.

The pieces are in `journeys.causal`; this module runs them on the linked logs (`events.Events`)
for the page and the command line, which `causal` cannot import: `events` reads its holdout flags.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from impactiq.errors import ImpactIQError
from impactiq.journeys.causal import credit_against_lift, credit_error, holdout_lift, incremental_shares
from impactiq.journeys.events import Events
from impactiq.journeys.paths import PERSON


def measured_lift(events: Events, stage: str | None) -> pd.DataFrame | None:
    """`holdout_lift` of the linked logs' holdouts over the people converted at `stage` (any
    stage for None); None where the logs have no holdouts."""
    if events.holdouts is None:
        return None
    return holdout_lift(events.holdouts, events.of_stage(stage)[PERSON].unique())


@dataclass(frozen=True)
class CausalCheck:
    """Every model's credit held against what the holdouts (or, on synthetic data, the truth) say
    each channel caused.

    `lift` is `holdout_lift`'s table and `table` `credit_against_lift`'s; `against` names what the
    credit is judged against ("truth" or "experiment"); `errors` is `credit_error`'s table and
    `incremental` each channel's share of the incremental conversions (channel, share), both None
    with `unavailable` saying why where no channel had a positive effect to compare with."""

    lift: pd.DataFrame
    table: pd.DataFrame
    models: list[str]
    against: str
    errors: pd.DataFrame | None
    incremental: pd.DataFrame | None
    unavailable: str | None = None

    @property
    def closest(self) -> pd.Series | None:
        """The `errors` row of the model with the least credit on the wrong channels."""
        return None if self.errors is None else self.errors.sort_values("misallocated").iloc[0]


def causal_check(
    events: Events, credit: pd.DataFrame, stage: str | None, truth: pd.DataFrame | None = None
) -> CausalCheck | None:
    """The causal check of `credit` (`attribution.attribute`'s) for conversions of `stage`;
    None where the logs have no holdouts. With `truth` (synthetic data) the split of credit is
    judged against the true incremental conversions, else against the experiment's estimate."""
    lift = measured_lift(events, stage)
    if lift is None:
        return None
    models = list(credit["model"].unique())
    table = credit_against_lift(credit, lift, truth)
    against, column = ("truth", "true_incremental") if truth is not None else ("experiment", "incremental")
    try:
        errors = credit_error(table, models, against=column)
    except ImpactIQError as error:
        return CausalCheck(lift, table, models, against, None, None, unavailable=str(error))
    incremental = table[["channel"]].assign(share=incremental_shares(table, column))
    return CausalCheck(lift, table, models, against, errors, incremental)
