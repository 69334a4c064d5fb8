"""The synthetic journeys: seeded, linked as a CRM would, with the confounding they promise."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from impactiq.errors import ImpactIQError
from impactiq.journeys.events import prepare_events
from impactiq.journeys.identity import normalize_phones
from impactiq.journeys.synthetic import CHANNELS, COST_PER_TOUCH, HOLDOUT_SHARE, make_journeys


@pytest.fixture(scope="module")
def data():
    return make_journeys(20_000, seed=4)


def test_the_same_seed_gives_the_same_logs(data):
    again = make_journeys(20_000, seed=4)
    pd.testing.assert_frame_equal(again.touchpoints, data.touchpoints)
    pd.testing.assert_frame_equal(again.conversions, data.conversions)
    assert not make_journeys(20_000, seed=5).conversions.equals(data.conversions)


def test_every_log_links_to_its_people(data):
    assert normalize_phones(data.customers["phone"].dropna()).notna().all()
    events = prepare_events(
        data.touchpoints, data.conversions, customers=data.customers, holdouts=data.holdouts
    )
    assert not events.warnings
    # One person per customer: the CRM joins each customer's calls, e-mails and other touches.
    crm = data.customers
    owner = {
        **crm.dropna(subset=["phone"]).set_index("phone")["customer_id"],
        **crm.dropna(subset=["email"]).set_index("email")["customer_id"],
    }
    logged = data.touchpoints
    seen = {
        *logged["customer_id"].dropna(),
        *data.conversions["customer_id"],
        *data.holdouts["customer_id"],
        *(owner[p] for p in normalize_phones(logged["phone"].dropna())),
        *(owner[e.lower()] for e in logged["email"].dropna()),
    }
    assert events.identity.people == len(seen) and events.identity.merged_customers == 0


def test_each_channel_holds_out_its_share_of_the_eligible_at_random(data):
    shares = data.holdouts.groupby("channel")["held_out"].mean()
    assert set(shares.index) == set(CHANNELS)
    assert np.all(np.abs(shares - HOLDOUT_SHARE) < 0.02)


def test_conversions_follow_their_persons_touches(data):
    last = data.touchpoints.assign(
        who=data.touchpoints["customer_id"].fillna("")
    )  # calls and e-mails carry other identifiers; the ordering holds for the rest
    last = last[last["who"] != ""].groupby("who")["timestamp"].max()
    when = data.conversions.set_index("customer_id")["timestamp"]
    common = when.index.intersection(last.index)
    assert (when.reindex(common).to_numpy() >= last.reindex(common).to_numpy()).all()


def test_search_reaches_people_who_would_convert_anyway(data):
    """The confounding the causal check is about: search's exposed convert far more often than
    everyone, yet its true effect is the smallest."""
    truth = data.truth.set_index("channel")
    assert truth["effect"].idxmin() == "search"
    converted = set(data.conversions["customer_id"])
    eligible = data.holdouts[data.holdouts["channel"] == "search"]
    rate = eligible["customer_id"].isin(converted).mean()
    assert rate > 1.5 * len(converted) / 20_000


def test_spend_is_each_channels_touches_at_its_cost(data):
    touches = data.touchpoints["channel"].value_counts()
    assert data.spend["call"] == pytest.approx(touches["call"] * COST_PER_TOUCH["call"])
    assert set(data.spend.index) == set(CHANNELS)


def test_too_few_people_are_refused():
    with pytest.raises(ImpactIQError, match="at least 10 people"):
        make_journeys(5)
