"""The Segments report as text: segment table, budget plans, allocation and targeting strategies.

The numbers come from `impactiq.decisions.segments.segment_report`; this module only writes them
(through `formatting.format_estimate`), names their columns for a reader, and turns the whole
report into markdown or JSON for the command line.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from impactiq.decisions.allocation import PLANS, AllocationComparison
from impactiq.decisions.segments import SegmentReport
from impactiq.decisions.targeting import STRATEGY_DESCRIPTIONS
from impactiq.present.formatting import (
    amount_unit,
    effect_unit,
    format_estimate,
    level_unit,
    unit_labels,
)
from impactiq.present.tables import markdown_table
from impactiq.present.text import plain


def segment_table_text(table: pd.DataFrame, *, outcome: str, binary: bool) -> pd.DataFrame:
    """The main columns of `segment_table`, each estimate with its 95% interval."""
    words = unit_labels(outcome, binary=binary)

    def column(name: str, unit: str) -> list[str]:
        return [
            format_estimate(v, lo, hi, unit)
            for v, lo, hi in zip(table[name], table[f"{name}_lower"], table[f"{name}_upper"], strict=True)
        ]

    shown = {
        "segment": table["segment"],
        "users": [format_estimate(v, unit="count") for v in table["users"]],
        f"treated {words['mean']}": [
            format_estimate(v, unit=level_unit(binary)) for v in table["treated_mean"]
        ],
        f"control {words['mean']}": [
            format_estimate(v, unit=level_unit(binary)) for v in table["control_mean"]
        ],
        "observed uplift [95% CI]": column("observed_uplift", effect_unit(binary)),
        "mean predicted uplift [95% CI]": column("predicted_uplift", effect_unit(binary)),
        "doubly robust uplift [95% CI]": column("dr_uplift", effect_unit(binary)),
        "model disagrees": np.where(table["disagrees"], "⚠ yes", ""),
        f"credited {words['things']}": [
            format_estimate(v, unit=amount_unit(binary)) for v in table["credited"]
        ],
        f"incremental {words['things']} [95% CI]": column("incremental", amount_unit(binary)),
        "waste share [95% CI]": column("waste_share", "share"),
    }
    if "causal_roi" in table:
        shown["traditional ROI [95% CI]"] = column("traditional_roi", "change")
        shown["causal ROI [95% CI]"] = column("causal_roi", "change")
        shown["causal / traditional ROI [95% CI]"] = column("roi_multiplier", "score")
    return pd.DataFrame(shown)


def readable_segment_table(table: pd.DataFrame, *, outcome: str, binary: bool) -> pd.DataFrame:
    """`segment_table` as numbers with column names a reader understands, for a CSV download."""
    words = unit_labels(outcome, binary=binary)
    names = {
        "treated_mean": f"treated {words['mean']}",
        "control_mean": f"control {words['mean']}",
        "credited": f"credited {words['things']}",
        "incremental": f"incremental {words['things']}",
        "waste": f"waste: credited not incremental {words['things']}",
    }
    renamed = {}
    for column in table.columns:
        base = next((b for b in names if column == b or column.startswith(f"{b}_")), None)
        readable = column if base is None else names[base] + column[len(base) :]
        renamed[column] = readable.replace("_", " ")
    return table.rename(columns=renamed)


def plans_table(report: SegmentReport) -> pd.DataFrame:
    """The budget plans as text: one row per quantity, one column per plan and their difference."""
    comparison, binary = report.comparison, report.binary
    words = unit_labels(report.outcome, binary=binary)
    quantities = (
        ("users contacted", "contacts", "count"),
        # Not "spend": that is also the name of an outcome (Hillstrom's), and this is what the contacts cost.
        ("cost of contacts", "spend", "money"),
        (f"credited {words['things']}", "credited", amount_unit(binary)),
        ("ROI as credited", "credited_roi", "change"),
        (f"incremental {words['things']}", "incremental", amount_unit(binary)),
        ("incremental revenue", "revenue", "money"),
        ("ROI as caused", "causal_roi", "change"),
    )
    shown = {"": [label for label, _, _ in quantities]}
    for _, row in comparison.plans.iterrows():
        signed = True if row["plan"] not in PLANS else None
        shown[row["plan"]] = [
            format_estimate(row[key], row.get(f"{key}_lower"), row.get(f"{key}_upper"), unit, signed=signed)
            for _, key, unit in quantities
        ]
    return pd.DataFrame(shown)


ESTIMATE_COLUMN = "estimate [95% CI]"


def plan_column(plans: pd.DataFrame, plan: str) -> pd.DataFrame:
    """One plan's column of a plans table (`plans_table` or `channel_plans_table`, indexed by
    quantity), headed as an estimate with its interval: one side of the split screen."""
    return plans[[plan]].rename(columns={plan: ESTIMATE_COLUMN})


def channel_allocation_table(segments: pd.DataFrame) -> pd.DataFrame:
    """Contacts per segment under both channel plans (`channel_segments.compare_channel_plans`),
    with readable headers."""
    return pd.DataFrame(
        {
            "segment": segments["segment"],
            "users": segments["users"],
            "contacted, one mix for everyone": segments["traditional_contacts"],
            "contacted, each segment its best channel": segments["causal_contacts"],
            "its best channel": segments["causal_channel"],
        }
    )


def allocation_table(report: SegmentReport) -> pd.DataFrame:
    """Users contacted per segment under each plan, and the difference, with readable headers."""
    segments = report.comparison.segments
    return pd.DataFrame(
        {
            "segment": segments["segment"],
            "users": segments["users"],
            "contacted, traditional": segments["traditional_contacts"],
            "contacted, causal": segments["causal_contacts"],
            "causal − traditional": [
                format_estimate(v, unit="count", signed=True) for v in segments["difference"]
            ],
        }
    )


def strategies_table(report: SegmentReport) -> pd.DataFrame:
    """The targeting strategies as text, each estimate with its 95% interval."""
    strategies, binary = report.strategies, report.binary
    words = unit_labels(report.outcome, binary=binary)

    def column(key: str, unit: str, signed: bool | None = None) -> list[str]:
        return [
            format_estimate(r[key], r[f"{key}_lower"], r[f"{key}_upper"], unit, signed=signed)
            for _, r in strategies.iterrows()
        ]

    return pd.DataFrame(
        {
            "strategy": [STRATEGY_DESCRIPTIONS[s] for s in strategies["strategy"]],
            "users targeted": [format_estimate(v, unit="count") for v in strategies["targeted"]],
            f"incremental {words['things']}, observed": column("incremental", amount_unit(binary)),
            "incremental revenue, observed": column("revenue", "money"),
            f"incremental {words['things']}, doubly robust": column("dr_gain", amount_unit(binary)),
            "gain over random, doubly robust": column("dr_gain_vs_random", amount_unit(binary), signed=True),
        }
    )


def report_markdown(report: SegmentReport) -> str:
    """The segment table, both plans, the allocation and the strategies as markdown, with headings."""
    comparison = report.comparison
    return "\n\n".join(
        [
            f"## Segments by {report.segmentation.title} ({report.rows:,} rows, outcome {report.outcome})",
            f"{report.segmentation.method}.",
            markdown_table(segment_table_text(report.table, outcome=report.outcome, binary=report.binary)),
            f"## Budget {format_estimate(comparison.budget, unit='money')} at "
            f"{format_estimate(comparison.cost, unit='money')} per contact: "
            f"{format_estimate(comparison.contacts, unit='count')} contacts",
            markdown_table(plans_table(report)),
            markdown_table(allocation_table(report)),
            "## Targeting strategies",
            markdown_table(strategies_table(report)),
        ]
    )


def report_dict(report: SegmentReport) -> dict:
    """Plain values and lists of records, with the definitions and unit words, ready for JSON."""
    profiles = report.segmentation.profiles
    comparison = report.comparison
    return {
        "outcome": report.outcome,
        "outcome_kind": "binary" if report.binary else "amount",
        "units": unit_labels(report.outcome, binary=report.binary),
        "rows": report.rows,
        "by": report.segmentation.by,
        "segmentation": report.segmentation.title,
        "method": report.segmentation.method,
        "cost": comparison.cost,
        "value": comparison.value,
        "budget": comparison.budget,
        "contacts": comparison.contacts,
        "definitions": report.definitions,
        "segments": report.table.to_dict(orient="records"),
        "profiles": None if profiles is None else profiles.to_dict(orient="records"),
        "allocation": {
            "segments": comparison.segments.to_dict(orient="records"),
            "plans": comparison.plans.to_dict(orient="records"),
        },
        "strategies": report.strategies.to_dict(orient="records"),
    }


def channel_segment_text(table: pd.DataFrame, *, outcome: str, binary: bool) -> pd.DataFrame:
    """`channel_segments.channel_segment_table` to read: segment and channel, then the main
    columns of `segment_table_text`."""
    text = segment_table_text(table, outcome=outcome, binary=binary)
    text.insert(1, "channel", table["channel"].to_numpy())
    return text


def channel_plans_table(plans) -> pd.DataFrame:
    """The traditional and the causal plan of `channel_segments.compare_channel_plans`, with 95% CIs."""
    rows = {}
    for row in plans.plans.itertuples():
        column = {
            "contacts": format_estimate(row.contacts, unit="count"),
            "incremental conversions [95% CI]": format_estimate(
                row.incremental, row.incremental_lower, row.incremental_upper, "total"
            ),
            "incremental revenue [95% CI]": format_estimate(
                row.revenue, row.revenue_lower, row.revenue_upper, "money"
            ),
        }
        if pd.notna(getattr(row, "causal_roi", np.nan)):
            column["causal ROI [95% CI]"] = format_estimate(
                row.causal_roi, row.causal_roi_lower, row.causal_roi_upper, "change"
            )
        rows[row.plan] = column
    return pd.DataFrame(rows)


# The split screen's two sides for segments: (title, what the plan does).
SEGMENT_PLAN_SIDES = {
    "traditional": (
        "Traditional attribution",
        "Budget spread in proportion to each segment's credited conversions.",
    ),
    "causal": (
        "Causal segment attribution",
        "Budget placed where a contact causes the most: segments in order of observed uplift, only where it "
        "is positive, each up to its size (optimistic where segments differ by less than their intervals).",
    ),
}


def channel_plan_sides(mix: dict[str, float]) -> dict[str, tuple[str, str]]:
    """The split screen's two sides for channels by segment: (title, what the plan does), with
    `mix` (`channel_segments.experiment_mix`) the channel mix the traditional plan gives everyone.
    Like the sentences below, markdown to show as it is: names from the data pass through `plain`."""
    mixed = ", ".join(f"{plain(arm)} {share:.0%}" for arm, share in mix.items())
    return {
        "traditional": (
            "Traditional: one channel mix for everyone",
            f"Every segment gets the experiment's channel mix ({mixed}); contacts spread in proportion to the "
            "conversions credited in each segment.",
        ),
        "causal": (
            "Causal: each segment its best channel",
            "Each segment gets the channel with its largest observed uplift; contacts go where that uplift is "
            "largest, only where it is positive (optimistic where channels differ by less than their intervals).",
        ),
    }


def segment_gain_sentence(comparison: AllocationComparison, things: str) -> tuple[bool, str] | None:
    """Whether causal allocation clearly gains over traditional (its interval clear of zero), and
    the gain in incremental `things` and ROI in words (`allocation.compare_allocations`); None
    when the budget buys no contact."""
    if not comparison.contacts:
        return None
    gain = comparison.plans.set_index("plan").loc["causal - traditional"]
    incremental = format_estimate(
        gain["incremental"], gain["incremental_lower"], gain["incremental_upper"], "total", signed=True
    )
    roi = format_estimate(gain["causal_roi"], gain["causal_roi_lower"], gain["causal_roi_upper"], "change")
    return bool(gain["incremental_lower"] > 0), (
        f"For the same budget, causal allocation gains {incremental} incremental {plain(things)} "
        f"and {roi} ROI (95% CIs in brackets)."
    )


def channel_gain_sentence(plans, things: str) -> tuple[bool, str]:
    """Whether giving each segment its best channel clearly gains over one mix for all
    (`channel_segments.compare_channel_plans`), and the gain in incremental `things` in words."""
    gain = plans.plans.set_index("plan").loc["causal - traditional"]
    incremental = format_estimate(
        gain["incremental"], gain["incremental_lower"], gain["incremental_upper"], "total"
    )
    return bool(gain["incremental_lower"] > 0), (
        f"For the same {plans.contacts:,} contacts, choosing each segment's channel gains {incremental} incremental "
        f"{plain(things)} (95% CI)."
    )


def disagreement_sentence(table: pd.DataFrame) -> str | None:
    """A warning naming the segments where the model's mean prediction disagrees with the
    observed uplift beyond sampling error; None where none does."""
    flagged = table.loc[table["disagrees"], "segment"].tolist()
    if not flagged:
        return None
    return (
        f"The model's mean prediction disagrees with the observed uplift beyond sampling error (z-test, 5%) in: "
        f"{', '.join(plain(s) for s in flagged)}. Do not trust its ranking there. With many segments, one in twenty is "
        "flagged by chance."
    )
