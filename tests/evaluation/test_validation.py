"""The best linear predictor test: heterogeneity found where there is some, not where there is none."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from impactiq.errors import ImpactIQError
from impactiq.evaluation.validation import best_linear_predictor


def _holdout(tau: np.ndarray, uplift: np.ndarray, seed: int = 0) -> pd.DataFrame:
    """A randomized holdout with true effects `tau` on a 0/1 outcome and the given predictions."""
    rng = np.random.default_rng(seed)
    n = len(tau)
    base = rng.uniform(0.1, 0.3, n)
    t = rng.integers(0, 2, n)
    y = (rng.random(n) < base + t * tau).astype(float)
    return pd.DataFrame({"y": y, "t": t, "uplift": uplift, "y0_pred": base, "y1_pred": base + uplift})


def test_heterogeneity_is_found_and_calibrated_predictions_have_slope_one():
    rng = np.random.default_rng(1)
    tau = rng.uniform(0.0, 0.2, 40_000)
    blp = best_linear_predictor(_holdout(tau, tau + rng.normal(0, 0.01, tau.size)))
    low, high = blp.slope_interval
    assert blp.p_value < 0.001 and low < 1.0 < high
    assert blp.ate_interval[0] < tau.mean() < blp.ate_interval[1]


def test_no_heterogeneity_is_found_where_there_is_none():
    rng = np.random.default_rng(2)
    tau = np.full(40_000, 0.05)
    blp = best_linear_predictor(_holdout(tau, 0.05 + rng.normal(0, 0.03, tau.size)))
    assert blp.p_value > 0.05
    assert blp.slope_interval[0] < 0 < blp.slope_interval[1]


def test_an_overconfident_model_has_a_slope_below_one():
    rng = np.random.default_rng(3)
    tau = rng.uniform(0.0, 0.2, 40_000)
    # Predictions spread three times as far as the truth: a point of predicted uplift is a third of a point.
    blp = best_linear_predictor(_holdout(tau, 0.1 + 3 * (tau - 0.1)))
    assert blp.slope_interval[1] < 1.0 and blp.p_value < 0.001


def test_by_hand_on_a_tiny_table():
    """With the treated share 1/2, the score is y1 - y0 + 2t(y - y1) - 2(1 - t)(y - y0)."""
    holdout = pd.DataFrame(
        {
            "y": [1.0, 0.0] * 30,
            "t": [1, 0] * 30,
            "uplift": [0.1, -0.1] * 30,
            "y0_pred": [0.5] * 60,
            "y1_pred": [0.5] * 60,
        }
    )
    # Treated rows score 2(1 - 0.5) = 1, control rows -2(0 - 0.5) = 1: every score is 1.
    blp = best_linear_predictor(holdout)
    assert blp.ate == pytest.approx(1.0) and blp.slope == pytest.approx(0.0, abs=1e-12)


def test_a_constant_prediction_or_a_tiny_holdout_is_refused():
    with pytest.raises(ImpactIQError, match="same predicted uplift"):
        best_linear_predictor(_holdout(np.full(100, 0.05), np.full(100, 0.05)))
    with pytest.raises(ImpactIQError, match="at least 50"):
        best_linear_predictor(_holdout(np.full(10, 0.05), np.linspace(0, 1, 10)))
