"""Is there heterogeneity at all, and are the predicted effects calibrated? The best linear predictor.

Chernozhukov, Demirer, Duflo and Fernández-Val (2018) test a model of individual effects on
rows it never saw: regress each row's doubly robust effect score (`holdout.aipw_scores_of`,
unbiased for the row's effect in a randomized experiment) on the centred prediction,

    score_i = b1 + b2 (uplift_i - mean uplift) + error_i,

with heteroskedasticity-robust (HC1) standard errors. b1 estimates the average effect. b2 is 1
when the predictions are calibrated (a point more of predicted uplift is a point more of effect),
0 when they carry no information about who gains more, and a b2 clearly above 0 is evidence of
heterogeneity that the model captures. EconML's DRTester reports the same test.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd

from impactiq.errors import ImpactIQError
from impactiq.evaluation.holdout import aipw_scores_of
from impactiq.intervals import Z95

MIN_ROWS = 50


@dataclass(frozen=True)
class BestLinearPredictor:
    """The BLP test's two coefficients with standard errors and 95% intervals, and the one-sided
    p-value of "no heterogeneity the model captures" (b2 <= 0)."""

    ate: float
    ate_se: float
    slope: float
    slope_se: float
    p_value: float
    n: int

    @property
    def ate_interval(self) -> tuple[float, float]:
        return self.ate - Z95 * self.ate_se, self.ate + Z95 * self.ate_se

    @property
    def slope_interval(self) -> tuple[float, float]:
        return self.slope - Z95 * self.slope_se, self.slope + Z95 * self.slope_se


def best_linear_predictor(holdout: pd.DataFrame, propensity: float | None = None) -> BestLinearPredictor:
    """The BLP test on a scored holdout (y, t, uplift, y0_pred, y1_pred); see the module."""
    if len(holdout) < MIN_ROWS:
        raise ImpactIQError(
            f"The heterogeneity test needs at least {MIN_ROWS} holdout rows; there are {len(holdout)}."
        )
    score = aipw_scores_of(holdout, propensity)
    uplift = holdout["uplift"].to_numpy(dtype=np.float64)
    centred = uplift - uplift.mean()
    if np.ptp(uplift) <= 1e-12 * max(1.0, float(np.abs(uplift).max())):
        raise ImpactIQError(
            "Every holdout row has the same predicted uplift, so there is no ranking to test: the model "
            "predicts one effect for everyone."
        )
    design = np.column_stack([np.ones(len(score)), centred])
    coef, *_ = np.linalg.lstsq(design, score, rcond=None)
    residual = score - design @ coef
    bread = np.linalg.inv(design.T @ design)
    meat = (design * residual[:, None] ** 2).T @ design
    n, k = design.shape
    covariance = bread @ meat @ bread * n / (n - k)
    se = np.sqrt(np.diag(covariance))
    p_value = 1.0 - NormalDist().cdf(coef[1] / se[1]) if se[1] > 0 else float("nan")
    return BestLinearPredictor(
        ate=float(coef[0]),
        ate_se=float(se[0]),
        slope=float(coef[1]),
        slope_se=float(se[1]),
        p_value=float(p_value),
        n=n,
    )
