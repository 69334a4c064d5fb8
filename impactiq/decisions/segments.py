"""Segments of held-out users, and what a campaign did in each: credited against caused.

Traditional attribution credits a campaign with every conversion among the users it reached.
Some of those users would have converted anyway; a randomized control group shows how many.
Per segment this module sets the two side by side on rows the model never saw (its holdout,
or any labelled table it scores):

- credited conversions: every conversion (or, for an amount such as spend, every unit of it)
  among treated users;
- incremental conversions: the observed uplift (treated mean minus control mean) times the
  treated users, with its 95% interval; what was caused;
- waste: credited minus incremental, the conversions that would have happened anyway, and its
  share of the credited ones;
- ROI under each attribution, for a cost per contact and a value per conversion.

The observed uplift is a difference in means with its unpooled (Welch) normal interval: it
uses no model, so it is the reference. Beside it stand two model-based estimates: the mean of
the model's per-row predictions, with the normal interval of that mean (it measures how the
predictions vary across the segment's users, not the model's own estimation error), and the
doubly robust (AIPW) segment effect built from the model's predicted outcomes and the known
propensity (the treated share): unbiased in a randomized experiment however wrong the
predictions are, and narrower than the difference in means when they are good. A segment
whose mean prediction differs from the observed uplift by more than sampling error allows
(a two-sided z-test at 5%) is flagged: there the model's ranking should not be trusted. With
many segments about one in twenty is flagged by chance alone.

`segment_report` puts it all together for one model and one segmentation: the segment table,
the budget plans of `impactiq.decisions.allocation` and the targeting strategies of
`impactiq.decisions.targeting`. The Segments page and `python -m impactiq segments` both show
what it returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import norm

from impactiq.decisions.allocation import AllocationComparison, compare_allocations
from impactiq.decisions.economics import DEFAULT_BUDGET_SHARE, DEFAULT_COST, check_economics, default_value
from impactiq.decisions.persuadability import default_thresholds
from impactiq.decisions.segmentation import Segmentation, assign_segments
from impactiq.decisions.targeting import compare_strategies, targeting_curves
from impactiq.errors import ImpactIQError
from impactiq.evaluation.holdout import aipw_scores_of
from impactiq.intervals import difference_in_means, interval_columns, mean_interval, normal_interval
from impactiq.uplift.scoring import check_scored

# How each number of `segment_report` is defined, saved beside the numbers.
REPORT_DEFINITIONS = {
    "budget": "money; contacts = floor(budget / cost per contact), counted among the scored rows",
    "observed_uplift": "treated mean minus control mean; unpooled (Welch) normal 95% interval",
    "predicted_uplift": "mean of the model's per-row predictions; normal 95% interval of that mean",
    "dr_uplift": "doubly robust (AIPW) with the model's predicted outcomes and the treated share",
    "disagrees": "observed and mean predicted uplift differ: two-sided z-test at 5%",
    "credited": "every conversion (or unit of an amount) among treated users",
    "incremental": "observed uplift x treated users",
    "roi_multiplier": "causal ROI over traditional ROI where traditional ROI shows a gain; delta-method 95% interval",
    "waste": "credited minus incremental",
    "roi": "(conversions x value - cost x treated) / (cost x treated); traditional: credited, causal: incremental",
    "traditional_allocation": "contacts in proportion to credited conversions, each segment up to its size",
    "causal_allocation": "segments filled in order of observed uplift where positive, each up to its size",
    "strategies": "incremental = (treated mean - control mean among the targeted) x users targeted; "
    "dr_gain = AIPW policy value over contacting nobody, summed over the scored rows",
}


def segment_table(
    frame: pd.DataFrame,
    labels: pd.Series,
    *,
    cost: float | None = None,
    value: float | None = None,
) -> pd.DataFrame:
    """Per segment, on scored labelled rows: credited against incremental, three uplift estimates.

    One row per segment, in the order of the categories of `labels` (one label per row of
    `frame`): users, treated, control; treated_mean (with treated_mean_se) and control_mean
    (rates for a 0/1 outcome, mean amounts otherwise; control_mean_se too); observed_uplift with its _se, _lower and
    _upper (difference in means, unpooled Welch); predicted_uplift with its interval (normal
    interval of the mean of the per-row predictions); dr_uplift with its interval (AIPW, normal
    interval); disagreement_z, disagreement_p and disagrees (observed against mean predicted
    uplift, two-sided z-test at 5%); credited, incremental, waste (each estimate with its
    interval) and waste_share. With `cost` per contact and `value` per conversion (per unit of
    an amount) also traditional_roi = (credited x value - cost x treated) / (cost x treated)
    and causal_roi, the same with incremental conversions, each with its 95% interval, and
    roi_multiplier, causal ROI over traditional ROI (where traditional ROI shows a gain).
    A segment with fewer than two users in an arm has NaN where an estimate needs both arms.
    """
    check_scored(frame)
    if len(labels) != len(frame):
        raise ImpactIQError(
            f"There are {len(labels)} segment labels for {len(frame)} rows; pass one label per row."
        )
    if (cost is None) != (value is None):
        raise ImpactIQError("Give both a cost per contact and a value per conversion for ROI, or neither.")
    if cost is not None:
        check_economics(cost, value)
    labels = pd.Series(labels).astype("category")
    segments = {"codes": labels.cat.codes.to_numpy(), "n_groups": len(labels.cat.categories)}
    y, t = frame["y"].to_numpy(dtype=np.float64), frame["t"].to_numpy()
    observed = difference_in_means(y, t, groups=segments["codes"], n_groups=segments["n_groups"])
    predicted = mean_interval(frame["uplift"], groups=segments["codes"], n_groups=segments["n_groups"])
    robust = mean_interval(aipw_scores_of(frame), groups=segments["codes"], n_groups=segments["n_groups"])
    n_t = observed.treated.n
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (observed.estimate - predicted.estimate) / np.hypot(observed.se, predicted.se)
    p = np.where(np.isfinite(z), 2.0 * norm.sf(np.abs(z)), np.nan)
    credited = np.bincount(segments["codes"], y * (t == 1), segments["n_groups"])
    table = pd.DataFrame(
        {
            "segment": [str(name) for name in labels.cat.categories],
            "users": predicted.n.astype(np.int64),
            "treated": n_t.astype(np.int64),
            "control": observed.control.n.astype(np.int64),
            "treated_mean": observed.treated.estimate,
            "treated_mean_se": observed.treated.se,
            "control_mean": observed.control.estimate,
            "control_mean_se": observed.control.se,
            **interval_columns("observed_uplift", observed.estimate, observed.se),
            **interval_columns("predicted_uplift", predicted.estimate, predicted.se),
            **interval_columns("dr_uplift", robust.estimate, robust.se),
            "disagreement_z": z,
            "disagreement_p": p,
            "disagrees": np.isfinite(p) & (p < 0.05),
            "credited": credited,
            **interval_columns("incremental", observed.estimate * n_t, observed.se * n_t),
            # Waste is credited less incremental, n_t·m1 − n_t·(m1 − m0) = n_t·m0: the treated arm's
            # noise cancels, so its standard error is the control mean's alone.
            **interval_columns("waste", credited - observed.estimate * n_t, observed.control.se * n_t),
        }
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        # Its share of the credit is m0 / m1, both means uncertain: the delta method's standard error.
        m0, m1 = observed.control.estimate, observed.treated.estimate
        share_se = np.sqrt((observed.control.se / m1) ** 2 + (m0 * observed.treated.se / m1**2) ** 2)
        share = interval_columns("waste_share", table["waste"].to_numpy() / credited, share_se)
        for column, values in share.items():
            table[column] = np.where(credited > 0, values, np.nan)
        if cost is not None:
            spend = cost * n_t
            for key, estimate, se in (
                ("traditional_roi", credited, observed.treated.se * n_t),
                ("causal_roi", observed.estimate * n_t, observed.se * n_t),
            ):
                lower, upper = normal_interval(estimate, se)
                for suffix, amount in (("", estimate), ("_lower", lower), ("_upper", upper)):
                    table[f"{key}{suffix}"] = np.where(spend > 0, (amount * value - spend) / spend, np.nan)
            table = table.assign(**_roi_multiplier(observed, cost, value))
    return table


def _roi_multiplier(observed, cost: float, value: float) -> dict:
    """Causal ROI over traditional ROI per segment, with its delta-method 95% interval.

    Per contact, the causal return is value·(m1 − m0) − cost and the traditional one
    value·m1 − cost (m1, m0: treated and control means), so the multiplier is
    g = (value·(m1 − m0) − cost) / (value·m1 − cost), with dg/dm1 = value²·m0 / D² and
    dg/dm0 = −value / D (D the traditional return; the two means are independent). It is
    defined only where traditional attribution shows a gain (D > 0).
    """
    m1, m0 = observed.treated.estimate, observed.control.estimate
    se1, se0 = observed.treated.se, observed.control.se
    traditional = value * m1 - cost
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (value * (m1 - m0) - cost) / traditional
        se = np.sqrt((value**2 * m0 / traditional**2) ** 2 * se1**2 + (value / traditional) ** 2 * se0**2)
    defined = traditional > 0
    return interval_columns("roi_multiplier", np.where(defined, ratio, np.nan), np.where(defined, se, np.nan))


@dataclass(frozen=True)
class SegmentReport:
    """Everything the Segments page and `python -m impactiq segments` show (see `segment_report`).

    `curves` holds the targeting curves of `targeting.targeting_curves`; `definitions` says how
    each number is defined (`REPORT_DEFINITIONS`).
    """

    outcome: str
    binary: bool
    rows: int
    segmentation: Segmentation
    table: pd.DataFrame
    comparison: AllocationComparison
    strategies: pd.DataFrame
    curves: pd.DataFrame
    definitions: dict = field(default_factory=lambda: dict(REPORT_DEFINITIONS))


def segment_report(
    model_like,
    scored: pd.DataFrame | None = None,
    *,
    by: str,
    cost: float | None = None,
    value: float | None = None,
    budget: float | None = None,
    seed: int = 0,
    segmentation: Segmentation | None = None,
) -> SegmentReport:
    """Segment scored rows and compare traditional with causal attribution on them.

    `scored` holds the rows (`impactiq.uplift.scoring.score_experiment` of a labelled table);
    by default the model's own holdout, as the Segments page shows it. `cost` defaults to
    `DEFAULT_COST`, `value` to `default_value`, `budget` (money) to `DEFAULT_BUDGET_SHARE` of
    the rows times the cost. Persuadability classes use the thresholds of the model's own
    holdout, as the Simulator does. A caller that already split the rows as `by` says (the
    page caches K-means) passes that `segmentation`.
    """
    frame = model_like.holdout if scored is None else scored
    outcome = model_like.outcome
    binary = model_like.schema.is_binary(outcome)
    cost = DEFAULT_COST if cost is None else cost
    value = default_value(binary) if value is None else value
    check_economics(cost, value)
    budget = DEFAULT_BUDGET_SHARE * len(frame) * cost if budget is None else budget
    if segmentation is None:
        thresholds = default_thresholds(model_like.holdout)
        segmentation = assign_segments(frame, model_like.schema, by, seed=seed, thresholds=thresholds)
    table = segment_table(frame, segmentation.labels, cost=cost, value=value)
    comparison = compare_allocations(table, budget=budget, cost=cost, value=value)
    strategies = compare_strategies(frame, comparison.contacts, value=value)
    curves = targeting_curves(frame, value=value)
    return SegmentReport(outcome, binary, len(frame), segmentation, table, comparison, strategies, curves)
