"""Where a budget should go across segments: traditional against causal attribution.

Traditional attribution spreads the contacts as the credited conversions suggest: in
proportion to each segment's credited conversions. Causal attribution places them where a
contact causes the most: segments are filled in order of their observed uplift (incremental
conversions per contact), only where it is positive, each up to its size. With a value linear
in the contacts and each segment capped by its size, this greedy order is the optimum of the
linear programme, so no solver is needed. Both plans are scored with the observed segment
uplifts, and their intervals propagate by the normal approximation (segments are disjoint, so
their estimates are independent). The causal plan is chosen and scored with the same uplifts,
so its gain is somewhat optimistic where segments differ by less than their intervals.

The budget is money: contacts = floor(budget / cost per contact). Contacts are counted among
the scored rows (a model's holdout is a sample of the population): for a campaign on a full
list, scale contacts and conversions by the list's size over the rows scored here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from impactiq.decisions.economics import check_contacts, check_economics, contacts_for_budget
from impactiq.intervals import interval_columns

PLANS = ("traditional", "causal")


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
    remaining = float(min(check_contacts(contacts), caps[open_].sum()))
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
    remaining = check_contacts(contacts)
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
            "observed_uplift_lower": table["observed_uplift_lower"],
            "observed_uplift_upper": table["observed_uplift_upper"],
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
            table["treated_mean_se"].to_numpy(dtype=np.float64),
        ),
        "incremental": (
            table["observed_uplift"].to_numpy(dtype=np.float64),
            table["observed_uplift_se"].to_numpy(dtype=np.float64),
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
            row.update(interval_columns(quantity, *_linear(weight, estimate, se)))
            roi = f"{'credited' if quantity == 'credited' else 'causal'}_roi"
            if per_spend.get(name) is None:
                row.update(interval_columns(roi, np.nan, np.nan))
            else:
                total, total_se = _linear(per_spend[name] * value, estimate, se)
                row.update(interval_columns(roi, total + offset, total_se))
        row.update(interval_columns("revenue", row["incremental"] * value, row["incremental_se"] * value))
        rows.append(row)
    return pd.DataFrame(rows)


def _caps(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each segment's size, and whether it has an observed uplift with a standard error to be judged
    by: a segment of one treated and one control user has an uplift (often ±1) but no standard
    error, and filling it first would leave both plans' totals without an interval."""
    eligible = np.isfinite(table["observed_uplift"].to_numpy(dtype=np.float64)) & np.isfinite(
        table["observed_uplift_se"].to_numpy(dtype=np.float64)
    )
    return np.where(eligible, table["users"].to_numpy(dtype=np.int64), 0), eligible


def _linear(weights: np.ndarray, estimate: np.ndarray, se: np.ndarray) -> tuple[float, float]:
    """sum(weights x estimate) and its standard error, over segments with a non-zero weight."""
    used = weights != 0
    return float(np.sum(weights[used] * estimate[used])), float(
        np.sqrt(np.sum((weights[used] * se[used]) ** 2))
    )


def _nan_to_zero(values: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(values), 0.0, values)
