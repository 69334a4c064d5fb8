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
from impactiq.intervals import Z95, mean_interval

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


# Calibration groups of the chart: quintiles keep each group's doubly robust mean readable.
CALIBRATION_GROUPS = 5
# The shares of top-ranked users at which the targeting operator characteristic is reported.
TOC_FRACTIONS = tuple(round(0.05 * k, 2) for k in range(1, 21))


def calibration_table(
    holdout: pd.DataFrame, groups: int = CALIBRATION_GROUPS, propensity: float | None = None
) -> pd.DataFrame:
    """Mean predicted uplift against the doubly robust observed effect, by group of predicted uplift.

    Rows are cut at the quantiles of the predicted uplift; tied predictions always share a group,
    so there can be fewer groups than asked for. A calibrated model's points lie on the diagonal:
    each group's mean prediction inside the 95% interval of its observed effect (the mean of the
    rows' AIPW scores, normal interval), most of the time.
    """
    score = aipw_scores_of(holdout, propensity)
    uplift = holdout["uplift"].to_numpy(dtype=np.float64)
    codes = _quantile_groups(uplift, groups)
    n_groups = int(codes.max()) + 1
    observed = mean_interval(score, groups=codes, n_groups=n_groups)
    predicted = np.bincount(codes, uplift, n_groups) / observed.n
    return pd.DataFrame(
        {
            "group": np.arange(1, n_groups + 1),
            "n": observed.n.astype(np.int64),
            "predicted": predicted,
            "observed": observed.estimate,
            "observed_lower": observed.lower,
            "observed_upper": observed.upper,
        }
    )


def _quantile_groups(values: np.ndarray, groups: int) -> np.ndarray:
    """Each value's group 0.. by rank, `groups` of nearly equal size; a run of tied values takes
    the group where it starts, and groups left empty by that are dropped from the numbering."""
    order = np.argsort(values, kind="stable")
    ranked = values[order]
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
    block_group = starts * groups // values.size
    sizes = np.diff(np.r_[starts, values.size])
    codes = np.empty(values.size, dtype=np.intp)
    codes[order] = np.repeat(np.unique(block_group, return_inverse=True)[1], sizes)
    return codes


@dataclass(frozen=True)
class TargetingCurve:
    """The targeting operator characteristic (TOC) and its area (AUTOC), Yadlowsky et al. (2021).

    TOC(q) is the average effect among the q share of users the model ranks highest, minus the
    average effect of everyone, both measured by the rows' doubly robust scores: above zero
    when targeting by the model beats targeting at random. AUTOC averages it over q in (0, 1]
    (the "rank-weighted average treatment effect"); unlike the Qini it is on the outcome's
    own scale. Both are linear in the scores of rows the model never saw, so their standard
    errors are analytic (the ranking is fixed by the model, not by these rows).
    """

    table: pd.DataFrame
    autoc: float
    autoc_se: float

    @property
    def autoc_interval(self) -> tuple[float, float]:
        return self.autoc - Z95 * self.autoc_se, self.autoc + Z95 * self.autoc_se


def targeting_curve(
    holdout: pd.DataFrame, fractions=TOC_FRACTIONS, propensity: float | None = None
) -> TargetingCurve:
    """TOC at `fractions` with 95% intervals, and AUTOC over every q = 1/n ... 1 (see `TargetingCurve`).

    Ranks follow the predicted uplift, highest first. Tied predictions are one block: where a
    block straddles the cut, each of its rows counts with the share of the block the cut takes,
    so the result does not depend on the rows' order.
    """
    score = aipw_scores_of(holdout, propensity)
    uplift = holdout["uplift"].to_numpy(dtype=np.float64)
    n = score.size
    if n < MIN_ROWS:
        raise ImpactIQError(f"The targeting curve needs at least {MIN_ROWS} holdout rows; there are {n}.")
    order = np.argsort(-uplift, kind="stable")
    ranked_score, ranked_uplift = score[order], uplift[order]
    # Tied blocks: [start, end) of each run of equal predictions in rank order.
    starts = np.flatnonzero(np.r_[True, ranked_uplift[1:] != ranked_uplift[:-1]])
    ends = np.r_[starts[1:], n]
    block = np.repeat(np.arange(starts.size), ends - starts)
    residual = _residual_within_deciles(ranked_score)

    def weights(count: float) -> np.ndarray:
        """Each ranked row's share of membership in the top `count` rows, ties spread evenly."""
        inside = np.clip(count - starts, 0, ends - starts) / (ends - starts)
        return inside[block]

    rows = []
    for q in fractions:
        count = q * n
        w = weights(count)
        coefficient = w / count - 1.0 / n
        estimate = float(coefficient @ ranked_score)
        se = float(np.sqrt(np.sum(coefficient**2 * residual**2)))
        rows.append(
            {
                "fraction": q,
                "toc": estimate,
                "toc_lower": estimate - Z95 * se,
                "toc_upper": estimate + Z95 * se,
            }
        )
    # AUTOC = mean over q = k/n of TOC(q): each row's coefficient is the mean of 1/k over the
    # cuts k that include it (a tied block's rows share their block's average), minus 1/n.
    harmonic = np.cumsum(1.0 / np.arange(n, 0, -1))[::-1] / n  # (1/n) sum_{k >= i} 1/k, rank i (1-based)
    per_row = np.bincount(block, harmonic) / (ends - starts)
    coefficient = per_row[block] - 1.0 / n
    autoc = float(coefficient @ ranked_score)
    autoc_se = float(np.sqrt(np.sum(coefficient**2 * residual**2)))
    return TargetingCurve(pd.DataFrame(rows), autoc, autoc_se)


def _residual_within_deciles(ranked_score: np.ndarray, bins: int = 10) -> np.ndarray:
    """Each ranked row's score minus the mean score of its decile of rank: the noise the
    variance of a weighted mean of scores is built from (the deciles absorb the signal)."""
    n = ranked_score.size
    decile = np.minimum(np.arange(n) * bins // n, bins - 1)
    means = np.bincount(decile, ranked_score, bins) / np.bincount(decile, minlength=bins)
    return ranked_score - means[decile]


def validation_summary(holdout: pd.DataFrame, propensity: float | None = None) -> dict:
    """Every validation of a scored holdout as JSON values: the best linear predictor, the
    calibration table and the targeting curve with its area; a part that cannot be computed on
    these rows holds its reason under `unavailable` instead."""
    summary: dict = {}
    try:
        blp = best_linear_predictor(holdout, propensity)
        summary["best_linear_predictor"] = {
            "ate": {"estimate": blp.ate, "lower": blp.ate_interval[0], "upper": blp.ate_interval[1]},
            "slope": {"estimate": blp.slope, "lower": blp.slope_interval[0], "upper": blp.slope_interval[1]},
            "p_value": blp.p_value,
            "n": blp.n,
            "definition": "score = b1 + b2 (uplift - mean uplift), AIPW scores, HC1 errors; "
            "b2 = 1: calibrated; p: one-sided test of b2 <= 0",
        }
    except ImpactIQError as error:
        summary["best_linear_predictor"] = {"unavailable": str(error)}
    summary["calibration"] = calibration_table(holdout, propensity=propensity).to_dict("records")
    try:
        curve = targeting_curve(holdout, propensity=propensity)
        low, high = curve.autoc_interval
        summary["targeting"] = {
            "toc": curve.table.to_dict("records"),
            "autoc": {"estimate": curve.autoc, "lower": low, "upper": high},
            "definition": "TOC(q): mean AIPW score of the top q share minus the mean; AUTOC: its "
            "mean over q (Yadlowsky et al. 2021); normal 95% intervals",
        }
    except ImpactIQError as error:
        summary["targeting"] = {"unavailable": str(error)}
    return summary
