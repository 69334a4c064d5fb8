"""Where a budget should go: across segments, and to which users.

Two decisions, both judged on scored rows the model never saw:

- Across segments (`compare_allocations`). Traditional attribution spreads the contacts as the
  credited conversions suggest: in proportion to each segment's credited conversions. Causal
  attribution places them where a contact causes the most: segments are filled in order of
  their observed uplift (incremental conversions per contact), only where it is positive, each
  up to its size. With a value linear in the contacts and each segment capped by its size,
  this greedy order is the optimum of the linear programme, so no solver is needed. Both plans
  are scored with the observed segment uplifts, and their intervals propagate by the normal
  approximation (segments are disjoint, so their estimates are independent). The causal plan
  is chosen and scored with the same uplifts, so its gain is somewhat optimistic where
  segments differ by less than their intervals.
- Across users (`compare_strategies`, `targeting_curves`). Contact the top of a ranking:
  random, by response (the predicted outcome if treated, `y1_pred`: who converts) or by
  predicted uplift. The conversions a targeted group gains are measured from the observed
  outcomes of its treated and control users, (treated mean - control mean) x users targeted,
  never from the model's own predictions. Random targeting is scored by its expectation: the
  whole table's difference in means times the users targeted. Beside it stands the doubly
  robust (AIPW) value of each policy, from the model's predicted outcomes and the known
  propensity (the treated share), with a normal 95% interval: since the ranking comes from a
  model fitted on other rows, this is an honest estimate of what the policy would gain.

The budget is money: contacts = floor(budget / cost per contact). Contacts are counted among
the scored rows (a model's holdout is a sample of the population): for a campaign on a full
list, scale contacts and conversions by the list's size over the rows scored here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from impactiq import segments
from impactiq.errors import ImpactIQError
from impactiq.metrics import Z95
from impactiq.segments import Segmentation, aipw_scores, check_economics, check_scored, unit_labels
from impactiq.simulate import DEFAULT_COST, DEFAULT_VALUE, default_thresholds

STRATEGIES = ("random", "response", "uplift")
STRATEGY_DESCRIPTIONS = {
    "random": "random users (expected value: overall uplift x users)",
    "response": "highest predicted outcome if treated (who converts)",
    "uplift": "highest predicted uplift (who converts because of the contact)",
}
# The column each strategy ranks users by (highest first).
_SCORE_COLUMNS = {"random": None, "response": "y1_pred", "uplift": "uplift"}
PLANS = ("traditional", "causal")
# Illustrative economics for a first look (the Simulator's, so the pages agree); every page and
# command lets the user set their own (DEFAULT_COST per contact is the Simulator's too). An
# amount such as spend is worth its face value.
DEFAULT_VALUE_PER_CONVERSION = DEFAULT_VALUE
DEFAULT_VALUE_PER_UNIT = 1.0
DEFAULT_BUDGET_SHARE = 0.3
CURVE_POINTS = 101
# How each number of `segment_report` is defined, saved beside the numbers.
REPORT_DEFINITIONS = {
    "budget": "money; contacts = floor(budget / cost per contact), counted among the scored rows",
    "observed_uplift": "treated mean minus control mean; unpooled (Welch) normal 95% interval",
    "predicted_uplift": "mean of the model's per-row predictions; normal 95% interval of that mean",
    "dr_uplift": "doubly robust (AIPW) with the model's predicted outcomes and the treated share",
    "disagrees": "observed and mean predicted uplift differ: two-sided z-test at 5%",
    "credited": "every conversion (or unit of an amount) among treated users",
    "incremental": "observed uplift x treated users",
    "waste": "credited minus incremental",
    "roi": "(conversions x value - cost x treated) / (cost x treated); traditional: credited, causal: incremental",
    "traditional_allocation": "contacts in proportion to credited conversions, each segment up to its size",
    "causal_allocation": "segments filled in order of observed uplift where positive, each up to its size",
    "strategies": "incremental = (treated mean - control mean among the targeted) x users targeted; "
    "dr_gain = AIPW policy value over contacting nobody, summed over the scored rows",
}


@dataclass(frozen=True)
class AllocationComparison:
    """Traditional against causal allocation of one budget across segments.

    `segments`: per segment, users, observed uplift with its interval, the contacts each plan
    gives it, their difference, and the incremental conversions each plan gains there.
    `plans`: one row per plan and a 'causal - traditional' row: contacts, spend, the
    conversions traditional attribution would credit, the incremental conversions, their
    value and the ROI under both attributions, each estimate with its 95% interval.
    """

    budget: float
    cost: float
    value: float
    contacts: int
    segments: pd.DataFrame
    plans: pd.DataFrame


def default_value(binary: bool) -> float:
    """The illustrative value of one conversion (0/1 outcome) or one unit of an amount."""
    return DEFAULT_VALUE_PER_CONVERSION if binary else DEFAULT_VALUE_PER_UNIT


def contacts_for_budget(budget: float, cost: float, users: int) -> int:
    """How many users a budget reaches: floor(budget / cost), at most `users`."""
    check_economics(cost, 0.0)
    if isinstance(budget, bool) or not isinstance(budget, int | float | np.number) or not budget >= 0:
        raise ImpactIQError(
            f"The budget must be an amount of money of zero or more, e.g. 5000; got {budget!r}."
        )
    return int(min(users, np.floor(budget / cost + 1e-9)))


def traditional_allocation(table: pd.DataFrame, contacts: int) -> np.ndarray:
    """Contacts per segment in proportion to its credited conversions, capped at its size.

    Contacts a full segment cannot take go to the others in the same proportions; whole
    contacts are rounded by the largest remainder, so they sum to exactly `contacts` (or every
    eligible user, if fewer). Segments without an observed uplift get none.
    """
    caps, eligible = _caps(table)
    weights = np.where(eligible, table["credited"].to_numpy(dtype=np.float64), 0.0)
    weights = np.clip(weights, 0.0, None)
    allocation = np.zeros(len(table))
    open_ = (weights > 0) & (caps > 0)
    remaining = float(min(_check_contacts(contacts), caps[open_].sum()))
    target = int(round(remaining))
    while remaining > 1e-9 and open_.any():
        share = remaining * weights[open_] / weights[open_].sum()
        given = np.minimum(share, caps[open_] - allocation[open_])
        allocation[open_] += given
        remaining -= given.sum()
        open_ &= allocation < caps - 1e-9
    whole = np.floor(allocation + 1e-9).astype(np.int64)
    short = target - int(whole.sum())
    order = np.argsort(-(allocation - whole), kind="stable")
    whole[order[:short]] += 1
    return whole


def causal_allocation(table: pd.DataFrame, contacts: int) -> np.ndarray:
    """Contacts per segment, filling segments by observed uplift (highest first) where positive.

    Each segment takes up to its size; segments whose uplift is zero, negative or unknown get
    none, so fewer than `contacts` are placed when the positive segments are too small.
    """
    caps, eligible = _caps(table)
    uplift = table["observed_uplift"].to_numpy(dtype=np.float64)
    remaining = _check_contacts(contacts)
    allocation = np.zeros(len(table), dtype=np.int64)
    for i in np.argsort(-np.where(eligible, uplift, -np.inf), kind="stable"):
        if remaining == 0 or not (eligible[i] and uplift[i] > 0):
            break
        allocation[i] = min(caps[i], remaining)
        remaining -= allocation[i]
    return allocation


def compare_allocations(
    table: pd.DataFrame, *, budget: float, cost: float, value: float
) -> AllocationComparison:
    """Both plans for `budget` (money) on the segments of `segments.segment_table`, and the gain."""
    check_economics(cost, value)
    contacts = contacts_for_budget(budget, cost, int(table["users"].sum()))
    allocations = {
        "traditional": traditional_allocation(table, contacts),
        "causal": causal_allocation(table, contacts),
    }
    uplift = table["observed_uplift"].to_numpy(dtype=np.float64)
    segments = pd.DataFrame(
        {
            "segment": table["segment"],
            "users": table["users"],
            "observed_uplift": uplift,
            "observed_lower": table["observed_lower"],
            "observed_upper": table["observed_upper"],
            "traditional_contacts": allocations["traditional"],
            "causal_contacts": allocations["causal"],
            "difference": allocations["causal"] - allocations["traditional"],
            "traditional_incremental": _nan_to_zero(allocations["traditional"] * uplift),
            "causal_incremental": _nan_to_zero(allocations["causal"] * uplift),
        }
    )
    return AllocationComparison(
        budget, cost, value, contacts, segments, _plans(table, allocations, cost, value)
    )


def _plans(table: pd.DataFrame, allocations: dict, cost: float, value: float) -> pd.DataFrame:
    """Totals of each plan and of their difference, each a linear function of segment estimates.

    Credited conversions are sum(contacts x treated mean), incremental ones sum(contacts x
    observed uplift), ROI value x sum(contacts / spend x estimate) - 1. Segment estimates are
    independent, so each total's standard error is the root of the sum of squared weighted
    standard errors.
    """
    estimates = {
        "credited": (
            table["treated_mean"].to_numpy(dtype=np.float64),
            table["treated_se"].to_numpy(dtype=np.float64),
        ),
        "incremental": (
            table["observed_uplift"].to_numpy(dtype=np.float64),
            table["observed_se"].to_numpy(dtype=np.float64),
        ),
    }
    weights = {name: allocations[name].astype(np.float64) for name in PLANS}
    weights["causal - traditional"] = weights["causal"] - weights["traditional"]
    per_spend = {
        name: weights[name] / (weights[name].sum() * cost) if weights[name].sum() else None for name in PLANS
    }
    if per_spend["causal"] is not None and per_spend["traditional"] is not None:
        per_spend["causal - traditional"] = per_spend["causal"] - per_spend["traditional"]
    rows = []
    for name, weight in weights.items():
        contacts = int(weight.sum())
        row = {"plan": name, "contacts": contacts, "spend": contacts * cost}
        offset = -1.0 if name in PLANS else 0.0
        for quantity, (estimate, se) in estimates.items():
            row.update(_with_interval(quantity, *_linear(weight, estimate, se)))
            roi = f"{'credited' if quantity == 'credited' else 'causal'}_roi"
            if per_spend.get(name) is None:
                row.update(_with_interval(roi, np.nan, np.nan))
            else:
                total, total_se = _linear(per_spend[name] * value, estimate, se)
                row.update(_with_interval(roi, total + offset, total_se))
        row.update(_with_interval("revenue", row["incremental"] * value, row["incremental_se"] * value))
        rows.append(row)
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class SegmentReport:
    """Everything the Segments page shows, computed headless (see `segment_report`)."""

    outcome: str
    binary: bool
    rows: int
    segmentation: Segmentation
    table: pd.DataFrame
    comparison: AllocationComparison
    strategies: pd.DataFrame

    def to_dict(self) -> dict:
        """Plain values and lists of records, with `REPORT_DEFINITIONS`, ready for JSON."""
        profiles = self.segmentation.profiles
        comparison = self.comparison
        return {
            "outcome": self.outcome,
            "outcome_kind": "binary" if self.binary else "amount",
            "units": segments.unit_labels(self.outcome, binary=self.binary),
            "rows": self.rows,
            "by": self.segmentation.by,
            "segmentation": self.segmentation.title,
            "method": self.segmentation.method,
            "cost": comparison.cost,
            "value": comparison.value,
            "budget": comparison.budget,
            "contacts": comparison.contacts,
            "definitions": REPORT_DEFINITIONS,
            "segments": self.table.to_dict(orient="records"),
            "profiles": None if profiles is None else profiles.to_dict(orient="records"),
            "allocation": {
                "segments": comparison.segments.to_dict(orient="records"),
                "plans": comparison.plans.to_dict(orient="records"),
            },
            "strategies": self.strategies.to_dict(orient="records"),
        }

    def to_markdown(self) -> str:
        """The segment table, both plans and the strategies as markdown tables, with headings."""
        kw = {"outcome": self.outcome, "binary": self.binary}
        comparison = self.comparison
        return "\n\n".join(
            [
                f"## Segments by {self.segmentation.title} ({self.rows:,} rows, outcome {self.outcome})",
                f"{self.segmentation.method}.",
                segments.markdown_table(segments.formatted_table(self.table, **kw)),
                f"## Budget {comparison.budget:,.2f} at {comparison.cost:g} per contact: "
                f"{comparison.contacts:,} contacts",
                segments.markdown_table(formatted_plans(comparison, **kw)),
                segments.markdown_table(
                    comparison.segments[
                        ["segment", "users", "traditional_contacts", "causal_contacts", "difference"]
                    ]
                ),
                "## Targeting strategies",
                segments.markdown_table(formatted_strategies(self.strategies, **kw)),
            ]
        )


def segment_report(
    model_like,
    experiment,
    *,
    by: str,
    cost: float | None = None,
    value: float | None = None,
    budget: float | None = None,
    seed: int = 0,
) -> SegmentReport:
    """Score a labelled experiment with a model, segment it and compare attributions.

    What the Segments page shows, for the command line and scripts. `cost` defaults to
    `DEFAULT_COST`, `value` to `default_value`, `budget` (money) to `DEFAULT_BUDGET_SHARE` of
    the rows times the cost. Persuadability classes use the thresholds of the model's own
    holdout, as the Simulator does.
    """
    frame = segments.score_rows(model_like, experiment)
    outcome = model_like.outcome
    binary = model_like.schema.is_binary(outcome)
    cost = DEFAULT_COST if cost is None else cost
    value = default_value(binary) if value is None else value
    check_economics(cost, value)
    budget = DEFAULT_BUDGET_SHARE * len(frame) * cost if budget is None else budget
    thresholds = default_thresholds(model_like.holdout)
    segmentation = segments.assign_segments(frame, model_like.schema, by, seed=seed, thresholds=thresholds)
    table = segments.segment_table(frame, segmentation.labels, cost=cost, value=value)
    comparison = compare_allocations(table, budget=budget, cost=cost, value=value)
    strategies = compare_strategies(frame, comparison.contacts, value=value)
    return SegmentReport(outcome, binary, len(frame), segmentation, table, comparison, strategies)


def formatted_plans(comparison: AllocationComparison, *, outcome: str, binary: bool) -> pd.DataFrame:
    """The plans of `compare_allocations` as text: one row per quantity, one column per plan.

    ROI reads as a percentage; the difference column carries signs.
    """
    words = unit_labels(outcome, binary=binary)
    quantities = (
        ("users contacted", "contacts", ",.0f"),
        ("spend", "spend", ",.2f"),
        (f"credited {words['things']}", "credited", ",.0f" if binary else ",.1f"),
        ("ROI as credited", "credited_roi", ".0%"),
        (f"incremental {words['things']}", "incremental", ",.0f" if binary else ",.1f"),
        ("incremental revenue", "revenue", ",.0f"),
        ("ROI as caused", "causal_roi", ".0%"),
    )
    shown = {"": [label for label, _, _ in quantities]}
    for _, row in comparison.plans.iterrows():
        sign = "" if row["plan"] in PLANS else "+"
        cells = []
        for _, key, spec in quantities:
            fmt = f"{{:{sign}{spec}}}".format
            if not np.isfinite(row[key]):
                cells.append("–")
            elif f"{key}_lower" in row:
                cells.append(f"{fmt(row[key])} [{fmt(row[key + '_lower'])}, {fmt(row[key + '_upper'])}]")
            else:
                cells.append(fmt(row[key]))
        shown[row["plan"]] = cells
    return pd.DataFrame(shown)


def formatted_strategies(strategies: pd.DataFrame, *, outcome: str, binary: bool) -> pd.DataFrame:
    """`compare_strategies` as text, each estimate with its 95% interval."""
    words = unit_labels(outcome, binary=binary)
    count = (lambda v: f"{v:,.0f}") if binary else (lambda v: f"{v:,.1f}")

    def cell(row, key, fmt=count):
        return f"{fmt(row[key])} [{fmt(row[key + '_lower'])}, {fmt(row[key + '_upper'])}]"

    return pd.DataFrame(
        {
            "strategy": [STRATEGY_DESCRIPTIONS[s] for s in strategies["strategy"]],
            "users targeted": strategies["targeted"].map("{:,}".format),
            f"incremental {words['things']}, observed": [
                cell(r, "incremental") for _, r in strategies.iterrows()
            ],
            "incremental revenue, observed": [
                cell(r, "revenue", "{:,.0f}".format) for _, r in strategies.iterrows()
            ],
            f"incremental {words['things']}, doubly robust": [
                cell(r, "dr_gain") for _, r in strategies.iterrows()
            ],
            "gain over random, doubly robust": [
                cell(r, "dr_gain_vs_random", lambda v: f"{v:+,.1f}") for _, r in strategies.iterrows()
            ],
        }
    )


def _linear(weights: np.ndarray, estimate: np.ndarray, se: np.ndarray) -> tuple[float, float]:
    """sum(weights x estimate) and its standard error, over segments with a non-zero weight."""
    used = weights != 0
    return float(np.sum(weights[used] * estimate[used])), float(
        np.sqrt(np.sum((weights[used] * se[used]) ** 2))
    )


def strategy_scores(frame: pd.DataFrame, strategy: str) -> np.ndarray | None:
    """The ranking score of a targeting strategy; None for random targeting."""
    if strategy not in STRATEGIES:
        raise ImpactIQError(
            f"There is no targeting strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}."
        )
    column = _SCORE_COLUMNS[strategy]
    return None if column is None else frame[column].to_numpy(dtype=np.float64)


def targeting_curves(frame: pd.DataFrame, *, value: float = 1.0, points: int = CURVE_POINTS) -> pd.DataFrame:
    """Incremental conversions and revenue against the share targeted, for each strategy.

    Long table: strategy, share, targeted, incremental with its 95% interval (observed
    difference in means in the targeted group x users targeted, unpooled Wald), revenue
    (incremental x value) with its interval. Shares are `points` evenly spaced from 0 to 1.
    Where the targeted group lacks two users of an arm the estimate is NaN.
    """
    check_scored(frame)
    check_economics(1.0, value)
    n = len(frame)
    targeted = np.unique(np.round(np.linspace(0.0, 1.0, points) * n).astype(np.int64))
    parts = []
    for strategy in STRATEGIES:
        incremental, se = _top_n_effects(frame, strategy, targeted)
        parts.append(
            pd.DataFrame(
                {
                    "strategy": strategy,
                    "share": targeted / n,
                    "targeted": targeted,
                    "incremental": incremental,
                    "incremental_lower": incremental - Z95 * se,
                    "incremental_upper": incremental + Z95 * se,
                }
            )
        )
    curves = pd.concat(parts, ignore_index=True)
    for suffix in ("", "_lower", "_upper"):
        curves[f"revenue{suffix}"] = curves[f"incremental{suffix}"] * value
    return curves


def compare_strategies(frame: pd.DataFrame, contacts: int, *, value: float = 1.0) -> pd.DataFrame:
    """Each strategy contacting `contacts` of the scored users: observed and doubly robust gains.

    Columns: strategy, targeted, share; incremental with its interval (observed, as in
    `targeting_curves`) and revenue; dr_gain with its interval (AIPW estimate of the
    conversions gained over contacting nobody, summed over the scored users); dr_value with
    its interval (AIPW mean outcome per user under the policy); dr_gain_vs_random with its
    interval (the paired AIPW difference from random targeting of as many users).
    """
    check_scored(frame)
    check_economics(1.0, value)
    n = len(frame)
    contacts = min(_check_contacts(contacts), n)
    random_policy = np.full(n, contacts / n)
    rows = []
    for strategy in STRATEGIES:
        incremental, se = (a[0] for a in _top_n_effects(frame, strategy, np.array([contacts])))
        policy = (
            random_policy
            if strategy == "random"
            else _top_n_policy(strategy_scores(frame, strategy), contacts)
        )
        result = policy_value(frame, policy)
        versus = policy_value(frame, policy, baseline=random_policy)
        row = {"strategy": strategy, "targeted": contacts, "share": contacts / n}
        row.update(_with_interval("incremental", incremental, se))
        row.update(_with_interval("revenue", incremental * value, se * value))
        row.update(_with_interval("dr_gain", n * result["gain"], n * result["gain_se"]))
        row.update(_with_interval("dr_value", result["value"], result["value_se"]))
        row.update(_with_interval("dr_gain_vs_random", n * versus["gain"], n * versus["gain_se"]))
        rows.append(row)
    return pd.DataFrame(rows)


def policy_value(frame: pd.DataFrame, policy: np.ndarray, *, baseline: np.ndarray | None = None) -> dict:
    """AIPW value of treating each row with probability `policy`, and its gain over `baseline`.

    value = mean(pi Gamma1 + (1 - pi) Gamma0), with Gamma1 = y1_pred + t (y - y1_pred) / e and
    Gamma0 = y0_pred + (1 - t) (y - y0_pred) / (1 - e), e the treated share; the gain over
    `baseline` (default: treating nobody) is mean((pi - baseline) Gamma), Gamma = Gamma1 -
    Gamma0. Both are per user, with standard errors of the mean (normal 95% interval:
    estimate +/- 1.96 se).
    """
    check_scored(frame)
    policy = np.asarray(policy, dtype=np.float64)
    if policy.shape != (len(frame),) or not np.all((policy >= 0) & (policy <= 1)):
        raise ImpactIQError(
            f"A policy gives each of the {len(frame)} rows a probability of treatment between 0 and 1; "
            f"got shape {policy.shape}."
        )
    baseline = np.zeros(len(frame)) if baseline is None else np.asarray(baseline, dtype=np.float64)
    t, y = frame["t"].to_numpy(dtype=np.float64), frame["y"].to_numpy(dtype=np.float64)
    e = float(t.mean())
    gamma = aipw_scores(frame, e)
    gamma0 = frame["y0_pred"].to_numpy(dtype=np.float64) + (1.0 - t) * (y - frame["y0_pred"].to_numpy()) / (
        1.0 - e
    )
    values = policy * gamma + gamma0
    gains = (policy - baseline) * gamma
    root_n = np.sqrt(len(frame))
    return {
        "value": float(values.mean()),
        "value_se": float(values.std(ddof=1) / root_n),
        "gain": float(gains.mean()),
        "gain_se": float(gains.std(ddof=1) / root_n),
    }


def _caps(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each segment's size, and whether it has an observed uplift to be judged by."""
    eligible = np.isfinite(table["observed_uplift"].to_numpy(dtype=np.float64))
    return np.where(eligible, table["users"].to_numpy(dtype=np.int64), 0), eligible


def _check_contacts(contacts) -> int:
    if isinstance(contacts, bool) or not isinstance(contacts, int | np.integer) or contacts < 0:
        raise ImpactIQError(
            f"The number of contacts must be a whole number of zero or more; got {contacts!r}."
        )
    return int(contacts)


def _with_interval(name: str, estimate: float, se: float) -> dict:
    return {
        name: float(estimate),
        f"{name}_se": float(se),
        f"{name}_lower": float(estimate - Z95 * se),
        f"{name}_upper": float(estimate + Z95 * se),
    }


def _nan_to_zero(values: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(values), 0.0, values)


def _top_n_policy(score: np.ndarray, n: int) -> np.ndarray:
    """1 for the `n` highest scores (ties broken by position), else 0."""
    policy = np.zeros(score.size)
    policy[np.argsort(-score, kind="stable")[:n]] = 1.0
    return policy


def _top_n_effects(frame: pd.DataFrame, strategy: str, targeted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(incremental, se) when the top `targeted` users of a strategy are contacted.

    incremental = (treated mean - control mean among them) x targeted, from cumulative sums so
    that every group size costs one pass; random targeting takes the whole table's difference.
    """
    y, t = frame["y"].to_numpy(dtype=np.float64), frame["t"].to_numpy()
    score = strategy_scores(frame, strategy)
    n = len(y)
    if score is None:
        order = np.arange(n)
        at = np.full(targeted.shape, n)
    else:
        order = np.argsort(-score, kind="stable")
        at = targeted
    y, t = y[order], t[order]
    stats = {}
    for arm in (0, 1):
        member = (t == arm).astype(np.float64)
        sums = [np.concatenate([[0.0], np.cumsum(member * y**power)]) for power in (0, 1, 2)]
        count, total, squares = (s[at] for s in sums)
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = total / count
            var = np.where(count >= 2, (squares - count * mean**2) / (count - 1), np.nan)
        stats[arm] = (mean, np.clip(var, 0.0, None), count)
    (m1, v1, c1), (m0, v0, c0) = stats[1], stats[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        diff = np.where((c1 >= 2) & (c0 >= 2), m1 - m0, np.nan)
        se = np.sqrt(v1 / c1 + v0 / c0)
    incremental = np.where(targeted == 0, 0.0, diff * targeted)
    return incremental, np.where(targeted == 0, 0.0, se * targeted)
