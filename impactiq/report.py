"""Holdout metrics (as `training.holdout_metrics` returns them) as a table a reader can sign.

Every row states its estimate with its 95% interval and the definition it follows, so a number
on screen is never ambiguous about which Qini or which average effect it is.
"""

from __future__ import annotations

import math

import pandas as pd

# (key in the metrics dict, label, unit): "share" values are rates shown in percentage points.
_ROWS = (
    ("qini_auc_score", "Qini coefficient (normalised, scikit-uplift)", "score"),
    ("uplift_auc_score", "Uplift AUC (normalised, scikit-uplift)", "score"),
    ("ate", "Average effect, doubly robust (AIPW)", "effect"),
    ("naive_ate", "Average effect, difference in means", "effect"),
    ("mean_uplift", "Mean predicted uplift", "effect"),
)


def metrics_table(metrics: dict, *, binary: bool) -> pd.DataFrame:
    """One row per metric: estimate, 95% interval, and a note (definition, or why unavailable)."""
    rows = [_row(label, metrics.get(key), unit, binary) for key, label, unit in _ROWS]
    for strategy, by_k in metrics.get("uplift_at_k", {}).items():
        for k, value in by_k.items():
            label = f"Uplift at top {float(k):.0%} ({strategy.replace('_', ' ')})"
            rows.append(_row(label, value, "effect", binary))
    for key, label, unit in (
        ("true_ate", "True average effect (synthetic truth)", "effect"),
        ("ate_error", "Error of the mean predicted uplift vs truth", "effect"),
        ("pehe", "PEHE (root mean squared error vs true effect)", "size"),
        ("interval_coverage", "Coverage of the 95% intervals of the true effect", "share"),
    ):
        if key in metrics:
            rows.append(_row(label, {"estimate": metrics[key]}, unit, binary))
    return pd.DataFrame(rows, columns=["metric", "estimate", "95% CI", "note"])


def format_effect(effect: float, binary: bool) -> str:
    """An effect in a reader's units: signed percentage points for a 0/1 outcome, else the outcome's."""
    return f"{effect * 100:+.3f} pp" if binary else f"{effect:+,.4f}"


def format_interval(lower: float, upper: float, binary: bool) -> str:
    """An effect's interval as '[lower, upper]' in the units of `format_effect`."""
    return f"[{format_effect(lower, binary)}, {format_effect(upper, binary)}]"


def format_value(value: float, unit: str, binary: bool) -> str:
    """A number in the unit a reader expects: effects on rates in signed pp, errors unsigned, coverage in %."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if unit == "effect":
        return format_effect(value, binary)
    if unit == "share":
        return f"{value:.1%}"
    if unit == "size":
        return f"{value * 100:.3f} pp" if binary else f"{value:,.4f}"
    return f"{value:.4f}"


def _row(label: str, value: dict | None, unit: str, binary: bool) -> dict:
    if not value:
        return {"metric": label, "estimate": "–", "95% CI": "", "note": "not computed"}
    if "unavailable" in value:
        return {"metric": label, "estimate": "–", "95% CI": "", "note": value["unavailable"]}
    interval = ""
    if "lower" in value:
        interval = (
            f"[{format_value(value['lower'], unit, binary)}, {format_value(value['upper'], unit, binary)}]"
        )
    return {
        "metric": label,
        "estimate": format_value(value["estimate"], unit, binary),
        "95% CI": interval,
        "note": value.get("method", ""),
    }


def models_table(models: list[dict]) -> pd.DataFrame:
    """Saved models for display: the holdout Qini with its interval, and why a folder is unusable."""
    rows = []
    for entry in models:
        qini = "–"
        if entry["qini"] is not None:
            qini = f"{entry['qini']:.4f} [{entry['qini_lower']:.4f}, {entry['qini_upper']:.4f}]"
        rows.append(
            {
                "name": entry["name"],
                "estimator": entry["estimator"] or "–",
                "outcome": entry["outcome"] or "–",
                "rows": entry["rows"],
                "Qini coefficient (95% CI)": qini,
                "created (UTC)": (entry["created"] or "")[:19].replace("T", " "),
                "problem": entry["error"] or "",
            }
        )
    return pd.DataFrame(rows)
