"""Shapley credit against marketing-attribution-models, by hand, and sampled against exact."""

from __future__ import annotations

import numpy as np
import pytest

from impactiq.errors import ImpactIQError
from impactiq.journeys import shapley
from impactiq.journeys.paths import build_journeys
from impactiq.journeys.shapley import shapley_attribution
from tests.journeys.reference_paths import CASES, as_logs, reference_model


def _reference(rows) -> dict:
    model = reference_model(rows)
    # A set size above every journey's, so that the reference truncates no journey's channels.
    return dict(model.run_shapley(max_size=12, value_column="conv_rate").to_polars().iter_rows())


@pytest.mark.parametrize("case", CASES)
def test_credit_equals_the_reference(case):
    journeys = build_journeys(*as_logs(CASES[case]), lookback_days=30)
    ours = shapley_attribution(journeys)
    reference = _reference(CASES[case])
    np.testing.assert_allclose(
        ours.conversions, [reference.get(c, 0.0) for c in journeys.channels], atol=1e-9
    )
    assert ours.sampled_sets == 0 and not ours.standard_error.any()


def test_two_channels_by_hand():
    # Sets: {a} rate 1/4, {b} rate 1/2, {a, b} rate 3/4 with 3 conversions.
    rows = [("a", 1, 3), ("b", 1, 1), ("a>b", 3, 1)]
    journeys = build_journeys(*as_logs(rows, revenue=2.0), lookback_days=30)
    result = shapley_attribution(journeys)
    phi_a = 0.5 * (1 / 4) + 0.5 * (3 / 4 - 1 / 2)
    phi_b = 0.5 * (1 / 2) + 0.5 * (3 / 4 - 1 / 4)
    expected = np.array([1 + 3 * phi_a / 0.75, 1 + 3 * phi_b / 0.75])
    np.testing.assert_allclose(result.conversions, expected)
    np.testing.assert_allclose(result.revenue, 2.0 * expected)
    assert result.conversions.sum() == pytest.approx(5.0)


def test_large_sets_are_sampled_with_their_error(monkeypatch):
    rng = np.random.default_rng(3)
    names = [f"c{i:02d}" for i in range(8)]
    rows = [(">".join(names), 40, 10)]
    for _ in range(60):
        subset = sorted(rng.choice(names, size=rng.integers(1, 8), replace=False))
        rows.append((">".join(subset), int(rng.integers(0, 20)), int(rng.integers(1, 20))))
    journeys = build_journeys(*as_logs(rows), lookback_days=30)
    exact = shapley_attribution(journeys)
    monkeypatch.setattr(shapley, "MAX_EXACT", 6)
    sampled = shapley_attribution(journeys, n_permutations=4_000, seed=1)
    assert sampled.sampled_sets > 0 and sampled.standard_error.max() > 0
    assert sampled.conversions.sum() == pytest.approx(exact.conversions.sum())
    z = np.abs(sampled.conversions - exact.conversions) / np.maximum(sampled.standard_error, 1e-12)
    assert z.max() < 4.5


def test_too_many_channels_for_a_bit_mask_are_refused():
    rows = [(f"c{i}", 1, 1) for i in range(64)]
    journeys = build_journeys(*as_logs(rows), lookback_days=30)
    with pytest.raises(ImpactIQError, match="channel map"):
        shapley_attribution(journeys)
