"""Means, differences in means and their intervals: one helper, checked against hand formulas."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from impactiq.intervals import Z95, difference_in_means, interval_columns, mean_interval, normal_interval


def test_z95_is_the_normal_quantile():
    assert pytest.approx(stats.norm.ppf(0.975), abs=1e-15) == Z95


def test_difference_in_means_is_welch_by_default():
    rng = np.random.default_rng(0)
    y, t = rng.normal(size=500), rng.integers(0, 2, 500)
    result = difference_in_means(y, t)
    treated, control = y[t == 1], y[t == 0]
    se = np.sqrt(treated.var(ddof=1) / treated.size + control.var(ddof=1) / control.size)
    assert result.estimate == pytest.approx(treated.mean() - control.mean(), abs=1e-14)
    assert result.se == pytest.approx(se, rel=1e-12)
    assert (result.lower, result.upper) == pytest.approx(
        (result.estimate - Z95 * se, result.estimate + Z95 * se)
    )
    assert (result.treated.n, result.control.n) == (treated.size, control.size)


def test_population_variance_of_a_rate_is_the_wald_interval():
    y = np.array([1, 1, 1, 0, 1, 0, 0, 0, 0, 0], dtype=float)
    t = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    result = difference_in_means(y, t, ddof=0)
    assert result.treated.se == pytest.approx(np.sqrt(0.75 * 0.25 / 4))
    assert result.control.se == pytest.approx(np.sqrt((1 / 6) * (5 / 6) / 6))


def test_groups_give_each_group_its_own_difference():
    rng = np.random.default_rng(1)
    y, t, groups = rng.normal(size=900), rng.integers(0, 2, 900), rng.integers(0, 3, 900)
    grouped = difference_in_means(y, t, groups=groups, n_groups=3)
    for g in range(3):
        alone = difference_in_means(y[groups == g], t[groups == g])
        assert grouped.estimate[g] == pytest.approx(alone.estimate, abs=1e-13)
        assert grouped.se[g] == pytest.approx(alone.se, rel=1e-12)


def test_an_arm_too_small_for_its_variance_gives_nan():
    result = difference_in_means([1.0, 2.0, 3.0], [1, 0, 0])
    assert result.estimate == pytest.approx(-1.5)
    assert np.isnan(result.se) and np.isnan(result.lower)


def test_mean_interval_by_group_and_overall():
    values = np.array([1.0, 2.0, 3.0, 10.0, 20.0])
    overall = mean_interval(values)
    assert overall.estimate == pytest.approx(7.2)
    assert overall.se == pytest.approx(values.std(ddof=1) / np.sqrt(5))
    grouped = mean_interval(values, groups=[0, 0, 0, 1, 1], n_groups=3)
    np.testing.assert_allclose(grouped.estimate[:2], [2.0, 15.0])
    assert np.isnan(grouped.estimate[2]) and np.isnan(grouped.se[2])


def test_interval_columns():
    assert normal_interval(1.0, 0.5) == pytest.approx((1.0 - Z95 * 0.5, 1.0 + Z95 * 0.5))
    columns = interval_columns("gain", 1.0, 0.5)
    assert list(columns) == ["gain", "gain_se", "gain_lower", "gain_upper"]
    assert columns["gain_upper"] == pytest.approx(1.0 + Z95 * 0.5)
