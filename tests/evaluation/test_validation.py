"""The best linear predictor test: heterogeneity found where there is some, not where there is none."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from impactiq.errors import ImpactIQError
from impactiq.evaluation.validation import best_linear_predictor, calibration_table, targeting_curve


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


def test_calibration_table_puts_calibrated_predictions_on_the_diagonal():
    rng = np.random.default_rng(4)
    tau = rng.uniform(0.0, 0.2, 60_000)
    table = calibration_table(_holdout(tau, tau))
    assert list(table["group"]) == [1, 2, 3, 4, 5] and table["n"].sum() == tau.size
    inside = (table["observed_lower"] <= table["predicted"]) & (table["predicted"] <= table["observed_upper"])
    assert inside.sum() >= 4
    assert table["predicted"].is_monotonic_increasing


def test_calibration_table_keeps_tied_predictions_in_one_group():
    uplift = np.repeat([0.0, 0.1], 500)
    table = calibration_table(_holdout(np.full(1000, 0.05), uplift, seed=5), groups=5)
    assert list(table["n"]) == [500, 500]
    assert np.allclose(table["predicted"], [0.0, 0.1])


def test_calibration_table_observed_effect_is_the_mean_aipw_score_by_hand():
    holdout = pd.DataFrame(
        {
            "y": [1.0, 0.0, 1.0, 0.0],
            "t": [1, 0, 1, 0],
            "uplift": [0.1, 0.1, 0.3, 0.3],
            "y0_pred": [0.5] * 4,
            "y1_pred": [0.5] * 4,
        }
    )
    table = calibration_table(holdout, groups=2)
    # Every score is 1 (see the BLP test by hand), so each group's observed effect is 1.
    assert np.allclose(table["observed"], 1.0) and list(table["n"]) == [2, 2]


def test_targeting_curve_is_positive_for_a_model_that_ranks_and_flat_for_one_that_does_not():
    rng = np.random.default_rng(6)
    tau = rng.uniform(0.0, 0.2, 40_000)
    good = targeting_curve(_holdout(tau, tau))
    assert good.autoc_interval[0] > 0
    top = good.table.iloc[0]
    assert top["fraction"] == 0.05 and top["toc_lower"] > 0
    assert abs(good.table.iloc[-1]["toc"]) < 1e-12  # everyone targeted is the average
    noise = targeting_curve(_holdout(tau, rng.normal(0, 1, tau.size)))
    assert noise.autoc_interval[0] < 0 < noise.autoc_interval[1]


def test_targeting_curve_equals_its_definition_by_hand():
    """TOC(q) = mean score of the top q share - mean score; AUTOC = mean of TOC(k/n) over k."""
    rng = np.random.default_rng(7)
    n = 200
    holdout = _holdout(rng.uniform(0, 0.2, n), rng.normal(0, 1, n), seed=7)
    from impactiq.evaluation.holdout import aipw_scores_of

    score = aipw_scores_of(holdout)[np.argsort(-holdout["uplift"].to_numpy())]
    curve = targeting_curve(holdout, fractions=(0.1, 0.5))
    assert np.isclose(curve.table["toc"].iloc[0], score[:20].mean() - score.mean())
    assert np.isclose(curve.table["toc"].iloc[1], score[:100].mean() - score.mean())
    by_hand = np.mean([score[:k].mean() - score.mean() for k in range(1, n + 1)])
    assert np.isclose(curve.autoc, by_hand)


def test_targeting_curve_splits_a_tied_block_evenly():
    """With every prediction tied, any top share is everyone on average: TOC is 0 at every q."""
    holdout = _holdout(np.full(400, 0.05), np.zeros(400), seed=8)
    curve = targeting_curve(holdout)
    assert np.allclose(curve.table["toc"], 0.0, atol=1e-12) and abs(curve.autoc) < 1e-12
