"""The causal check: holdout lift per channel, and credit held against it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from impactiq.errors import ImpactIQError
from impactiq.journeys.attribution import attribute
from impactiq.journeys.causal import credit_against_lift, credit_error, holdout_flags, holdout_lift
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
    lift = holdout_lift(events.holdouts, events.conversions["person"].unique())
    credit = attribute(events).credit
    return data, lift, credit_against_lift(credit, lift, data.truth), list(credit["model"].unique())


def test_the_experiment_recovers_the_true_incremental_conversions(check):
    data, lift, table, _ = check
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
    _, _, table, models = check
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
