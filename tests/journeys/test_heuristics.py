"""The rule-based models computed by hand on small journeys."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from impactiq.errors import ImpactIQError
from impactiq.journeys.heuristics import PositionShares, channel_credit, touch_credit
from impactiq.journeys.paths import build_journeys

# Person 0: email (Jan 1 10:00), social (Jan 3 09:00), display (Jan 3 18:00), converts Jan 5 (100).
# Person 0 again: email (Jan 9), converts Jan 10 (10). Person 1: email (Jan 2), social (Jan 20),
# converts Jan 21 (50). Channels are sorted: display, email, social.
TOUCHES = pd.DataFrame(
    {
        "person": [0, 0, 0, 1, 1, 0],
        "timestamp": pd.to_datetime(
            [
                "2024-01-01 10:00",
                "2024-01-03 09:00",
                "2024-01-03 18:00",
                "2024-01-02 00:00",
                "2024-01-20 00:00",
                "2024-01-09 00:00",
            ]
        ),
        "channel": ["email", "social", "display", "email", "social", "email"],
    }
)
CONVERSIONS = pd.DataFrame(
    {
        "person": [0, 1, 0],
        "timestamp": pd.to_datetime(["2024-01-05", "2024-01-21", "2024-01-10"]),
        "revenue": [100.0, 50.0, 10.0],
    }
)


@pytest.fixture(scope="module")
def journeys():
    return build_journeys(TOUCHES, CONVERSIONS, lookback_days=30)


def _decay(*ages, half_life=7.0):
    weights = np.exp2(-np.array(ages) / half_life)
    return weights / weights.sum()


# Touches in path order: [email, social, display] [email, social] [email]
@pytest.mark.parametrize(
    ("rule", "by_day", "expected"),
    [
        ("first", False, [1, 0, 0, 1, 0, 1]),
        ("last", False, [0, 0, 1, 0, 1, 1]),
        ("linear", False, [1 / 3, 1 / 3, 1 / 3, 0.5, 0.5, 1]),
        ("position", False, [0.4, 0.2, 0.4, 0.5, 0.5, 1]),
        ("time_decay", False, [*_decay(3 + 14 / 24, 1 + 15 / 24, 1 + 6 / 24), *_decay(19, 1), 1]),
        # Same day: social and display (Jan 3) are one step and share its credit.
        ("first", True, [1, 0, 0, 1, 0, 1]),
        ("last", True, [0, 0.5, 0.5, 0, 1, 1]),
        ("linear", True, [0.5, 0.25, 0.25, 0.5, 0.5, 1]),
        ("position", True, [0.5, 0.25, 0.25, 0.5, 0.5, 1]),
        ("time_decay", True, [_decay(4, 2)[0], _decay(4, 2)[1] / 2, _decay(4, 2)[1] / 2, *_decay(19, 1), 1]),
    ],
)
def test_each_rule_by_hand(journeys, rule, by_day, expected):
    np.testing.assert_allclose(touch_credit(journeys, rule, by_day=by_day), expected, atol=1e-12)


@pytest.mark.parametrize("rule", ["first", "last", "linear", "position", "time_decay"])
@pytest.mark.parametrize("by_day", [False, True])
def test_every_conversion_is_credited_once(journeys, rule, by_day):
    credit = touch_credit(journeys, rule, by_day=by_day)
    np.testing.assert_allclose(np.bincount(journeys.conversion, weights=credit), 1.0)
    conversions, revenue = channel_credit(journeys, credit)
    assert conversions.sum() == pytest.approx(3.0) and revenue.sum() == pytest.approx(160.0)


def test_channel_credit_adds_conversions_and_revenue(journeys):
    conversions, revenue = channel_credit(journeys, touch_credit(journeys, "linear"))
    # display: 1/3 of conversion 1; email: 1/3 + 1/2 + 1; social: 1/3 + 1/2.
    np.testing.assert_allclose(conversions, [1 / 3, 11 / 6, 5 / 6])
    np.testing.assert_allclose(revenue, [100 / 3, 100 / 3 + 25 + 10, 100 / 3 + 25])


def test_position_shares_are_settable(journeys):
    credit = touch_credit(journeys, "position", shares=PositionShares(first=0.3, last=0.5))
    np.testing.assert_allclose(credit, [0.3, 0.2, 0.5, 0.375, 0.625, 1])


@pytest.mark.parametrize(("first", "last"), [(0.7, 0.5), (-0.1, 0.4)])
def test_impossible_position_shares_are_refused(first, last):
    with pytest.raises(ImpactIQError, match="Position-based shares"):
        PositionShares(first=first, last=last)


def test_a_longer_half_life_spreads_credit(journeys):
    short = touch_credit(journeys, "time_decay", half_life_days=1.0)
    long = touch_credit(journeys, "time_decay", half_life_days=100.0)
    assert short[0] < long[0] < 1 / 3 < long[2] < short[2]


def test_a_very_short_half_life_gives_the_youngest_touch_all_the_credit(journeys):
    """Seen: a half-life of 0.001 days underflowed every weight of a path to 0, and its credit
    came out NaN."""
    credit = touch_credit(journeys, "time_decay", half_life_days=0.001)
    assert np.isfinite(credit).all()
    np.testing.assert_allclose(credit[:3], [0.0, 0.0, 1.0], atol=1e-12)


def test_unknown_rules_and_half_lives_are_refused(journeys):
    with pytest.raises(ImpactIQError, match="choose one of"):
        touch_credit(journeys, "u_shaped")
    with pytest.raises(ImpactIQError, match="half-life"):
        touch_credit(journeys, "time_decay", half_life_days=0)
