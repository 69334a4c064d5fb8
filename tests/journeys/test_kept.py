"""Journeys kept for a reload: linked logs, their source, truth and spend survive a workspace."""

from __future__ import annotations

import pandas as pd
import pytest

from impactiq.errors import ImpactIQError
from impactiq.journeys.events import prepare_events
from impactiq.journeys.kept import KeptJourneys, journeys_as_tables, journeys_from_tables
from impactiq.journeys.synthetic import make_journeys
from impactiq.uplift.workspace import new_workspace


@pytest.fixture(scope="module")
def demo():
    data = make_journeys(300, seed=1)
    events = prepare_events(
        data.touchpoints, data.conversions, customers=data.customers, holdouts=data.holdouts
    )
    return data, events


def test_source_truth_and_spend_survive_a_workspace(demo, tmp_path):
    data, events = demo
    space = new_workspace(tmp_path)
    space.save_tables(
        "journeys", *journeys_as_tables(KeptJourneys(events, "demo journeys", data.truth, data.spend))
    )
    back = journeys_from_tables(*space.load_tables("journeys"))
    assert back.source == "demo journeys"
    pd.testing.assert_frame_equal(back.events.touches, events.touches, check_dtype=False)
    pd.testing.assert_frame_equal(back.truth, data.truth, check_dtype=False)
    pd.testing.assert_series_equal(back.spend, data.spend, check_dtype=False, check_names=False)


def test_journeys_without_truth_or_spend_come_back_without_them(demo, tmp_path):
    _, events = demo
    tables, about = journeys_as_tables(KeptJourneys(events, "uploaded files a.csv and b.csv"))
    assert "truth" not in tables and "spend" not in tables
    back = journeys_from_tables(tables, about)
    assert back.truth is None and back.spend is None and back.source == "uploaded files a.csv and b.csv"


def test_a_kept_set_without_its_source_is_refused_with_a_message(demo):
    _, events = demo
    tables, about = journeys_as_tables(KeptJourneys(events, "demo"))
    del about["source"]
    with pytest.raises(ImpactIQError, match="incomplete"):
        journeys_from_tables(tables, about)
