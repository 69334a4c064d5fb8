"""The causal check (`journeys.causal` and `journeys.check`): holdout lift per channel, and credit held against it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from impactiq.errors import ImpactIQError
from impactiq.journeys.attribution import attribute
from impactiq.journeys.causal import credit_error, holdout_flags, holdout_lift
from impactiq.journeys.check import causal_check, measured_lift
from impactiq.journeys.events import prepare_events
from impactiq.journeys.synthetic import make_journeys


def test_lift_by_hand():
    holdouts = pd.DataFrame(
        {
            "person": [0, 1, 2, 3, 4, 5, 0, 1],
            "channel": ["a"] * 6 + ["b"] * 2,
            "held_out": [False, False, False, False, True, True, False, True],
        }
    )
    table = holdout_lift(holdouts, np.array([0, 1, 4])).set_index("channel")
    # a: exposed 0-3 convert 2 of 4, held out 4-5 convert 1 of 2: lift 0, incremental 0.
    assert table.loc["a", ["exposed", "held_out"]].tolist() == [4, 2]
    assert table.loc["a", "lift"] == pytest.approx(0.0)
    se = np.sqrt(0.5 * 0.5 / 3 + 0.5 * 0.5 / 1)  # unpooled, sample variances (ddof 1)
    assert table.loc["a", "lift_upper"] == pytest.approx(1.959964 * se, rel=1e-5)
    # b: one exposed (converted), one held out (converted): lift 0 with no interval.
    assert np.isnan(table.loc["b", "lift_lower"])


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["yes", "No", " held out", "exposed"], [True, False, True, False]),
        ([1, 0, 1, 0], [True, False, True, False]),
    ],
)
def test_holdout_flags_read_the_usual_words(values, expected):
    assert holdout_flags(pd.Series(values), "h.csv", "held_out").tolist() == expected


def test_unknown_holdout_words_are_named_by_row():
    with pytest.raises(ImpactIQError, match=r"'group' of 'h.csv'.*row 2 \('maybe'\)"):
        holdout_flags(pd.Series(["yes", "maybe"]), "h.csv", "group")


@pytest.fixture(scope="module")
def check():
    data = make_journeys(60_000, seed=2)
    events = prepare_events(
        data.touchpoints, data.conversions, customers=data.customers, holdouts=data.holdouts
    )
    credit = attribute(events).credit
    checked = causal_check(events, credit, None, data.truth)
    assert checked.against == "truth" and checked.unavailable is None
    return data, checked.lift, checked.table, checked.models, checked


def test_the_experiment_recovers_the_true_incremental_conversions(check):
    data, lift, table, _, _ = check
    measured = lift.set_index("channel")
    truth = data.truth.set_index("channel")["incremental"].reindex(measured.index)
    # Five channels: each within three standard errors (a 95% interval misses one of five by chance
    # a fifth of the time).
    se = (measured["incremental_upper"] - measured["incremental_lower"]) / (2 * 1.959964)
    z = (measured["incremental"] - truth) / se
    assert (z.abs() < 3).all(), measured.assign(truth=truth, z=z)


def test_every_model_over_credits_the_channel_that_reaches_converters_anyway(check):
    """Search causes the least and sits on many converting paths: every model credits it many
    times its true incremental conversions. That is the table's point."""
    _, _, table, models, _ = check
    search = table.set_index("channel").loc["search"]
    assert all(search[m] > 5 * search["true_incremental"] for m in models)
    errors = credit_error(table, models).set_index("model")
    assert errors.loc["last", "misallocated"] > 0.3
    assert errors.loc["last", "worst_channel"] == "search"


def test_credit_error_by_hand():
    table = pd.DataFrame({"channel": ["a", "b"], "m": [3.0, 1.0], "true_incremental": [1.0, 1.0]})
    errors = credit_error(table, ["m"]).iloc[0]
    assert errors["misallocated"] == pytest.approx(0.25)
    assert errors["worst_channel"] == "a" and errors["worst_credit_share"] == pytest.approx(0.75)


def test_the_check_judges_the_credit_split_and_names_the_closest_model(check):
    data, lift, table, models, checked = check
    errors = credit_error(table, models).set_index("model")
    assert checked.errors.set_index("model")["misallocated"].to_dict() == errors["misallocated"].to_dict()
    assert checked.incremental["share"].sum() == pytest.approx(1.0)
    assert checked.closest["misallocated"] == errors["misallocated"].min()
    # The same lift the holdouts give over every converted person.
    expected = holdout_lift(data_events(data).holdouts, data_events(data).conversions["person"].unique())
    pd.testing.assert_frame_equal(lift, expected)


def data_events(data):
    return prepare_events(
        data.touchpoints, data.conversions, customers=data.customers, holdouts=data.holdouts
    )


def test_without_holdouts_there_is_no_check_and_without_a_positive_effect_it_says_why():
    data = make_journeys(2_000, seed=3)
    events = prepare_events(data.touchpoints, data.conversions, customers=data.customers)
    credit = attribute(events, ("last",)).credit
    assert measured_lift(events, None) is None and causal_check(events, credit, None) is None
    with_holdouts = data_events(data)
    truth = data.truth.assign(incremental=-1.0)  # every channel hurt: nothing to split credit by
    checked = causal_check(with_holdouts, attribute(with_holdouts, ("last",)).credit, None, truth)
    assert checked.errors is None and checked.closest is None
    assert "No channel has a positive incremental effect" in checked.unavailable
