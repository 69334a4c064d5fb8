"""Which channel works for which segment, and one budget spread two ways across them.

Per segment and channel, `channel_segment_table` is `segments.segment_table` of that channel
against control on the rows of both (observed uplift with its 95% interval, predicted and doubly
robust uplift, credited and incremental conversions, waste, ROI under both attributions): the
numbers behind the segment x channel heat map.

`compare_channel_plans` spends one budget (money; contacts = budget / cost per contact) two ways:

- traditional: one channel mix for every segment (the experiment's mix of channels, over the
  channels a segment has rows for) and the contacts spread across segments in proportion to the
  conversions credited there;
- causal: each segment gets the channel with its largest observed uplift, and contacts go to
  the segments where that uplift is largest, only where it is positive, each up to its size
  (the greedy optimum of a linear programme, as in `allocation.causal_allocation`).

Both are scored with the observed uplifts. Every total is a linear function of the segments'
arm means, and within a segment every channel's uplift shares the same control mean; the
standard errors are therefore computed from the arm means (independent across segments and
arms), not by adding the uplifts' variances. The causal plan is chosen and scored on the same
rows, so its gain is somewhat optimistic where channels or segments differ by less than their
intervals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from impactiq.decisions.allocation import causal_allocation, traditional_allocation
from impactiq.decisions.economics import check_economics, contacts_for_budget
from impactiq.decisions.segmentation import (
    Segmentation,
    assign_segments,
    column_segments,
    kmeans_segments,
    parse_by,
)
from impactiq.decisions.segments import segment_table
from impactiq.errors import ImpactIQError
from impactiq.intervals import interval_columns
from impactiq.uplift.arms import ARM_COLUMN, arm_view_frame


def channel_segmentation(holdout: pd.DataFrame, schema, by: str, *, seed: int = 0) -> Segmentation:
    """Segments of a multi-arm holdout by a feature column or K-means clusters (`segmentation`).

    Channels are compared within the same segments, so only segments drawn from the users'
    features qualify: predicted-uplift and persuadability segments differ from channel to channel.
    """
    kind, arg = parse_by(by)
    if kind == "column":
        labels, method = column_segments(holdout, schema, arg)
        return Segmentation(by, arg, labels, method)
    if kind == "kmeans":
        labels, profiles = kmeans_segments(holdout, schema, arg, seed=seed)
        return Segmentation(
            by, f"behavioural cluster (K-means, k={arg})", labels, f"K-means with k={arg}", profiles
        )
    raise ImpactIQError(
        f"Compare channels within segments of a feature column or K-means clusters ('kmeans:K'); '{by}' "
        "differs from channel to channel."
    )


def arm_segmentation(
    holdout: pd.DataFrame, arms: tuple[str, ...], arm: str, schema, by: str, *, seed: int = 0
) -> Segmentation:
    """Segments of one arm's rows (control and that arm) of a multi-arm holdout.

    Feature-column and K-means segments are drawn once from the whole holdout and restricted to
    the arm's rows, so each segment (each cluster in particular) is the same users in every
    arm's table and in the segment x channel table; predicted-uplift and persuadability
    segments are the arm's own.
    """
    kind, _ = parse_by(by)
    view = arm_view_frame(holdout, arms, arm)
    if kind not in ("column", "kmeans"):
        return assign_segments(view, schema, by, seed=seed)
    whole = channel_segmentation(holdout, schema, by, seed=seed)
    codes = holdout[ARM_COLUMN].to_numpy()
    rows = (codes == 0) | (codes == arms.index(arm) + 1)
    labels = whole.labels[rows].reset_index(drop=True)
    return Segmentation(whole.by, whole.title, labels, whole.method, whole.profiles)


def channel_segment_table(
    holdout: pd.DataFrame, arms: tuple[str, ...], labels: pd.Series, *, cost: float, value: float
) -> pd.DataFrame:
    """One row per segment and channel: that channel against control in that segment.

    `holdout` is a multi-arm holdout (`TrainedModel.holdout`), `labels` one segment per row of
    it (categorical; every segment appears for every channel). The columns are those of
    `segments.segment_table`, after `segment` and `channel`.
    """
    labels = pd.Series(labels).astype("category").reset_index(drop=True)
    if len(labels) != len(holdout):
        raise ImpactIQError(
            f"There are {len(labels)} segment labels for {len(holdout)} rows; pass one per row."
        )
    codes = holdout[ARM_COLUMN].to_numpy()
    parts = []
    for k, arm in enumerate(arms, start=1):
        rows = (codes == 0) | (codes == k)
        part = segment_table(
            arm_view_frame(holdout, arms, arm), labels[rows].reset_index(drop=True), cost=cost, value=value
        )
        part.insert(1, "channel", arm)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def experiment_mix(arms: tuple[str, ...], shares: tuple[float, ...]) -> dict[str, float]:
    """The experiment's channel mix: each channel's share of the contacts, from every arm's
    share of the experiment (control first), the traditional plan's one mix for everyone."""
    treated = np.asarray(shares[1:], dtype=np.float64)
    return {arm: float(share) for arm, share in zip(arms, treated / treated.sum(), strict=True)}


@dataclass(frozen=True)
class ChannelPlans:
    """Traditional against causal use of one budget across segments and channels.

    `segments`: per segment, users, the contacts each plan gives it, the causal plan's channel
    and its observed uplift with its interval. `plans`: one row per plan and a
    'causal - traditional' row: contacts, spend, incremental conversions, their value and the
    causal ROI, each estimate with its 95% interval.
    """

    budget: float
    cost: float
    value: float
    contacts: int
    mix: dict
    segments: pd.DataFrame
    plans: pd.DataFrame


def compare_channel_plans(
    table: pd.DataFrame, *, mix: dict, budget: float, cost: float, value: float
) -> ChannelPlans:
    """Both plans for `budget` on a `channel_segment_table`; `mix` is the traditional channel mix
    (each channel's share of the contacts, summing to 1)."""
    check_economics(cost, value)
    arms = tuple(dict.fromkeys(table["channel"]))
    weights = np.array([float(mix.get(arm, 0.0)) for arm in arms])
    if np.any(weights < 0) or not np.isclose(weights.sum(), 1.0):
        raise ImpactIQError(
            "The traditional channel mix must give every channel a share, the shares summing to 1."
        )
    segments = list(dict.fromkeys(table["segment"]))
    grid = {
        column: table.pivot(index="segment", columns="channel", values=column)
        .loc[segments, list(arms)]
        .to_numpy()
        for column in ("observed_uplift", "treated_mean_se", "credited", "users")
    }
    # Within a segment every channel's uplift shares the control mean: its variance, once.
    control_se = (
        table[table["channel"] == arms[0]].set_index("segment").loc[segments, "control_mean_se"].to_numpy()
    )
    # A channel's uplift in a segment is judged only with its standard error: one treated (or
    # control) user gives an uplift but none, and a plan placed there would print an interval
    # that leaves that noise out. Such a cell is treated as a channel without rows there.
    judged = np.isfinite(grid["treated_mean_se"]) & np.isfinite(control_se)[:, None]
    uplift = np.where(judged, grid["observed_uplift"], np.nan)
    treated_se = np.where(judged, grid["treated_mean_se"], 0.0)
    control_se = np.where(np.isfinite(control_se), control_se, 0.0)
    users = _segment_users(table, segments, arms)
    contacts = contacts_for_budget(budget, cost, int(users.sum()))

    # The traditional mix within each segment, over the channels that segment has an uplift for:
    # a channel without rows there gets none of its contacts.
    present = ~np.isnan(uplift)
    segment_mix = np.where(present, weights[None, :], 0.0)
    totals = segment_mix.sum(axis=1, keepdims=True)
    segment_mix = np.divide(segment_mix, totals, out=np.zeros_like(segment_mix), where=totals > 0)
    mixed = np.nansum(uplift * segment_mix, axis=1)
    none_judged = np.isnan(uplift).all(axis=1)
    mixed_se = np.sqrt(np.sum((segment_mix * treated_se) ** 2, axis=1) + control_se**2)
    traditional = traditional_allocation(
        pd.DataFrame(
            {
                "users": users,
                "credited": np.nansum(grid["credited"], axis=1),
                "observed_uplift": np.where(none_judged, np.nan, mixed),
                "observed_uplift_se": np.where(none_judged, np.nan, mixed_se),
            }
        ),
        contacts,
    )
    best = np.argmax(np.where(np.isnan(uplift), -np.inf, uplift), axis=1)
    each = np.arange(len(segments))
    best_uplift = uplift[each, best]
    best_se = np.where(np.isnan(best_uplift), np.nan, np.hypot(treated_se[each, best], control_se))
    causal = causal_allocation(
        pd.DataFrame({"users": users, "observed_uplift": best_uplift, "observed_uplift_se": best_se}),
        contacts,
    )
    plan_weights = {
        "traditional": traditional[:, None] * segment_mix,
        "causal": causal[:, None] * (np.arange(len(arms))[None, :] == best[:, None]),
    }
    plan_weights["causal - traditional"] = plan_weights["causal"] - plan_weights["traditional"]
    rows = []
    for name, w in plan_weights.items():
        placed = {"traditional": traditional.sum(), "causal": causal.sum()}.get(name)
        placed = causal.sum() - traditional.sum() if placed is None else placed
        estimate = float(np.nansum(w * uplift))
        se = float(np.sqrt(np.sum((w * treated_se) ** 2) + np.sum((w.sum(axis=1) * control_se) ** 2)))
        spend = cost * placed
        row = {"plan": name, "contacts": int(placed), "spend": spend}
        row.update(interval_columns("incremental", estimate, se))
        row.update(interval_columns("revenue", estimate * value, se * value))
        if name != "causal - traditional" and spend > 0:
            row.update(interval_columns("causal_roi", (estimate * value - spend) / spend, se * value / spend))
        rows.append(row)
    plans = pd.DataFrame(rows)
    best_table = table[table["channel"].isin(arms)].set_index(["segment", "channel"])
    chosen = [arms[b] for b in best]
    per_segment = pd.DataFrame(
        {
            "segment": segments,
            "users": users,
            "traditional_contacts": traditional,
            "causal_contacts": causal,
            "causal_channel": [c if n > 0 else "" for c, n in zip(chosen, causal, strict=True)],
            "best_channel": chosen,
            "best_uplift": best_uplift,
            "best_uplift_lower": [
                best_table.loc[(s, c), "observed_uplift_lower"] for s, c in zip(segments, chosen, strict=True)
            ],
            "best_uplift_upper": [
                best_table.loc[(s, c), "observed_uplift_upper"] for s, c in zip(segments, chosen, strict=True)
            ],
        }
    )
    return ChannelPlans(
        budget, cost, value, contacts, dict(zip(arms, weights.tolist(), strict=True)), per_segment, plans
    )


def _segment_users(table: pd.DataFrame, segments: list, arms: tuple[str, ...]) -> np.ndarray:
    """Each segment's users across control and every channel (control counted once)."""
    first = table[table["channel"] == arms[0]].set_index("segment").loc[segments]
    treated = table.pivot(index="segment", columns="channel", values="treated").loc[segments, list(arms)]
    return (first["control"].to_numpy() + treated.sum(axis=1).to_numpy()).astype(np.int64)
