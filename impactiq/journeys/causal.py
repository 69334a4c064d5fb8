"""The causal check: each model's credit held against the conversions an experiment says a
channel caused.

Where people eligible for a channel were held out of it at random, the held-out group shows
how many of the eligible would have converted without it. Per channel, over its eligible people:

    lift = conversion rate of the exposed - conversion rate of the held out   (unpooled 95% CI)
    incremental conversions = lift * number exposed

A person counts as converted when they have at least one conversion (of the stage studied). The
difference in means is unbiased for the channel's average effect on the exposed because the
holdout is random among the eligible; it says nothing about people who were never eligible.
The holdouts table names, per channel, its eligible people and whether each was held out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from impactiq.errors import ImpactIQError
from impactiq.intervals import difference_in_means, normal_interval
from impactiq.journeys.paths import CHANNEL, PERSON

HELD_OUT = "held_out"
_TRUE_WORDS = {"1", "true", "yes", "y", "held out", "holdout", "control"}
_FALSE_WORDS = {"0", "false", "no", "n", "exposed", "treated", "test"}


def holdout_flags(column: pd.Series, table: str, name: str) -> np.ndarray:
    """A held-out column as booleans: true/false, 1/0, yes/no, held out/exposed, control/test."""
    if pd.api.types.is_bool_dtype(column):
        return column.to_numpy(dtype=bool)
    text = column.astype("string").str.strip().str.lower()
    known = text.isin(_TRUE_WORDS | _FALSE_WORDS).to_numpy(dtype=bool)
    if not known.all():
        rows = np.flatnonzero(~known)[:5]
        shown = ", ".join(f"row {r + 1} ({column.iloc[r]!r})" for r in rows)
        raise ImpactIQError(
            f"Column '{name}' of '{table}' should say whether each person was held out (true/false, 1/0, yes/no, "
            f"held out/exposed), but {(~known).sum():,} value(s) do not: {shown}."
        )
    return text.isin(_TRUE_WORDS).to_numpy(dtype=bool)


def holdout_lift(holdouts: pd.DataFrame, converted_people: np.ndarray) -> pd.DataFrame:
    """Per channel: eligible, exposed and held-out people, their conversion rates, the lift with its
    95% CI and the incremental conversions with theirs.

    `holdouts` has the canonical columns person, channel and held_out (one row per eligible person
    and channel); `converted_people` the person ids that converted."""
    if holdouts.empty:
        raise ImpactIQError(
            "The holdouts table is empty: it needs the eligible people of at least one channel."
        )
    codes, channels = pd.factorize(holdouts[CHANNEL], sort=True)
    repeated = holdouts.duplicated([PERSON, CHANNEL]).to_numpy()
    if repeated.any():
        first = int(np.argmax(repeated))
        raise ImpactIQError(
            f"Person in row {first + 1} of the holdouts is listed twice for channel '{holdouts[CHANNEL].iloc[first]}'; "
            "give each person one row per channel."
        )
    exposed = ~holdouts[HELD_OUT].to_numpy(dtype=bool)
    converted = np.isin(holdouts[PERSON].to_numpy(), converted_people).astype(np.float64)
    lift = difference_in_means(converted, exposed.astype(int), groups=codes, n_groups=len(channels))
    n_exposed = lift.treated.n
    lower, upper = normal_interval(lift.estimate, lift.se)
    table = pd.DataFrame(
        {
            "channel": [str(c) for c in channels],
            "eligible": np.bincount(codes, minlength=len(channels)),
            "exposed": n_exposed.astype(np.int64),
            "held_out": lift.control.n.astype(np.int64),
            "rate_exposed": lift.treated.estimate,
            "rate_held_out": lift.control.estimate,
            "lift": lift.estimate,
            "lift_lower": lower,
            "lift_upper": upper,
            "incremental": lift.estimate * n_exposed,
            "incremental_lower": lower * n_exposed,
            "incremental_upper": upper * n_exposed,
        }
    )
    return table


def credit_against_lift(
    credit: pd.DataFrame, lift: pd.DataFrame, truth: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per channel: each model's credited conversions, the experiment's incremental
    conversions with their CI, and (synthetic data) the true incremental conversions.

    Columns: channel, one column per model (credit), incremental, incremental_lower,
    incremental_upper, and true_incremental when `truth` is given. Channels without a holdout
    have missing incremental columns: the experiment did not measure them."""
    wide = credit.pivot(index="channel", columns="model", values="conversions")[
        list(credit["model"].unique())
    ]
    measured = lift.set_index("channel")[["incremental", "incremental_lower", "incremental_upper"]]
    table = wide.join(measured, how="outer")
    if truth is not None:
        table["true_incremental"] = truth.set_index("channel")["incremental"]
    table.columns.name = None
    return table.reset_index().rename(columns={"index": "channel"})


def incremental_shares(table: pd.DataFrame, against: str = "true_incremental") -> pd.Series:
    """Each channel's share of the incremental conversions in column `against` (a channel that
    hurt counts as 0): the split a budget should follow."""
    effect = table[against].clip(lower=0)
    if not effect.sum() > 0:
        raise ImpactIQError("No channel has a positive incremental effect to compare the credit with.")
    return effect / effect.sum()


def credit_error(table: pd.DataFrame, models: list[str], against: str = "true_incremental") -> pd.DataFrame:
    """How far each model's split of credit lies from the split of `against` (the truth, or the
    experiment's estimate).

    Attribution credits every conversion, incremental or not, so its totals are not comparable
    with incremental conversions; what a budget follows is the split. Per model: the share of
    credit that sits on the wrong channels (half the sum over channels of |credit share -
    incremental share|, 0 when the splits agree, 1 when they share nothing), and the channel whose
    share is furthest off, with its credit share and incremental share."""
    target = incremental_shares(table, against)
    rows = []
    for model in models:
        share = table[model].fillna(0) / table[model].sum()
        gap = (share - target).abs()
        worst = int(np.argmax(gap.to_numpy()))
        rows.append(
            {
                "model": model,
                "misallocated": float(gap.sum() / 2),
                "worst_channel": table["channel"].iloc[worst],
                "worst_credit_share": float(share.iloc[worst]),
                "worst_incremental_share": float(target.iloc[worst]),
            }
        )
    return pd.DataFrame(rows)
