"""Uploaded files to linked journeys: the touchpoint and conversion logs with whichever of the
customers, holdouts, channel map and spend files came with them, each named by its file in
messages."""

from __future__ import annotations

import pandas as pd

from impactiq.journeys.events import ConversionColumns, TouchpointColumns, prepare_events
from impactiq.journeys.kept import KeptJourneys
from impactiq.journeys.spend import spend_by_channel

REQUIRED_FILES = ("touchpoints", "conversions")
OPTIONAL_FILES = ("customers", "holdouts", "channel_map", "spend")


def link_uploads(
    files: dict[str, tuple[str, pd.DataFrame]],
    *,
    touch_columns: TouchpointColumns | None = None,
    conversion_columns: ConversionColumns | None = None,
    region: str = "US",
) -> KeptJourneys:
    """Link the uploaded `files` (role -> (file name, table); the roles are `REQUIRED_FILES` and
    any of `OPTIONAL_FILES`) into journeys, with the spend per channel when a spend file came.
    The channel map renames the spend's channels as it does the touchpoints'."""
    touchpoints, conversions = (files[role] for role in REQUIRED_FILES)
    table = {role: files[role][1] if role in files else None for role in OPTIONAL_FILES}
    events = prepare_events(
        touchpoints[1],
        conversions[1],
        touch_columns=touch_columns,
        conversion_columns=conversion_columns,
        customers=table["customers"],
        channel_map=table["channel_map"],
        holdouts=table["holdouts"],
        region=region,
        names=(touchpoints[0], conversions[0], files["holdouts"][0] if "holdouts" in files else "holdouts"),
    )
    spend = (
        spend_by_channel(table["spend"], channel_map=table["channel_map"], name=files["spend"][0])
        if "spend" in files
        else None
    )
    return KeptJourneys(events, f"uploaded files {touchpoints[0]} and {conversions[0]}", spend=spend)
