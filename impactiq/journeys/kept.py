"""The journeys a session keeps for a reload: the linked logs, where they came from, their known
truth and the spend, as named tables and back (`uplift.workspace.Workspace.save_tables`)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from impactiq.errors import ImpactIQError
from impactiq.journeys.events import Events, events_as_tables, events_from_tables
from impactiq.journeys.spend import spend_from_table, spend_table

TRUTH = "truth"
SPEND = "spend"


@dataclass(frozen=True)
class KeptJourneys:
    """Linked logs and what goes with them: `source` says where they came from in words, `truth`
    holds the synthetic demo's true effects (None for uploaded logs), `spend` the spend per channel
    (None without a spend file)."""

    events: Events
    source: str
    truth: pd.DataFrame | None = None
    spend: pd.Series | None = None


def journeys_as_tables(kept: KeptJourneys) -> tuple[dict[str, pd.DataFrame], dict]:
    """The kept journeys as named tables and a JSON-able description; `journeys_from_tables`
    reads them back."""
    tables, about = events_as_tables(kept.events)
    if kept.truth is not None:
        tables[TRUTH] = kept.truth
    if kept.spend is not None:
        tables[SPEND] = spend_table(kept.spend)
    return tables, {**about, "source": kept.source}


def journeys_from_tables(tables: dict[str, pd.DataFrame], about: dict) -> KeptJourneys:
    """`KeptJourneys` from what `journeys_as_tables` wrote; an incomplete set is refused with a
    message."""
    events = events_from_tables(tables, about)
    if "source" not in about:
        raise ImpactIQError("The journeys kept for this link are incomplete (no source); load them again.")
    spend = spend_from_table(tables[SPEND]) if SPEND in tables else None
    return KeptJourneys(events, str(about["source"]), tables.get(TRUTH), spend)
