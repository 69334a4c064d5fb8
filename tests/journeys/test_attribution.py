"""Every model side by side for one stage: the same conversions credited, each its own way."""

from __future__ import annotations

import pandas as pd
import pytest

from impactiq.errors import ImpactIQError
from impactiq.journeys.attribution import MODELS, AttributionSettings, attribute, credit_by_group
from impactiq.journeys.events import prepare_events
from tests.journeys.reference_paths import CASES, as_logs


def _events(rows=CASES["three channels"], stage_every=None):
    touches, conversions = as_logs(rows, revenue=3.0)
    conversions = conversions.rename(columns={"person": "customer_id"})
    if stage_every:
        conversions["stage"] = ["booked" if i % stage_every else "paid" for i in range(len(conversions))]
    return prepare_events(touches.rename(columns={"person": "customer_id"}), conversions)


def test_every_model_credits_every_attributed_conversion_once():
    result = attribute(_events())
    totals = result.credit.groupby("model")[["conversions", "revenue"]].sum()
    assert set(totals.index) == set(MODELS)
    assert totals["conversions"].tolist() == pytest.approx([23.0] * len(MODELS))
    assert totals["revenue"].tolist() == pytest.approx([69.0] * len(MODELS))
    assert result.attributed == 23 and not result.notes


def test_models_disagree_where_they_should():
    credit = attribute(_events()).credit.set_index(["model", "channel"])["conversions"]
    # display opens two journeys that convert (display>email) and never closes one.
    assert credit["first", "display"] == pytest.approx(4.0)
    assert credit["last", "display"] == 0.0
    assert credit["linear", "display"] == pytest.approx(2.0)


def test_a_stage_is_attributed_on_its_own():
    events = _events(stage_every=3)
    paid = attribute(events, ("linear",), AttributionSettings(stage="paid"))
    booked = attribute(events, ("linear",), AttributionSettings(stage="booked"))
    assert paid.attributed + booked.attributed == 23
    with pytest.raises(ImpactIQError, match="no conversion stage 'attended'"):
        attribute(events, ("linear",), AttributionSettings(stage="attended"))


def test_markov_steps_aside_among_others_when_every_journey_converted():
    events = _events(rows=[("a>b", 3, 0), ("b", 2, 0)])
    result = attribute(events, ("linear", "markov"))
    assert set(result.credit["model"]) == {"linear"} and "Markov model was left out" in result.notes[0]


def test_conversions_with_no_touch_in_the_window_are_counted_and_reported():
    events = _events()
    far = events.conversions.assign(timestamp=events.conversions["timestamp"] + pd.Timedelta(days=90))
    with pytest.raises(ImpactIQError, match="None of the 23 conversions has a touchpoint"):
        attribute(type(events)(events.touches, far, events.identity), ("first",))


def test_unknown_models_are_refused():
    with pytest.raises(ImpactIQError, match="choose from first, last"):
        attribute(_events(), ("magic",))


def test_credit_by_group_sums_the_channels():
    credit = attribute(_events(), ("linear", "shapley")).credit
    grouped = credit_by_group(credit, pd.Series({"email": "owned", "social": "paid", "display": "paid"}))
    linear = grouped[grouped["model"] == "linear"].set_index("channel")["conversions"]
    by_channel = credit[credit["model"] == "linear"].set_index("channel")["conversions"]
    assert linear["paid"] == pytest.approx(by_channel["social"] + by_channel["display"])
    assert linear["owned"] == pytest.approx(by_channel["email"])
