"""Validation, refutation and model comparison in words and readable tables.

The numbers come from `evaluation.validation`, `evaluation.refutation` and
`evaluation.comparison`; this module says what they mean ("calibrated", "passed", "no estimator
beats the average effect") and writes every estimate with its 95% interval through
`formatting.format_estimate`, in percentage points for a 0/1 outcome. The Train page and the
HTML report both show them from here, so they never disagree.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from impactiq.evaluation.comparison import AVERAGE_EFFECT, Comparison
from impactiq.intervals import normal_interval
from impactiq.present.formatting import MISSING, effect_unit, format_estimate


def estimate_text(value: dict, unit: str) -> str:
    """{estimate, lower, upper} as 'estimate [lower, upper]', or why it is missing."""
    if not value:
        return MISSING
    if "unavailable" in value:
        return f"{MISSING} ({value['unavailable']})"
    return format_estimate(value.get("estimate"), value.get("lower"), value.get("upper"), unit)


# ---------------------------------------------------------------- calibration and targeting


def calibration_rows(table: pd.DataFrame, *, binary: bool) -> pd.DataFrame:
    """`validation.calibration_table` with readable headers and each number in its unit."""
    unit = effect_unit(binary)
    return pd.DataFrame(
        {
            "group of predicted uplift": table["group"],
            "rows": [f"{n:,}" for n in table["n"]],
            "mean prediction": [format_estimate(v, unit=unit) for v in table["predicted"]],
            "observed, doubly robust [95% CI]": [
                format_estimate(v, lo, hi, unit)
                for v, lo, hi in zip(
                    table["observed"], table["observed_lower"], table["observed_upper"], strict=True
                )
            ],
            "prediction inside the CI": [
                f"{MISSING} (no interval: {n:,} row{'s' if n != 1 else ''})"
                if not has
                else "yes"
                if ok
                else "no"
                for ok, has, n in zip(_inside(table), _has_interval(table), table["n"], strict=True)
            ],
        }
    )


def calibration_sentence(table: pd.DataFrame) -> str:
    """How many groups' mean prediction lies inside the 95% interval of their observed effect."""
    # A group too small for an interval (one row, say, when tied predictions make it) is neither a
    # hit nor a miss: only groups with an interval are counted.
    has = _has_interval(table)
    inside = _inside(table)[has]
    n = int(has.sum())
    # With right intervals each group misses 5% of the time: one miss in up to ten groups is chance.
    allowed = max(1, int(np.ceil(0.05 * n)))
    verdict = (
        "consistent with calibrated predictions"
        if inside.sum() >= n - allowed
        else "more misses than chance allows: the predictions are off for some groups"
    )
    left_out = len(table) - n
    without = (
        f" ({left_out} group{'s' if left_out != 1 else ''} too small for an interval left out)"
        if left_out
        else ""
    )
    return (
        f"In {int(inside.sum())} of {n} groups{without} the mean prediction lies inside the 95% interval of the "
        f"doubly robust observed effect: {verdict}."
    )


def targeting_sentence(autoc: dict, *, binary: bool) -> str:
    """The AUTOC ({estimate, lower, upper}) with its interval, and what its sign says."""
    shown = estimate_text(autoc, effect_unit(binary))
    low, high = autoc.get("lower"), autoc.get("upper")
    if not (_finite(low) and _finite(high)):
        meaning = "its interval could not be computed"
    elif low > 0:
        meaning = "targeting by the model beats targeting at random"
    elif high < 0:
        meaning = "targeting by the model does worse than targeting at random"
    else:
        meaning = "no evidence that targeting by the model beats targeting at random"
    return f"Area under the targeting curve (AUTOC, rank-weighted average effect): {shown}; {meaning}."


# ---------------------------------------------------------------- refutation


def readable_refutation(checks: list[dict], *, binary: bool) -> pd.DataFrame:
    """Refutation checks (`RefutationCheck.to_dict()`) as a table, effects in the outcome's unit."""
    unit = effect_unit(binary)
    return pd.DataFrame(
        [
            {
                "check": check["check"],
                "arm": check.get("arm") or "all",
                "result": "passed" if check["passed"] else "FAILED",
                "mean effect": format_estimate(check["estimate"], unit=unit),
                "expected": format_estimate(check["expected"], unit=unit),
                "tolerance (±)": format_estimate(check["tolerance"], unit=unit, signed=False),
                "rank correlation with the model": format_estimate(
                    check["rank_correlation"], unit="score", signed=True
                ),
                "what was done": check["detail"],
            }
            for check in checks
        ]
    )


def refutation_verdict(checks: list[dict]) -> tuple[str, str]:
    """(level, sentence): "good" when every check passed, else "bad" naming the failures."""
    failed = [c["check"] + (f" ({c['arm']})" if c.get("arm") else "") for c in checks if not c["passed"]]
    if not failed:
        return "good", (
            f"All {len(checks)} refutation checks passed: the effect vanishes under a placebo treatment and "
            "stays put with a noise feature added and on subsets of the data."
        )
    return "bad", (
        f"{len(failed)} of {len(checks)} refutation checks failed ({', '.join(failed)}): do not rely on this "
        "model's effects until you know why."
    )


# ---------------------------------------------------------------- model comparison


def comparison_of(data: dict) -> Comparison | None:
    """The `Comparison` stored in a model's data by `estimator="auto"`, or None."""
    selection = data.get("selection")
    return None if selection is None else Comparison.from_dict(selection)


def readable_comparison(comparison: Comparison, *, binary: bool) -> pd.DataFrame:
    """The candidates, best validation loss first, each score with its interval.

    A comparison of models of several arms has a row per candidate and arm (the validation loss,
    which judges every arm at once, repeated), and the average effect alone one row for all arms.
    """
    arms = next((tuple(c.arms) for c in comparison.candidates if c.arms), ())
    rows = []
    for c in sorted(comparison.candidates, key=lambda c: c.loss):
        baseline = c.estimator == AVERAGE_EFFECT
        chosen = c.estimator == comparison.chosen
        loss = {
            "estimator": c.estimator,
            "chosen": "yes" if chosen else "",
            "DR validation loss": format_estimate(c.loss, unit="score"),
            "loss above the chosen [95% CI]": "0 (chosen)"
            if chosen
            else format_estimate(c.excess, *normal_interval(c.excess, c.excess_se), "score", signed=True),
        }
        if not arms:
            rows.append(
                {**loss, **_holdout_columns(vars(c), binary, baseline), "fit (s)": _seconds(c, baseline)}
            )
            continue
        for arm in ("every arm",) if baseline else arms:
            evidence = _holdout_columns(c.arms.get(arm, {}), binary, baseline)
            rows.append({**loss, "arm": arm, **evidence, "fit (s)": _seconds(c, baseline)})
    return pd.DataFrame(rows)


def _holdout_columns(scores: dict, binary: bool, baseline: bool) -> dict:
    return {
        "holdout Qini [95% CI]": _ranking(scores.get("qini", {}), "score", baseline),
        "uplift at top 30% [95% CI]": _ranking(scores.get("uplift_at_30", {}), effect_unit(binary), baseline),
        "calibration slope [95% CI]": _ranking(scores.get("calibration_slope", {}), "score", baseline),
    }


def _seconds(candidate, baseline: bool) -> str:
    return MISSING if baseline else f"{candidate.fit_seconds:.1f}"


def comparison_sentence(comparison: Comparison) -> str:
    """Which estimator was chosen and why; and whether it beats the average effect alone."""
    sentence = (
        f"Chosen: {comparison.chosen}, the estimator with the smallest doubly robust loss on "
        f"{comparison.n_validation:,} validation rows; every candidate was fitted on the same "
        f"{comparison.n_fit:,} rows and the {comparison.n_holdout:,}-row holdout played no part in the choice."
    )
    average = next((c for c in comparison.candidates if c.estimator == AVERAGE_EFFECT), None)
    if average is None:
        return sentence
    # The average effect's loss minus the chosen one's: above zero, the model's heterogeneity pays.
    low, high = normal_interval(average.excess, average.excess_se)
    if low > 0:
        return sentence + " It beats the average effect alone: the differences it finds are worth using."
    if high < 0:
        return sentence + (
            " The average effect alone has a clearly lower loss: no estimator found differences between "
            "users worth using; decide with the average effect."
        )
    return sentence + (
        " It does not clearly beat the average effect alone (the difference's interval includes zero): "
        "decide with the average effect unless the holdout says otherwise."
    )


def _ranking(score: dict, unit: str, baseline: bool) -> str:
    if baseline:
        return f"{MISSING} (no ranking)"
    return estimate_text(score, unit) if score else f"{MISSING} (not computed)"


def _has_interval(table: pd.DataFrame) -> pd.Series:
    return np.isfinite(table["observed_lower"]) & np.isfinite(table["observed_upper"])


def _inside(table: pd.DataFrame) -> pd.Series:
    return (table["observed_lower"] <= table["predicted"]) & (table["predicted"] <= table["observed_upper"])


def _finite(value) -> bool:
    return value is not None and bool(np.isfinite(value))
