"""Which touches make each conversion's path: lookback, earlier conversions, ties, the rest."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from impactiq.errors import ImpactIQError
from impactiq.journeys.paths import MAX_LOOKBACK_DAYS, build_journeys


def _touches(rows):
    return pd.DataFrame(
        [(p, pd.Timestamp(t), c) for p, t, c in rows], columns=["person", "timestamp", "channel"]
    )


def _conversions(rows):
    return pd.DataFrame(
        [(p, pd.Timestamp(t), r) for p, t, r in rows], columns=["person", "timestamp", "revenue"]
    )


def _paths(journeys):
    """Each conversion's channel names, in order."""
    names = np.array(journeys.channels)[journeys.channel]
    return [list(names[journeys.conversion == j]) for j in range(journeys.n_conversions)]


def test_a_path_holds_the_persons_touches_in_the_lookback_window_in_time_order():
    touches = _touches(
        [
            (0, "2024-01-20 12:00", "social"),
            (0, "2024-01-01 09:00", "email"),  # 40 days before: outside a 30-day window
            (0, "2024-01-25 08:00", "display"),
            (1, "2024-01-24 08:00", "email"),  # another person
            (0, "2024-02-11 00:00", "email"),  # after the conversion
        ]
    )
    journeys = build_journeys(touches, _conversions([(0, "2024-02-10 12:00", 5.0)]), lookback_days=30)
    assert _paths(journeys) == [["social", "display"]]
    np.testing.assert_allclose(journeys.age_days, [21.0, 16 + 4 / 24])
    assert journeys.unattributed == 0


def test_the_window_includes_both_ends():
    touches = _touches([(0, "2024-01-01 00:00", "a"), (0, "2024-01-31 00:00", "b")])
    journeys = build_journeys(touches, _conversions([(0, "2024-01-31 00:00", 0.0)]), lookback_days=30)
    assert _paths(journeys) == [["a", "b"]]


def test_a_second_conversion_credits_only_the_touches_after_the_first():
    touches = _touches(
        [(0, "2024-01-01", "email"), (0, "2024-01-03", "social"), (0, "2024-01-06", "display")]
    )
    conversions = _conversions([(0, "2024-01-07", 1.0), (0, "2024-01-04", 2.0)])
    journeys = build_journeys(touches, conversions, lookback_days=30)
    assert _paths(journeys) == [["display"], ["email", "social"]]
    np.testing.assert_array_equal(journeys.path_length, [1, 2])


def test_touches_at_the_same_time_keep_the_table_order():
    touches = _touches([(0, "2024-01-02", "b"), (0, "2024-01-02", "a"), (0, "2024-01-01", "c")])
    journeys = build_journeys(touches, _conversions([(0, "2024-01-03", 0.0)]), lookback_days=7)
    assert _paths(journeys) == [["c", "b", "a"]]


def test_a_conversion_without_touches_is_counted_not_credited():
    touches = _touches([(0, "2024-01-01", "a")])
    conversions = _conversions([(0, "2024-01-02", 0.0), (1, "2024-01-02", 0.0)])
    journeys = build_journeys(touches, conversions, lookback_days=7)
    assert journeys.unattributed == 1 and _paths(journeys) == [["a"], []]


def test_non_converting_paths_are_the_touches_after_a_persons_last_conversion():
    touches = _touches(
        [
            (0, "2024-01-01", "a"),
            (0, "2024-01-05", "b"),  # after person 0's conversion: a journey that did not convert
            (1, "2023-06-01", "c"),  # more than the window before person 1's last touch
            (1, "2024-01-01", "d"),
            (1, "2024-01-02", "a"),
        ]
    )
    journeys = build_journeys(touches, _conversions([(0, "2024-01-02", 0.0)]), lookback_days=30)
    names = np.array(journeys.channels)[journeys.null_channel]
    assert journeys.n_null_paths == 2
    assert [list(names[journeys.null_path == k]) for k in range(2)] == [["b"], ["d", "a"]]


def test_the_lookback_must_be_positive():
    with pytest.raises(ImpactIQError, match="lookback"):
        build_journeys(_touches([(0, "2024-01-01", "a")]), _conversions([]), lookback_days=0)


@pytest.mark.parametrize("days", [0, float("inf"), float("nan"), MAX_LOOKBACK_DAYS + 1])
def test_a_lookback_window_outside_its_range_is_refused(days):
    """Seen: an OverflowError traceback for a lookback of 200,000 days or infinity."""
    touches = pd.DataFrame(
        {"person": [0], "timestamp": pd.to_datetime(["2024-01-01"]), "channel": ["email"], "revenue": [0.0]}
    )
    with pytest.raises(ImpactIQError, match="at most 3,650"):
        build_journeys(touches, _conversions([(0, "2024-01-02 00:00", 1.0)]), lookback_days=days)
