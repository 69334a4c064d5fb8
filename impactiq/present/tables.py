"""Display tables of an experiment and of models: every estimate with its 95% interval and definition.

Each table here is text, ready for a page or a terminal: numbers are written by
`formatting.format_estimate`, so a number on screen is never ambiguous about its unit, and each
row that could mean several things (which Qini, which average effect) says which it is.
"""

from __future__ import annotations

import math

import pandas as pd

from impactiq.decisions.channels import BEST as BEST_POLICY
from impactiq.decisions.channels import NOBODY as NOBODY_POLICY
from impactiq.errors import ImpactIQError
from impactiq.evaluation.validation import best_linear_predictor
from impactiq.present.formatting import MISSING, effect_unit, file_size, format_estimate, level_unit
from impactiq.present.text import shorten

# (key in the metrics dict, label, kind): kind "effect" is an effect on the outcome, "score" a
# unitless score, "size" an error in the outcome's units, "share" a share in percent.
_METRIC_ROWS = (
    ("qini_auc_score", "Qini coefficient (normalised, scikit-uplift)", "score"),
    ("uplift_auc_score", "Uplift AUC (normalised, scikit-uplift)", "score"),
    ("ate", "Average effect, doubly robust (AIPW)", "effect"),
    ("naive_ate", "Average effect, difference in means", "effect"),
    ("mean_uplift", "Mean predicted uplift", "effect"),
)
_TRUTH_ROWS = (
    ("true_ate", "True average effect (synthetic truth)", "effect"),
    ("ate_error", "Error of the mean predicted uplift vs truth", "effect"),
    ("pehe", "PEHE (root mean squared error vs true effect)", "size"),
    ("interval_coverage", "Coverage of the 95% intervals of the true effect", "share"),
)


def metrics_table(metrics: dict, *, binary: bool) -> pd.DataFrame:
    """Holdout metrics (`evaluation.holdout.holdout_metrics`): estimate [95% CI] and a note each.

    The note is the metric's definition, or why it could not be computed on these rows.
    """
    rows = [_metric_row(label, metrics.get(key), kind, binary) for key, label, kind in _METRIC_ROWS]
    for strategy, by_k in metrics.get("uplift_at_k", {}).items():
        for k, value in by_k.items():
            label = f"Uplift at top {float(k):.0%} ({strategy.replace('_', ' ')})"
            rows.append(_metric_row(label, value, "effect", binary))
    for key, label, kind in _TRUTH_ROWS:
        if key in metrics:
            rows.append(_metric_row(label, {"estimate": metrics[key]}, kind, binary))
    return pd.DataFrame(rows, columns=["metric", "estimate [95% CI]", "note"])


def quality_verdict(metrics: dict) -> tuple[str, str]:
    """What the holdout Qini says about the model's ranking, in words, from its 95% interval.

    Returns (level, sentence), level "good" (the interval lies above zero), "none" (it includes
    zero: no better than random on this holdout), "bad" (below zero) or "unknown" (no Qini)."""
    qini = metrics.get("qini_auc_score") or {}
    if "estimate" not in qini or not all(pd.notna(qini.get(k)) for k in ("lower", "upper")):
        reason = qini.get("unavailable", "the holdout is too small")
        return "unknown", f"The ranking could not be judged: no Qini interval ({reason})."
    shown = format_estimate(qini["estimate"], qini["lower"], qini["upper"], "score")
    if qini["lower"] > 0:
        return "good", (
            f"The model ranks users better than random: its holdout Qini {shown} lies above zero. Targeting "
            "by its uplift finds more incremental outcomes than targeting at random."
        )
    if qini["upper"] < 0:
        return "bad", (
            f"The model ranks users worse than random: its holdout Qini {shown} lies below zero. Do not "
            "target by it."
        )
    return "none", (
        f"The model ranks users no better than random on this holdout: its Qini {shown} includes zero. Use the "
        "average effect for decisions, or more data, before targeting by its predictions."
    )


def heterogeneity_verdict(blp, *, binary: bool) -> tuple[str, str]:
    """The best linear predictor test (`evaluation.validation`) in words: is there heterogeneity the
    model captures, and are its predictions calibrated (slope 1), overconfident (below 1) or
    underconfident (above 1)? Returns (level, sentence), level "good", "none" or "off"."""
    low, high = blp.slope_interval
    slope = format_estimate(blp.slope, low, high, "score")
    ate = format_estimate(blp.ate, *blp.ate_interval, effect_unit(binary))
    # No p-value when the predictions do not vary (the slope's standard error is 0): no test, no number.
    p_value = (
        f"one-sided p = {blp.p_value:.2g}"
        if math.isfinite(blp.p_value)
        else "no p-value: the predictions do not vary"
    )
    test = f"best linear predictor slope {slope}, {p_value}; 1 means calibrated"
    if not blp.p_value < 0.05:
        return "none", (
            f"No evidence that the model captures heterogeneity ({test}): decide with the average effect, "
            f"{ate} (doubly robust, 95% CI)."
        )
    if low <= 1.0 <= high:
        return (
            "good",
            f"The model captures real differences between users and its predictions are calibrated ({test}).",
        )
    if high < 1.0:
        return "off", (
            f"The model captures real differences between users, but overstates them: it is overconfident "
            f"({test}). Rank by it; do not take its individual numbers at face value."
        )
    return "off", (
        f"The model captures real differences between users, and they are larger than it predicts: it is "
        f"underconfident ({test})."
    )


def holdout_heterogeneity_verdict(holdout: pd.DataFrame, *, binary: bool) -> tuple[str, str]:
    """`heterogeneity_verdict` of the best linear predictor test on a scored holdout; level
    "unknown" with the reason where the test cannot be run (too few rows, no spread in the
    predictions), so the page, the report and the command line say the same."""
    try:
        return heterogeneity_verdict(best_linear_predictor(holdout), binary=binary)
    except ImpactIQError as error:
        return "unknown", f"The heterogeneity test could not be run: {error}"


def uncalibrated_reason(data: dict) -> str | None:
    """Why a model's interval width is not calibrated, or None when it is: one sentence, the same
    on the Train page, in the report and from the command line. `data` is the trained model's
    `data` (its `interval_calibration` entry says what happened)."""
    calibration = data.get("interval_calibration")
    if calibration is None:
        return (
            "The interval width is not calibrated: the model was trained with calibration off, or before "
            "ImpactIQ calibrated intervals; retrain it to calibrate."
        )
    if "unavailable" in calibration:
        return f"The interval width is not calibrated: {calibration['unavailable']}"
    return None


def model_caption(entry: dict) -> str:
    """What a saved model is, in one line (`uplift.store.list_models` entry): said once above
    every result a page shows for it."""
    rows = f"{entry['rows']:,} rows" if isinstance(entry["rows"], int) else "rows not recorded"
    return (
        f"Results of model {entry['name']}: {entry['estimator']} on {entry['outcome']}, trained on "
        f"{entry['data_set'] or 'a data set not recorded'} ({rows}), saved "
        f"{str(entry['created'])[:16].replace('T', ' ')} UTC."
    )


def models_table(models: list[dict]) -> pd.DataFrame:
    """Usable saved models (`uplift.store.list_models`): what each was trained on, and its holdout Qini."""
    rows = []
    for entry in models:
        rows.append(
            {
                "name": entry["name"],
                "data set": entry["data_set"] or MISSING,
                "rows": entry["rows"],
                "outcome": entry["outcome"] or MISSING,
                "estimator": entry["estimator"] or MISSING,
                "created (UTC)": (entry["created"] or "")[:19].replace("T", " "),
                "holdout Qini coefficient [95% CI]": _qini_text(entry),
            }
        )
    return pd.DataFrame(rows)


def data_files_table(files) -> pd.DataFrame:
    """The tables in the server's data folder (`data.server_files.list_data_files`)."""
    return pd.DataFrame(
        {
            "name": [shorten(f.name, None) for f in files],
            "size": [file_size(f.size) for f in files],
            "modified (UTC)": [f.modified.strftime("%Y-%m-%d %H:%M") for f in files],
        }
    )


def _qini_text(entry: dict) -> str:
    """The holdout Qini with its interval; for a multi-arm model, each arm's against control."""
    if not entry.get("arms"):
        return format_estimate(entry["qini"], entry["qini_lower"], entry["qini_upper"], "score")
    parts = []
    for arm in entry["arms"]:
        qini = entry["arm_qini"].get(arm, {})
        parts.append(
            f"{arm}: {format_estimate(qini.get('estimate'), qini.get('lower'), qini.get('upper'), 'score')}"
        )
    return "; ".join(parts)


def broken_models_table(models: list[dict]) -> pd.DataFrame:
    """Saved models that cannot be used, and why."""
    return pd.DataFrame({"name": [m["name"] for m in models], "problem": [m["error"] for m in models]})


def effects_table(effects: pd.DataFrame) -> pd.DataFrame:
    """The naive effects of `data.summary.summarise`: levels per arm, effect and lift with intervals."""
    rows = []
    for row in effects.itertuples():
        binary = row.kind == "rate"
        rows.append(
            {
                "outcome": row.outcome,
                "treated": format_estimate(row.treated, unit=level_unit(binary)),
                "control": format_estimate(row.control, unit=level_unit(binary)),
                "effect [95% CI]": format_estimate(
                    row.effect, row.effect_lower, row.effect_upper, effect_unit(binary)
                ),
                "relative lift [95% CI]": _lift(row),
                "p-value": f"{row.p_value:.2g}",
            }
        )
    return pd.DataFrame(rows)


def _lift(row) -> str:
    """The relative lift with its interval, or why there is none: a lift over a control mean of 0
    is not a number, and a dash alone would not say so."""
    if row.control == 0:
        return f"{MISSING} (control is 0)"
    return format_estimate(row.lift, row.lift_lower, row.lift_upper, "change")


def arm_effects_table(arm_effects: pd.DataFrame) -> pd.DataFrame:
    """Each arm against control and against each other arm (`Summary.arm_effects`), with 95% CIs.

    'first' and 'second' are the two arms' rates or means, in the order the comparison names them.
    """
    rows = []
    for row in arm_effects.itertuples():
        binary = row.kind == "rate"
        rows.append(
            {
                "outcome": row.outcome,
                "comparison": f"{row.arm} vs {row.versus}",
                "first [95% CI]": format_estimate(
                    row.arm_mean, row.arm_mean_lower, row.arm_mean_upper, level_unit(binary)
                ),
                "second [95% CI]": format_estimate(
                    row.versus_mean, row.versus_mean_lower, row.versus_mean_upper, level_unit(binary)
                ),
                "difference [95% CI]": format_estimate(
                    row.effect, row.effect_lower, row.effect_upper, effect_unit(binary)
                ),
                "p-value": f"{row.p_value:.2g}",
                "true effect": format_estimate(row.true_effect, unit=effect_unit(binary))
                if pd.notna(row.true_effect)
                else "",
            }
        )
    table = pd.DataFrame(rows)
    return table if arm_effects["true_effect"].notna().any() else table.drop(columns="true effect")


def truth_table(truth: pd.DataFrame) -> pd.DataFrame:
    """The true average effect (synthetic data) beside the naive estimate and its interval."""
    return pd.DataFrame(
        {
            "outcome": truth["outcome"],
            "true effect": [format_estimate(v, unit="pp") for v in truth["true_effect"]],
            "naive estimate [95% CI]": [
                format_estimate(v, lo, hi, "pp")
                for v, lo, hi in zip(
                    truth["estimate"], truth["estimate_lower"], truth["estimate_upper"], strict=True
                )
            ],
            "truth inside the CI": ["yes" if covered else "no" for covered in truth["covered"]],
        }
    )


def markdown_table(table: pd.DataFrame) -> str:
    """A table of text cells as a GitHub-flavoured markdown table (for the command line)."""
    cells = table.astype(str)
    lines = ["| " + " | ".join(map(str, cells.columns)) + " |", "|" + "---|" * cells.shape[1]]
    lines += ["| " + " | ".join(row) + " |" for row in cells.itertuples(index=False)]
    return "\n".join(lines)


def _metric_row(label: str, value: dict | None, kind: str, binary: bool) -> dict:
    if not value:
        return {"metric": label, "estimate [95% CI]": MISSING, "note": "not computed"}
    if "unavailable" in value:
        return {"metric": label, "estimate [95% CI]": MISSING, "note": value["unavailable"]}
    unit = {
        "effect": effect_unit(binary),
        "size": "pp" if binary else "level",
        "share": "share",
        "score": "score",
    }[kind]
    text = format_estimate(
        value["estimate"],
        value.get("lower"),
        value.get("upper"),
        unit,
        signed=False if kind == "size" else None,
    )
    return {"metric": label, "estimate [95% CI]": text, "note": value.get("method", "")}


def channels_table(recommendation: pd.Series, arms: tuple[str, ...], *, binary: bool) -> pd.DataFrame:
    """One user's every channel (a row of `decisions.channels.recommend_arms`): uplift and profit
    per contact, each with its 95% interval."""
    rows = []
    for arm in arms:
        rows.append(
            {
                "channel": arm,
                "uplift [95% CI]": format_estimate(
                    recommendation[f"uplift_{arm}"],
                    recommendation[f"uplift_{arm}_lower"],
                    recommendation[f"uplift_{arm}_upper"],
                    effect_unit(binary),
                ),
                "profit per contact [95% CI]": format_estimate(
                    recommendation[f"profit_{arm}"],
                    recommendation[f"profit_{arm}_lower"],
                    recommendation[f"profit_{arm}_upper"],
                    "money",
                    signed=True,
                ),
                "recommended": "yes" if recommendation["recommended"] == arm else "",
            }
        )
    return pd.DataFrame(rows)


def recommendation_sentence(recommendation: pd.Series) -> str:
    """The recommended choice and how sure it is, in words."""
    margin = format_estimate(
        recommendation["margin"],
        recommendation["margin_lower"],
        recommendation["margin_upper"],
        "money",
        signed=True,
    )
    verdict = "a clear winner" if recommendation["clear"] else "no clear winner: the interval spans zero"
    return (
        f"Recommended: {recommendation['recommended']}. Expected profit over the runner-up "
        f"({recommendation['runner_up']}): {margin} per user, 95% CI; {verdict}."
    )


def policy_edge_sentence(values: pd.DataFrame) -> tuple[bool, str]:
    """Whether choosing each user's channel clearly beats the best single channel, and in words.

    `values` is `decisions.channels.policy_values`; the comparison is its paired edge."""
    rows = values.set_index("policy")
    best = rows.loc[BEST_POLICY]
    single = rows.drop(index=[BEST_POLICY, NOBODY_POLICY])["net_value"].idxmax()
    edge = format_estimate(best["edge"], best["edge_lower"], best["edge_upper"], "money", signed=True)
    clear = bool(best["edge_lower"] > 0)
    verdict = "a clear gain" if clear else "no clear gain: the interval includes zero"
    return clear, (
        f"Each user's best channel against the best single channel ({single}): {edge} net value per user "
        f"(95% CI, paired on the same holdout users); {verdict}."
    )


def policies_table(values: pd.DataFrame, *, binary: bool) -> pd.DataFrame:
    """Policies valued on the holdout (`decisions.channels.policy_values`), each with its 95% CI."""
    return pd.DataFrame(
        {
            "policy": values["policy"],
            "contacted": [format_estimate(v, unit="share") for v in values["contacted"]],
            "outcome per user [95% CI]": [
                format_estimate(v, lo, hi, level_unit(binary))
                for v, lo, hi in zip(
                    values["outcome"], values["outcome_lower"], values["outcome_upper"], strict=True
                )
            ],
            "net value per user [95% CI]": [
                format_estimate(v, lo, hi, "money")
                for v, lo, hi in zip(
                    values["net_value"], values["net_value_lower"], values["net_value_upper"], strict=True
                )
            ],
            "gain over nobody [95% CI]": [
                format_estimate(v, lo, hi, "money", signed=True)
                for v, lo, hi in zip(values["gain"], values["gain_lower"], values["gain_upper"], strict=True)
            ],
            "vs the best single channel [95% CI]": [
                format_estimate(v, lo, hi, "money", signed=True)
                for v, lo, hi in zip(values["edge"], values["edge_lower"], values["edge_upper"], strict=True)
            ],
        }
    )


def recent_scores_table(recent: pd.DataFrame, binary: dict[str, bool]) -> pd.DataFrame:
    """The score log's recent events (`serving.scorelog.ScoreLog.recent`) as the other pages write
    estimates: each uplift with its 95% interval in one column, in its model's unit (`binary` maps
    a model's name to whether its outcome is 0/1: percentage points; a model not found there, as
    one since deleted, keeps the outcome's own unit), and the latency in whole milliseconds."""
    uplift = [
        format_estimate(u, lo, hi, effect_unit(binary.get(model, False)))
        for u, lo, hi, model in zip(
            recent["uplift"], recent["uplift_lower"], recent["uplift_upper"], recent["model"], strict=True
        )
    ]
    shown = recent.drop(columns=["uplift", "uplift_lower", "uplift_upper", "latency_ms"])
    shown.insert(shown.columns.get_loc("model") + 1, "uplift [95% CI]", uplift)
    shown["latency (ms)"] = [format_estimate(v, unit="count") for v in recent["latency_ms"]]
    return shown
