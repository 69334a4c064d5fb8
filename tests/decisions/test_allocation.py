"""Tests of impactiq.decisions.allocation: traditional and causal plans against hand solutions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from impactiq.decisions import allocation

Z = norm.ppf(0.975)


def _table(users, credited, uplift, se=None) -> pd.DataFrame:
    """The columns of a segment table that allocation reads."""
    n = len(users)
    se = np.full(n, 0.01) if se is None else np.asarray(se, dtype=float)
    uplift = np.asarray(uplift, dtype=float)
    return pd.DataFrame(
        {
            "segment": [f"s{i}" for i in range(n)],
            "users": users,
            "treated": users,
            "credited": credited,
            "treated_mean": np.asarray(credited, dtype=float) / np.asarray(users),
            "treated_mean_se": np.full(n, 0.02),
            "observed_uplift": uplift,
            "observed_uplift_se": se,
            "observed_uplift_lower": uplift - Z * se,
            "observed_uplift_upper": uplift + Z * se,
        }
    )


HAND = _table([100, 50, 200, 80], [30, 10, 0, 40], [0.01, 0.05, 0.02, -0.03])


@pytest.mark.parametrize(
    ("contacts", "traditional", "causal"),
    [
        # 120 contacts split 30:10:0:40 -> 45, 15, 0, 60; causal fills s1 (0.05), then s2 (0.02).
        (120, [45, 15, 0, 60], [0, 50, 70, 0]),
        # 280 at 30:10:0:40 would be 105, 35, 0, 140: s0 and s3 fill (100, 80), the excess goes to s1
        # until it is full too; causal fills s1, then s2 (200), then s0 with the remaining 30.
        (280, [100, 50, 0, 80], [30, 50, 200, 0]),
        # More than all positive segments hold: causal stops at 350, traditional at the credited ones.
        (500, [100, 50, 0, 80], [100, 50, 200, 0]),
        (0, [0, 0, 0, 0], [0, 0, 0, 0]),
    ],
)
def test_allocations_match_hand_solutions(contacts, traditional, causal):
    np.testing.assert_array_equal(allocation.traditional_allocation(HAND, contacts), traditional)
    np.testing.assert_array_equal(allocation.causal_allocation(HAND, contacts), causal)


def test_proportional_allocation_redistributes_a_full_segment():
    table = _table([10, 1000, 1000], [50, 25, 25], [0.1, 0.1, 0.1])
    # 100 contacts at 2:1:1 would give 50 to a segment of 10; its 40 extra go 1:1 to the others.
    np.testing.assert_array_equal(allocation.traditional_allocation(table, 100), [10, 45, 45])


@pytest.mark.parametrize("seed", range(5))
def test_allocations_never_exceed_the_budget_or_a_segment(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 9))
    table = _table(rng.integers(1, 500, k), rng.integers(0, 100, k), rng.normal(0.01, 0.03, k))
    for contacts in (0, 1, 7, int(rng.integers(1, 3000)), 10_000):
        for allocate in (allocation.traditional_allocation, allocation.causal_allocation):
            given = allocate(table, contacts)
            assert given.sum() <= contacts
            assert (given >= 0).all() and (given <= table["users"]).all()
        credited_room = table.loc[table["credited"] > 0, "users"].sum()
        assert allocation.traditional_allocation(table, contacts).sum() == min(contacts, credited_room)


def test_segments_without_an_uplift_get_nothing():
    table = _table([100, 100], [10, 90], [0.02, np.nan])
    np.testing.assert_array_equal(allocation.traditional_allocation(table, 50), [50, 0])
    np.testing.assert_array_equal(allocation.causal_allocation(table, 50), [50, 0])


def test_a_segment_whose_uplift_has_no_standard_error_gets_nothing():
    """Seen: a segment of one treated and one control user (uplift 1.0, no standard error) was
    filled first, and both plans' totals lost their interval."""
    table = _table([100, 2], [10, 1], [0.02, 1.0], se=[0.01, np.nan])
    np.testing.assert_array_equal(allocation.traditional_allocation(table, 50), [50, 0])
    np.testing.assert_array_equal(allocation.causal_allocation(table, 50), [50, 0])
    plans = allocation.compare_allocations(table, budget=5.0, cost=0.1, value=1.0).plans.set_index("plan")
    assert np.isfinite(plans["incremental_lower"]).all() and np.isfinite(plans["incremental_upper"]).all()


def test_compare_allocations_totals_and_intervals_by_hand():
    table = _table(
        [100, 50, 200, 80], [30, 10, 0, 40], [0.01, 0.05, 0.02, -0.03], se=[0.01, 0.02, 0.01, 0.01]
    )
    result = allocation.compare_allocations(table, budget=60.0, cost=0.5, value=20.0)
    assert result.contacts == 120
    plans = result.plans.set_index("plan")
    traditional, causal = np.array([45, 15, 0, 60]), np.array([0, 50, 70, 0])
    uplift, se = table["observed_uplift"].to_numpy(), table["observed_uplift_se"].to_numpy()
    assert plans.loc["traditional", "incremental"] == pytest.approx(traditional @ uplift)
    assert plans.loc["causal", "incremental"] == pytest.approx(causal @ uplift)
    assert plans.loc["causal", "incremental_se"] == pytest.approx(np.sqrt(np.sum((causal * se) ** 2)))
    gain_se = np.sqrt(np.sum(((causal - traditional) * se) ** 2))
    assert plans.loc["causal - traditional", "incremental"] == pytest.approx((causal - traditional) @ uplift)
    assert plans.loc["causal - traditional", "incremental_se"] == pytest.approx(gain_se)
    spend = 120 * 0.5
    assert plans.loc["causal", "causal_roi"] == pytest.approx((causal @ uplift * 20 - spend) / spend)
    assert plans.loc["causal", "credited"] == pytest.approx(causal @ table["treated_mean"].to_numpy())
    roi_gain = plans.loc["causal", "causal_roi"] - plans.loc["traditional", "causal_roi"]
    assert plans.loc["causal - traditional", "causal_roi"] == pytest.approx(roi_gain)
    assert plans.loc["causal - traditional", "causal_roi_se"] == pytest.approx(gain_se * 20 / spend)
    assert (result.segments["difference"] == causal - traditional).all()
