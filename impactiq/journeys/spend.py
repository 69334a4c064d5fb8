"""What each channel returned on what it cost: spend held against attributed credit.

Attribution says how many conversions and how much revenue each channel earns under each model;
a spend table (one row per channel and, usually, day or campaign) says what the channel cost.
`spend_by_channel` totals the spend per channel over the period studied, with the sources renamed
by the same channel map as the touchpoints (`events.apply_channel_map`), so that both name a
channel alike. `channel_roi` puts the two side by side for every model: ROI, ROAS and cost per
credited conversion, with their standard errors where the credit has one (Shapley's sampled
sets). `group_roi` does the same per channel group, from the summed spend and credit.

A ratio that has nothing to divide by is NaN, never 0 or infinity, and the row's `note` says
why: a channel without spend has no ROI (organic search cost nothing, not "infinitely well"), and
one never credited has no cost per conversion. Channels with spend that no model credits are
kept, with zero credit: money spent on a channel that won nothing is the answer, not a gap.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from impactiq.errors import ImpactIQError
from impactiq.journeys.checks import MAX_SHOWN, amounts_of, quoted, require_columns
from impactiq.journeys.events import GROUP, apply_channel_map, parse_times
from impactiq.journeys.paths import CHANNEL, REVENUE

SPEND = "spend"
MODEL = "model"
CONVERSIONS = "conversions"
# The ratios, each followed by its standard error, in the order the tables show them.
RATIOS = ("roi", "roas", "cost_per_conversion")
NO_SPEND = "no spend recorded for this {noun}"
NO_CONVERSIONS = "no conversions credited, so no cost per conversion"
NOT_CREDITED = (
    "no conversion's path has this channel, so it earns no credit (check that the spend table names it as "
    "the touchpoints do)"
)


def spend_by_channel(
    spend: pd.DataFrame,
    *,
    channel: str = "channel",
    amount: str = "spend",
    date: str | None = None,
    start: object = None,
    end: object = None,
    channel_map: pd.DataFrame | None = None,
    name: str = "spend",
) -> pd.Series:
    """Total spend per channel, named "spend" and indexed by channel (sorted).

    With a `date` column and `start` and/or `end`, only spend dated within [start, end] counts,
    both ends included: the period should match the conversions attributed, or ROI compares a
    month's revenue with a year's cost. An `end` at midnight (a plain date, as a date picker
    gives) includes that whole day. Bounds without a time zone are read in the dates' zone.
    `channel_map` (columns source, channel, optionally group; see `events.apply_channel_map`)
    renames the sources the spend table names to their channels, as it does for touchpoints.
    A blank amount counts as 0. `name` names the table in messages.

    Raises ImpactIQError for a missing column, a blank channel, an amount that is not a number
    or is negative, dates that do not parse, bounds that do not or that cross, or bounds without
    a date column.
    """
    if date is None and (start is not None or end is not None):
        raise ImpactIQError(
            f"A period ({start} to {end}) was given for '{name}' but no date column to filter it by; name the "
            "column that holds each row's date, or leave the period out."
        )
    require_columns(spend, name, [channel, amount] + ([date] if date else []))
    table = spend.reset_index(drop=True)
    channels = table[channel].astype("string").str.strip()
    blank = (channels.isna() | (channels == "")).to_numpy(dtype=bool)
    if blank.any():
        rows = np.flatnonzero(blank)[:MAX_SHOWN]
        raise ImpactIQError(
            f"{blank.sum():,} row(s) of '{name}' have no channel in column '{channel}' (rows "
            f"{', '.join(str(r + 1) for r in rows)}). Fill them in or remove those rows."
        )
    amounts = amounts_of(table, amount, name)
    negative = amounts < 0
    if negative.any():
        rows = np.flatnonzero(negative)[:MAX_SHOWN]
        shown = ", ".join(f"row {r + 1} ({amounts[r]:g})" for r in rows)
        raise ImpactIQError(
            f"{negative.sum():,} spend amount(s) in column '{amount}' of '{name}' are negative: {shown}. Spend is "
            "what a channel cost; book refunds or credits against the rows they correct, or remove those rows."
        )
    keep = np.ones(len(table), dtype=bool)
    if date is not None:
        times = parse_times(table[date], name, date)
        low, high = _bound(start, times, "start"), _bound(end, times, "end")
        if low is not None and high is not None and low > high:
            raise ImpactIQError(f"The period for '{name}' starts ({start}) after it ends ({end}); swap them.")
        if low is not None:
            keep &= (times >= low).to_numpy()
        if high is not None:
            whole_day = high == high.normalize()
            keep &= (times < high + pd.Timedelta(days=1) if whole_day else times <= high).to_numpy()
    if channel_map is not None:
        mapped = apply_channel_map(pd.DataFrame({CHANNEL: channels, GROUP: channels}), channel_map)
        channels = pd.Series(mapped[CHANNEL].to_numpy(), dtype="string")
    totals = pd.Series(amounts[keep]).groupby(channels[keep].to_numpy(dtype=object)).sum()
    return totals.astype(np.float64).rename(SPEND).rename_axis(CHANNEL)


def spend_table(spend: pd.Series) -> pd.DataFrame:
    """`spend_by_channel`'s spend as a table (channel, spend), for keeping beside the linked logs;
    `spend_from_table` reads it back."""
    return spend.rename("spend").rename_axis(CHANNEL).reset_index()


def spend_from_table(table: pd.DataFrame) -> pd.Series:
    """The spend per channel that `spend_table` wrote."""
    return table.set_index(CHANNEL)["spend"]


def channel_roi(credit: pd.DataFrame, spend: pd.Series, groups: pd.Series | None = None) -> pd.DataFrame:
    """Spend, credit and return for every model and channel.

    `credit` is `Attribution.credit` (model, channel, conversions, revenue and optionally their
    standard errors conversions_se, revenue_se); `spend` the spend per channel (as from
    `spend_by_channel`). Every channel with credit or spend gets a row in every model: one with
    spend that a model never credits has 0 conversions and 0 revenue; one without spend has
    spend 0. (A channel with neither, such as one whose spend is 0 in the period, has no row.)

    Columns: model, channel, (group, when `groups` maps channels to groups; a channel it does
    not name is its own group), spend, conversions, conversions_se, revenue, revenue_se, then
    roi = (revenue - spend) / spend, roas = revenue / spend and cost_per_conversion =
    spend / conversions, each with its standard error (spend is known exactly, so they scale the
    credit's errors; cost per conversion by the delta method), and `note`, which says why a
    ratio is NaN ("" when none is). Rows keep the order of `credit`, each model's spend-only channels after its others.
    """
    rows = _credit_with_spend(credit, _checked_spend(spend))
    if groups is not None:
        rows.insert(2, GROUP, _group_of(rows[CHANNEL], groups))
    return _with_ratios(rows, "channel")


def group_roi(credit: pd.DataFrame, spend: pd.Series, groups: pd.Series) -> pd.DataFrame:
    """`channel_roi` per model and channel group: spend and credit summed over the group's channels,
    and the ratios of those sums (not sums of the channels' ratios).

    The standard errors of the summed credit are the sums of the channels' errors: the models'
    sampling errors of two channels are correlated and their covariance is not kept, and the sum
    is an upper bound whatever it is, so intervals built from them are conservative."""
    rows = channel_roi(credit, spend, groups)
    summed = rows.groupby([MODEL, GROUP], sort=False, as_index=False)[
        [SPEND, CONVERSIONS, "conversions_se", REVENUE, "revenue_se"]
    ].sum()
    return _with_ratios(summed, "group")


def _credit_with_spend(credit: pd.DataFrame, spend: pd.Series) -> pd.DataFrame:
    missing = [c for c in (MODEL, CHANNEL, CONVERSIONS, REVENUE) if c not in credit.columns]
    if missing:
        raise ImpactIQError(
            f"The credit table has no column '{missing[0]}'; it needs model, channel, conversions and revenue "
            f"(Attribution.credit). Its columns: {', '.join(map(str, credit.columns))}."
        )
    rows = pd.DataFrame(
        {
            MODEL: credit[MODEL].to_numpy(dtype=object),
            CHANNEL: credit[CHANNEL].astype("string").to_numpy(dtype=object),
            CONVERSIONS: credit[CONVERSIONS].to_numpy(dtype=np.float64),
            "conversions_se": _column_or_zero(credit, "conversions_se"),
            REVENUE: credit[REVENUE].to_numpy(dtype=np.float64),
            "revenue_se": _column_or_zero(credit, "revenue_se"),
            "credited": True,
        }
    )
    spent = set(spend.index[spend.to_numpy() > 0])
    uncredited = [
        pd.DataFrame({MODEL: model, CHANNEL: sorted(spent - set(of_model[CHANNEL]))})
        for model, of_model in rows.groupby(MODEL, sort=False)
    ]
    rows = pd.concat([rows, *uncredited], ignore_index=True)
    # Each model's rows together, in the order of `credit`, its spend-only channels last.
    order = {model: i for i, model in enumerate(rows[MODEL].unique())}
    rows = rows.sort_values(MODEL, key=lambda models: models.map(order), kind="stable", ignore_index=True)
    rows = rows.fillna(
        {CONVERSIONS: 0.0, "conversions_se": 0.0, REVENUE: 0.0, "revenue_se": 0.0, "credited": False}
    )
    rows.insert(2, SPEND, rows[CHANNEL].map(spend).fillna(0.0).to_numpy(dtype=np.float64))
    return rows


def _with_ratios(rows: pd.DataFrame, noun: str) -> pd.DataFrame:
    """The ratios, their standard errors and the note; NaN where a ratio has nothing to divide by."""
    spend = rows[SPEND].to_numpy(dtype=np.float64)
    conversions = rows[CONVERSIONS].to_numpy(dtype=np.float64)
    revenue = rows[REVENUE].to_numpy(dtype=np.float64)
    spent, converted = spend > 0, conversions > 0
    per_spend = np.divide(1.0, spend, out=np.full_like(spend, np.nan), where=spent)
    per_conversion = np.divide(1.0, conversions, out=np.full_like(spend, np.nan), where=converted & spent)
    ratios = {
        "roi": (revenue - spend) * per_spend,
        "roi_se": rows["revenue_se"].to_numpy(dtype=np.float64) * per_spend,
        "roas": revenue * per_spend,
        "roas_se": rows["revenue_se"].to_numpy(dtype=np.float64) * per_spend,
        "cost_per_conversion": spend * per_conversion,
        "cost_per_conversion_se": spend
        * rows["conversions_se"].to_numpy(dtype=np.float64)
        * per_conversion**2,
    }
    credited = rows["credited"].to_numpy(dtype=bool) if "credited" in rows else np.ones(len(rows), dtype=bool)
    notes = [
        "; ".join(
            text
            for text, applies in (
                (NO_SPEND.format(noun=noun), not s),
                (NOT_CREDITED, not c),
                (NO_CONVERSIONS, s and c and not v),
            )
            if applies
        )
        for s, c, v in zip(spent, credited, converted, strict=True)
    ]
    return rows.drop(columns="credited", errors="ignore").assign(**ratios, note=notes)


def _checked_spend(spend: pd.Series) -> pd.Series:
    """The spend per channel as floats (missing as 0), refused when not numbers, negative or named twice."""
    values = pd.to_numeric(spend, errors="coerce")
    bad = values.isna() & spend.notna()
    if bad.any():
        shown = ", ".join(
            f"{channel} ({quoted(value)})" for channel, value in spend[bad].head(MAX_SHOWN).items()
        )
        raise ImpactIQError(f"The spend of {bad.sum():,} channel(s) is not a number: {shown}. Give amounts.")
    negative = values < 0
    if negative.any():
        shown = ", ".join(
            f"{channel} ({value:g})" for channel, value in values[negative].head(MAX_SHOWN).items()
        )
        raise ImpactIQError(
            f"The spend of {negative.sum():,} channel(s) is negative: {shown}. Spend is a cost."
        )
    channels = pd.Index(spend.index.astype("string"))
    if channels.has_duplicates:
        raise ImpactIQError(
            f"The spend names channel '{channels[channels.duplicated()][0]}' more than once; give one total per "
            "channel (spend_by_channel sums them)."
        )
    return pd.Series(values.fillna(0.0).to_numpy(dtype=np.float64), index=channels.to_numpy(dtype=object))


def _group_of(channels: pd.Series, groups: pd.Series) -> np.ndarray:
    """Each channel's group; a channel that `groups` does not name is its own group."""
    pairs = pd.DataFrame({CHANNEL: groups.index.astype("string"), GROUP: groups.astype("string").to_numpy()})
    pairs = pairs.drop_duplicates()
    twice = pairs[CHANNEL][pairs[CHANNEL].duplicated()]
    if len(twice):
        raise ImpactIQError(
            f"The groups put channel '{twice.iloc[0]}' in more than one group; give each channel one group."
        )
    group = channels.map(pd.Series(pairs[GROUP].to_numpy(), index=pairs[CHANNEL].to_numpy()))
    return group.fillna(channels).to_numpy(dtype=object)


def _bound(value: object, times: pd.Series, which: str) -> pd.Timestamp | None:
    """`start` or `end` as a timestamp comparable with `times`."""
    if value is None:
        return None
    try:
        bound = pd.Timestamp(value)
    except (TypeError, ValueError):
        bound = pd.NaT
    if pd.isna(bound):
        raise ImpactIQError(
            f"The period's {which} {value!r} is not a date; give it as a date or ISO 8601 text (2024-01-31)."
        )
    zone = times.dt.tz
    if zone is not None and bound.tz is None:
        return bound.tz_localize(zone)
    if zone is None and bound.tz is not None:
        raise ImpactIQError(
            f"The period's {which} {value} has a time zone but the spend dates have none; give it without one."
        )
    return bound


def _column_or_zero(table: pd.DataFrame, column: str) -> np.ndarray:
    if column in table.columns:
        return table[column].fillna(0.0).to_numpy(dtype=np.float64)
    return np.zeros(len(table))
