"""Touchpoint and conversion logs, mapped and checked, with every row linked to a person.

Users bring two tables in their own layout: touchpoints (a time, a channel or source, and at
least one identifier: customer id, phone, e-mail) and conversions (identifiers, a time, and
optionally a stage and revenue). `prepare_events` reads the columns the mapping names, parses
times, applies an optional channel map (source > channel > group), links both tables to people
through one identity graph (`journeys.identity`) and returns the canonical tables that
`journeys.paths` reads. Anything wrong names the table, the column and the first rows, and says
how to fix it; rows that cannot be used (no identifier) are dropped with a warning, never
silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from impactiq.errors import ImpactIQError
from impactiq.journeys.causal import HELD_OUT, holdout_flags
from impactiq.journeys.checks import MAX_SHOWN, amounts_of, require_columns
from impactiq.journeys.identity import CUSTOMER_COLUMNS, IdentityReport, link_people
from impactiq.journeys.paths import CHANNEL, PERSON, REVENUE, STAGE, TIMESTAMP

GROUP = "group"
COST = "cost"
IDENTIFIERS = ("customer_id", "phone", "email")


@dataclass(frozen=True)
class TouchpointColumns:
    """Which column of the touchpoint table holds what; an identifier may be None if absent."""

    timestamp: str = "timestamp"
    channel: str = "channel"
    customer_id: str | None = "customer_id"
    phone: str | None = "phone"
    email: str | None = "email"
    cost: str | None = None

    @classmethod
    def suggest(cls, columns) -> TouchpointColumns:
        """The default names, keeping only the optional columns the table has."""
        present = set(columns)
        return cls(
            **{kind: kind if kind in present else None for kind in IDENTIFIERS},
            cost=COST if COST in present else None,
        )


@dataclass(frozen=True)
class ConversionColumns:
    """Which column of the conversion table holds what; optional ones may be None."""

    timestamp: str = "timestamp"
    customer_id: str | None = "customer_id"
    phone: str | None = "phone"
    email: str | None = "email"
    stage: str | None = None
    revenue: str | None = None

    @classmethod
    def suggest(cls, columns) -> ConversionColumns:
        present = set(columns)
        return cls(
            **{kind: kind if kind in present else None for kind in IDENTIFIERS},
            stage=STAGE if STAGE in present else None,
            revenue=REVENUE if REVENUE in present else None,
        )


@dataclass(frozen=True)
class HoldoutColumns:
    """Which column of the holdouts table holds what: one row per person eligible for a channel,
    saying whether the person was held out of it at random (`journeys.causal`)."""

    channel: str = "channel"
    held_out: str = "held_out"
    customer_id: str | None = "customer_id"
    phone: str | None = "phone"
    email: str | None = "email"

    @classmethod
    def suggest(cls, columns) -> HoldoutColumns:
        present = set(columns)
        return cls(**{kind: kind if kind in present else None for kind in IDENTIFIERS})


@dataclass(frozen=True)
class Events:
    """Canonical touchpoints (person, timestamp, channel, group, cost), conversions (person,
    timestamp, stage, revenue) and, when given, holdouts (person, channel, held_out); the
    identity report, and what the user should know."""

    touches: pd.DataFrame
    conversions: pd.DataFrame
    identity: IdentityReport
    warnings: list[str] = field(default_factory=list)
    holdouts: pd.DataFrame | None = None

    @property
    def channel_groups(self) -> pd.Series:
        """Each channel's group (itself, unless a channel map grouped it), indexed by channel."""
        return self.touches.drop_duplicates(CHANNEL).set_index(CHANNEL)[GROUP]

    @property
    def grouped(self) -> bool:
        """Whether a channel map put any channel in a group other than itself."""
        groups = self.channel_groups
        return bool((groups != groups.index).any())

    @property
    def stages(self) -> tuple[str, ...]:
        return tuple(sorted(self.conversions[STAGE].unique()))

    def of_stage(self, stage: str | None) -> pd.DataFrame:
        """The conversions of one stage (all of them for None)."""
        if stage is None:
            return self.conversions
        if stage not in self.stages:
            raise ImpactIQError(
                f"There is no conversion stage '{stage}'; the stages are {', '.join(self.stages)}."
            )
        return self.conversions[self.conversions[STAGE] == stage]


def events_as_tables(events: Events) -> tuple[dict[str, pd.DataFrame], dict]:
    """The linked logs as named tables and a JSON-able description, for keeping them
    (`uplift.workspace.Workspace.save_tables`); `events_from_tables` reads them back."""
    tables = {"touches": events.touches, "conversions": events.conversions}
    if events.holdouts is not None:
        tables["holdouts"] = events.holdouts
    return tables, {"identity": events.identity.to_dict(), "warnings": list(events.warnings)}


def events_from_tables(tables: dict[str, pd.DataFrame], about: dict) -> Events:
    """`Events` from what `events_as_tables` wrote."""
    try:
        return Events(
            touches=tables["touches"],
            conversions=tables["conversions"],
            identity=IdentityReport.from_dict(about["identity"]),
            warnings=list(about["warnings"]),
            holdouts=tables.get("holdouts"),
        )
    except (KeyError, TypeError) as error:
        raise ImpactIQError(
            f"The journeys kept for this link are incomplete ({error!r}); load them again."
        ) from error


def _customer_columns(customers: pd.DataFrame | None) -> dict[str, str]:
    """The customers table's identifier columns: customer_id, and phone and e-mail where the table
    has them. A CRM export with no phone column links through its e-mails alone; refusing it
    would ask the user to name a column the table does not have."""
    if customers is None:
        return dict(CUSTOMER_COLUMNS)
    return {
        kind: column
        for kind, column in CUSTOMER_COLUMNS.items()
        if kind == "customer_id" or column in customers
    }


def prepare_events(
    touchpoints: pd.DataFrame,
    conversions: pd.DataFrame,
    *,
    touch_columns: TouchpointColumns | None = None,
    conversion_columns: ConversionColumns | None = None,
    customers: pd.DataFrame | None = None,
    channel_map: pd.DataFrame | None = None,
    holdouts: pd.DataFrame | None = None,
    holdout_columns: HoldoutColumns | None = None,
    region: str = "US",
    names: tuple[str, ...] = ("touchpoints", "conversions", "holdouts"),
) -> Events:
    """Checked, linked, canonical tables from the user's touchpoint and conversion tables.

    `names` name the tables in messages (the uploaded files' names). `channel_map` has the
    columns source, channel and optionally group (see `apply_channel_map`); it renames the
    holdouts' channels too, so that they meet the touchpoints' channels."""
    touch_columns = touch_columns or TouchpointColumns.suggest(touchpoints.columns)
    conversion_columns = conversion_columns or ConversionColumns.suggest(conversions.columns)
    touch_name, conversion_name = names[:2]
    holdout_name = names[2] if len(names) > 2 else "holdouts"
    require_columns(touchpoints, touch_name, [touch_columns.timestamp, touch_columns.channel])
    require_columns(conversions, conversion_name, [conversion_columns.timestamp])
    touch_ids = _identifier_columns(touchpoints, touch_columns, touch_name)
    conversion_ids = _identifier_columns(conversions, conversion_columns, conversion_name)
    touch_times = parse_times(touchpoints[touch_columns.timestamp], touch_name, touch_columns.timestamp)
    conversion_times = parse_times(
        conversions[conversion_columns.timestamp], conversion_name, conversion_columns.timestamp
    )
    if isinstance(touch_times.dtype, pd.DatetimeTZDtype) != isinstance(
        conversion_times.dtype, pd.DatetimeTZDtype
    ):
        raise ImpactIQError(
            f"The times in '{touch_name}' and '{conversion_name}' mix time zones: one table gives a UTC offset "
            "and the other does not. Write both with an offset (2024-01-31T14:05+01:00) or both without."
        )
    channels = _channels(touchpoints[touch_columns.channel], touch_name, touch_columns.channel)
    tables = {touch_name: touchpoints, conversion_name: conversions}
    identifiers = {touch_name: touch_ids, conversion_name: conversion_ids}
    if holdouts is not None:
        holdout_columns = holdout_columns or HoldoutColumns.suggest(holdouts.columns)
        require_columns(holdouts, holdout_name, [holdout_columns.channel, holdout_columns.held_out])
        tables[holdout_name] = holdouts
        identifiers[holdout_name] = _identifier_columns(holdouts, holdout_columns, holdout_name)
    links = link_people(
        tables,
        identifiers,
        customers=customers,
        customer_columns=_customer_columns(customers),
        region=region,
    )
    touches = pd.DataFrame(
        {
            PERSON: links.person_ids[touch_name].array,
            TIMESTAMP: touch_times.to_numpy() if touch_times.dt.tz is None else touch_times.array,
            CHANNEL: channels,
            COST: amounts_of(touchpoints, touch_columns.cost, touch_name) if touch_columns.cost else 0.0,
        }
    )
    touches[GROUP] = touches[CHANNEL]
    if channel_map is not None:
        touches = apply_channel_map(touches, channel_map)
    converted = pd.DataFrame(
        {
            PERSON: links.person_ids[conversion_name].array,
            TIMESTAMP: conversion_times.to_numpy()
            if conversion_times.dt.tz is None
            else conversion_times.array,
            STAGE: (
                conversions[conversion_columns.stage].astype("string").fillna("(no stage)").to_numpy()
                if conversion_columns.stage
                else "conversion"
            ),
            REVENUE: (
                amounts_of(conversions, conversion_columns.revenue, conversion_name)
                if conversion_columns.revenue
                else 0.0
            ),
        }
    )
    warnings = []
    touches = _drop_unidentified(touches, touch_name, warnings)
    converted = _drop_unidentified(converted, conversion_name, warnings)
    held = None
    if holdouts is not None:
        held = pd.DataFrame(
            {
                PERSON: links.person_ids[holdout_name].array,
                CHANNEL: _channels(holdouts[holdout_columns.channel], holdout_name, holdout_columns.channel),
                HELD_OUT: holdout_flags(
                    holdouts[holdout_columns.held_out], holdout_name, holdout_columns.held_out
                ),
            }
        )
        if channel_map is not None:
            held[CHANNEL] = apply_channel_map(held.assign(**{GROUP: held[CHANNEL]}), channel_map)[
                CHANNEL
            ].to_numpy()
        held = _drop_unidentified(held, holdout_name, warnings).astype({PERSON: np.int64})
    return Events(
        touches=touches.astype({PERSON: np.int64}),
        conversions=converted.astype({PERSON: np.int64}),
        identity=links.report,
        warnings=warnings,
        holdouts=held,
    )


def parse_times(column: pd.Series, table: str, name: str) -> pd.Series:
    """A column of times as datetimes: datetime columns as they are, text as ISO 8601.

    Refuses a column whose values do not parse (naming the first rows and values) or that mixes
    time zones; never guesses between day/month and month/day."""
    if pd.api.types.is_datetime64_any_dtype(column):
        times = column
    else:
        try:
            times = pd.to_datetime(column, format="ISO8601", errors="coerce")
        except ValueError as error:
            raise ImpactIQError(
                f"The times in column '{name}' of '{table}' mix time zones (some rows give a UTC offset that "
                f"others do not, or different offsets). Write every time with the same offset, or convert them "
                f"to UTC first. ({error})"
            ) from None
    bad = (times.isna() & column.notna()).to_numpy() | column.isna().to_numpy()
    if bad.any():
        rows = np.flatnonzero(bad)[:MAX_SHOWN]
        shown = ", ".join(f"row {r + 1} ({column.iloc[r]!r})" for r in rows)
        raise ImpactIQError(
            f"{bad.sum():,} time(s) in column '{name}' of '{table}' are missing or do not parse: {shown}. Write "
            "times as ISO 8601, e.g. 2024-01-31 or 2024-01-31 14:05 or 2024-01-31T14:05+01:00, or remove those rows."
        )
    return pd.Series(times, index=column.index)


def apply_channel_map(touches: pd.DataFrame, channel_map: pd.DataFrame) -> pd.DataFrame:
    """Touchpoint sources renamed to channels, each with its group, from a small mapping table.

    The map has the columns `source` and `channel`, optionally `group`; sources it does not
    name keep their name and are their own group."""
    if not {"source", "channel"} <= set(channel_map.columns):
        raise ImpactIQError(
            "The channel map needs the columns 'source' and 'channel' (and optionally 'group'); it has "
            f"{', '.join(map(str, channel_map.columns))}."
        )
    repeated = channel_map["source"][channel_map["source"].duplicated()]
    if len(repeated):
        raise ImpactIQError(
            f"The channel map names source '{repeated.iloc[0]}' more than once; give each source one channel."
        )
    source = touches[CHANNEL].astype("string")
    sources = channel_map["source"].astype("string")
    channel = source.map(pd.Series(channel_map["channel"].astype("string").to_numpy(), index=sources))
    group_of = channel_map["group"] if "group" in channel_map else channel_map["channel"]
    group = source.map(pd.Series(group_of.astype("string").to_numpy(), index=sources))
    return touches.assign(
        **{CHANNEL: channel.fillna(source).to_numpy(), GROUP: group.fillna(channel.fillna(source)).to_numpy()}
    )


def _identifier_columns(table: pd.DataFrame, columns, where: str) -> dict[str, str]:
    chosen = {kind: getattr(columns, kind) for kind in IDENTIFIERS if getattr(columns, kind)}
    if not chosen:
        raise ImpactIQError(
            f"'{where}' needs at least one identifier column (customer id, phone or e-mail) to link it to people; "
            "none was chosen."
        )
    require_columns(table, where, list(chosen.values()))
    return chosen


def _channels(column: pd.Series, table: str, name: str) -> pd.api.extensions.ExtensionArray:
    """The channel names as text (an Arrow string array: a few names repeated over millions of
    rows, where Python strings would cost some 60 bytes a row)."""
    text = column.astype("string").str.strip()
    empty = (text.isna() | (text == "")).to_numpy()
    if empty.any():
        rows = np.flatnonzero(empty)[:MAX_SHOWN]
        raise ImpactIQError(
            f"{empty.sum():,} touchpoint(s) in '{table}' have no channel in column '{name}' (rows "
            f"{', '.join(str(r + 1) for r in rows)}). Fill them in (for example 'unknown') or remove those rows."
        )
    return text.astype("str").array


def _drop_unidentified(table: pd.DataFrame, where: str, warnings: list[str]) -> pd.DataFrame:
    missing = table[PERSON].isna().to_numpy()
    if missing.any():
        rows = np.flatnonzero(missing)[:MAX_SHOWN]
        warnings.append(
            f"{missing.sum():,} row(s) of '{where}' have no usable identifier (all empty or invalid) and were left "
            f"out (rows {', '.join(str(r + 1) for r in rows)}{', ...' if missing.sum() > MAX_SHOWN else ''})."
        )
    return table[~missing].reset_index(drop=True)
