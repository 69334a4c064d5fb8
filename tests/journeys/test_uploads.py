"""Uploaded files linked into journeys, optional files included, each named by its file."""

from __future__ import annotations

import pandas as pd
import pytest

from impactiq.errors import ImpactIQError
from impactiq.journeys.events import prepare_events
from impactiq.journeys.spend import spend_by_channel
from impactiq.journeys.synthetic import make_journeys
from impactiq.journeys.uploads import link_uploads


@pytest.fixture(scope="module")
def data():
    return make_journeys(300, seed=2)


def test_the_logs_alone_link_as_prepare_events_does(data):
    kept = link_uploads(
        {"touchpoints": ("t.csv", data.touchpoints), "conversions": ("c.csv", data.conversions)}
    )
    expected = prepare_events(data.touchpoints, data.conversions)
    pd.testing.assert_frame_equal(kept.events.touches, expected.touches)
    assert kept.source == "uploaded files t.csv and c.csv"
    assert kept.spend is None and kept.truth is None and kept.events.holdouts is None


def test_optional_files_are_linked_and_the_spend_summed_per_channel(data):
    files = {
        "touchpoints": ("t.csv", data.touchpoints),
        "conversions": ("c.csv", data.conversions),
        "customers": ("crm.csv", data.customers),
        "holdouts": ("h.csv", data.holdouts),
        "spend": ("s.csv", data.spend.rename("spend").rename_axis("channel").reset_index()),
    }
    kept = link_uploads(files)
    expected = prepare_events(
        data.touchpoints, data.conversions, customers=data.customers, holdouts=data.holdouts
    )
    pd.testing.assert_frame_equal(kept.events.holdouts, expected.holdouts)
    pd.testing.assert_series_equal(kept.spend, spend_by_channel(files["spend"][1]))


def test_a_bad_optional_file_is_named_by_its_file(data):
    files = {
        "touchpoints": ("t.csv", data.touchpoints),
        "conversions": ("c.csv", data.conversions),
        "spend": ("budget.csv", pd.DataFrame({"channel": ["email"], "cost": [1.0]})),
    }
    with pytest.raises(ImpactIQError, match="budget.csv"):
        link_uploads(files)
