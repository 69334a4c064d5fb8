"""Journeys as a reader sees them: every model's credit side by side, the causal check, people linked.

Model names are spelled out once here (`MODEL_NAMES`), and every number goes through
`format_estimate`, so that the page, the download and the command line read the same.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from impactiq.journeys.check import CausalCheck
from impactiq.journeys.identity import IdentityReport
from impactiq.present.formatting import format_estimate
from impactiq.present.text import shorten

MODEL_NAMES = {
    "first": "first touch",
    "last": "last touch",
    "linear": "linear",
    "time_decay": "time decay",
    "position": "position-based",
    "markov": "Markov",
    "shapley": "Shapley",
}


def credit_table(credit: pd.DataFrame, *, measure: str = "conversions") -> pd.DataFrame:
    """Channels as rows, models as columns: credited conversions (or revenue), with the 95% interval
    where a model's credit has a sampling error (Shapley's sampled sets)."""
    unit = "total" if measure == "conversions" else "money"
    columns = {}
    for model, rows in credit.groupby("model", sort=False):
        se = rows[f"{measure}_se"].to_numpy()
        values = rows[measure].to_numpy()
        columns[MODEL_NAMES.get(model, model)] = [
            format_estimate(v, v - 1.959964 * s, v + 1.959964 * s, unit)
            if s > 0
            else format_estimate(v, unit=unit)
            for v, s in zip(values, se, strict=True)
        ]
    channels = credit.drop_duplicates("channel")["channel"].map(shorten).to_numpy()
    return pd.DataFrame({"channel": channels, **columns})


def lift_table(lift: pd.DataFrame) -> pd.DataFrame:
    """Each channel's randomized holdout: who was eligible, exposed and held out, their conversion
    rates, and the lift and incremental conversions with 95% CIs."""
    return pd.DataFrame(
        {
            "channel": lift["channel"].map(shorten),
            "eligible": [format_estimate(v, unit="count") for v in lift["eligible"]],
            "exposed": [format_estimate(v, unit="count") for v in lift["exposed"]],
            "held out": [format_estimate(v, unit="count") for v in lift["held_out"]],
            "converted, exposed": [format_estimate(v, unit="rate") for v in lift["rate_exposed"]],
            "converted, held out": [format_estimate(v, unit="rate") for v in lift["rate_held_out"]],
            "lift [95% CI]": _with_interval(lift, "lift", "pp"),
            "incremental conversions [95% CI]": _with_interval(lift, "incremental", "total"),
        }
    )


def check_table(table: pd.DataFrame, models: list[str]) -> pd.DataFrame:
    """The causal check (`journeys.causal.credit_against_lift`): each model's credited conversions
    beside the conversions the experiment says each channel caused (and the truth, when known)."""
    shown = {"channel": table["channel"].map(shorten)}
    for model in models:
        shown[f"{MODEL_NAMES.get(model, model)} credit"] = [
            format_estimate(v, unit="total") for v in table[model]
        ]
    shown["incremental, measured [95% CI]"] = _with_interval(table, "incremental", "total")
    if "true_incremental" in table:
        shown["incremental, true"] = [format_estimate(v, unit="total") for v in table["true_incremental"]]
    return pd.DataFrame(shown)


def error_table(errors: pd.DataFrame, *, against: str) -> pd.DataFrame:
    """How much of each model's credit sits on the wrong channels (`journeys.causal.credit_error`)."""
    return pd.DataFrame(
        {
            "model": errors["model"].map(lambda m: MODEL_NAMES.get(m, m)),
            f"credit misplaced against the {against}": [
                format_estimate(v, unit="share") for v in errors["misallocated"]
            ],
            "channel furthest off": errors["worst_channel"].map(shorten),
            "its share of credit": [format_estimate(v, unit="share") for v in errors["worst_credit_share"]],
            f"its share of incremental conversions ({against})": [
                format_estimate(v, unit="share") for v in errors["worst_incremental_share"]
            ],
        }
    )


def paths_table(paths: pd.DataFrame) -> pd.DataFrame:
    """The most common converting paths (`journeys.summary.top_paths`), shares and revenue in words."""
    return paths.assign(
        share=[format_estimate(v, unit="share") for v in paths["share"]],
        revenue=[format_estimate(v, unit="money") for v in paths["revenue"]],
    )


def closest_model_sentence(check: CausalCheck) -> str:
    """Which model's split of credit lies closest to what the channels caused, and why even it
    misleads a budget (`journeys.causal.CausalCheck` with its errors)."""
    best = check.closest
    return (
        f"Closest to the {check.against}: {MODEL_NAMES.get(best['model'], best['model'])}, with "
        f"{format_estimate(best['misallocated'], unit='share')} of its credit on the wrong channels. Attribution credits every conversion, "
        "including those that would have happened anyway: a budget split by credit follows them."
    )


def identity_sentences(report: IdentityReport) -> list[str]:
    """What linking found, one sentence per fact a user should check: plain text (the page shows
    each line as written, not as markdown), with outside values shortened."""
    lines = []
    for name, table in report.tables.items():
        line = f"{shorten(name)}: {table.rows:,} rows, {table.matched:,} ({format_estimate(table.match_rate, unit='share')}) belong to a person seen in another file"
        if table.unidentified:
            line += f"; {table.unidentified:,} have no usable identifier (rows {', '.join(str(r + 1) for r in table.unidentified_rows)})"
        if table.invalid_phones:
            examples = ", ".join(f"row {r + 1}: {shorten(v)}" for r, v in table.invalid_phone_examples)
            line += f"; {table.invalid_phones:,} phone number(s) are not valid ({examples})"
        if table.invalid_emails:
            examples = ", ".join(f"row {r + 1}: {shorten(v)}" for r, v in table.invalid_email_examples)
            line += f"; {table.invalid_emails:,} e-mail address(es) are not valid ({examples})"
        lines.append(line + ".")
    lines.append(f"{report.people:,} people in all.")
    if report.ambiguous_identifiers:
        shown = "; ".join(
            f"{shorten(a.value)} ({a.kind}) is shared by {', '.join(map(shorten, a.customer_ids))}"
            for a in report.ambiguous_examples
        )
        lines.append(
            f"{report.ambiguous_identifiers:,} identifier(s) belong to more than one customer and merge them: {shown}."
        )
    return lines


def roi_table(rows: pd.DataFrame, *, by: str = "channel") -> pd.DataFrame:
    """One model's spend and return per channel (or group) from `journeys.spend.channel_roi`:
    ROAS and ROI with their 95% intervals where the credit has a sampling error, and why a
    ratio is missing."""

    def ratio(name: str, unit: str) -> list[str]:
        se = rows[f"{name}_se"].fillna(0).to_numpy()
        return [
            format_estimate(v, v - 1.959964 * s, v + 1.959964 * s, unit)
            if s > 0
            else format_estimate(v, unit=unit)
            for v, s in zip(rows[name], se, strict=True)
        ]

    return pd.DataFrame(
        {
            by: rows[by].map(shorten).to_numpy(),
            "spend": [format_estimate(v, unit="money") for v in rows["spend"]],
            "credited conversions": [format_estimate(v, unit="total") for v in rows["conversions"]],
            "credited revenue": [format_estimate(v, unit="money") for v in rows["revenue"]],
            "ROAS (revenue / spend)": ratio("roas", "score"),
            "ROI": ratio("roi", "change"),
            "cost per credited conversion": ratio("cost_per_conversion", "money"),
            "note": rows["note"].map(shorten).to_numpy(),
        }
    )


def _with_interval(table: pd.DataFrame, name: str, unit: str) -> list[str]:
    return [
        format_estimate(v, lo, hi, unit)
        for v, lo, hi in zip(table[name], table[f"{name}_lower"], table[f"{name}_upper"], strict=True)
    ]


def credit_shares(credit: pd.DataFrame) -> pd.DataFrame:
    """Long table of each model's share of credited conversions per channel, for a chart."""
    totals = credit.groupby("model", sort=False)["conversions"].transform("sum")
    return credit.assign(
        share=np.where(totals > 0, credit["conversions"] / totals, np.nan),
        model=credit["model"].map(lambda m: MODEL_NAMES.get(m, m)),
    )[["model", "channel", "conversions", "share"]]
