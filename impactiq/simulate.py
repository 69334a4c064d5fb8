"""Scoring hypothetical users with a fitted model, and reading the scores as decisions.

A single estimate of uplift says little to someone deciding whom to contact. This module turns
a model's answer for one profile (or a file of them) into what a marketer acts on: the uplift
with its 95% interval, the expected outcome without and with treatment, where the user ranks
among the holdout, a class (persuadable, sure thing, lost cause, do-not-disturb), the expected
profit of a contact given its cost and the value of a success, and how the uplift moves when
one feature changes. Everything here is a plain function of a model and a table, so the
Simulator page, scripts and the tests all compute the same numbers.

`model_like` is anything with `effect`, `effect_interval`, `predict_outcomes` (taking a raw
DataFrame), `schema` and `feature_profile`: a `TrainedModel` or a `SavedModel`. A profile is a
plain dict feature -> value (a float for a numeric feature, NaN when missing; a string for a
categorical one).

Classes
-------
Thresholds are explicit (`Thresholds`) and by default taken from the model's holdout
(`default_thresholds`), because an uplift of one percentage point is large for a 4% visit rate
and small for a 40% one. In order of precedence:

1. do-not-disturb: treatment is expected to hurt: the interval's upper bound is below zero, or
   the uplift is at or below −`harm`;
2. persuadable: the uplift is at or above `persuadable`;
3. sure thing: the rest whose expected outcome without treatment is at or above `baseline`
   (they would convert anyway);
4. lost cause: the rest (unlikely to convert either way).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from impactiq.errors import ImpactIQError
from impactiq.training import predict_uplift

PERSUADABLE = "persuadable"
SURE_THING = "sure thing"
LOST_CAUSE = "lost cause"
DO_NOT_DISTURB = "do-not-disturb"
CLASSES = (PERSUADABLE, SURE_THING, LOST_CAUSE, DO_NOT_DISTURB)

TREAT = "treat"
UNCERTAIN = "uncertain"
DO_NOT_TREAT = "do not treat"

# The rules of `classify`, in words for the page.
CLASS_RULES = (
    "Defaults from the holdout: the median positive uplift, and the median outcome without treatment. "
    "Do-not-disturb: the interval's upper bound is below 0 or the uplift is at most −the harm threshold. "
    "Else persuadable: the uplift is at least the persuadable threshold. Else sure thing: the outcome "
    "without treatment is at least the baseline threshold. Else lost cause."
)

PRESETS = ("typical", "random", "most persuadable", "least persuadable")
# Cost of one contact and value of one success (same currency), the page's starting point:
# treatment pays when the uplift exceeds cost / value = 1 percentage point.
DEFAULT_COST = 0.10
DEFAULT_VALUE = 10.0
SWEEP_POINTS = 50
# Rows scored per call in `score_batch`: large enough that per-call overheads vanish, small
# enough that progress is reported every second or so and memory stays flat.
CHUNK_ROWS = 100_000
# Columns `score_batch` adds to a table.
RESULT_COLUMNS = ("uplift", "uplift_lower", "uplift_upper", "y0_pred", "y1_pred", "class")

# Query-parameter names of a scenario; profile values are stored as `x.<feature>`.
QUERY_MODEL = "model"
QUERY_WHATIF = "whatif"
QUERY_COST = "cost"
QUERY_VALUE = "value"
QUERY_FEATURE_PREFIX = "x."


@dataclass(frozen=True)
class Thresholds:
    """Class boundaries in the outcome's units (a probability for 0/1 outcomes).

    persuadable: uplift at or above which a user is persuadable. harm: a user whose uplift is at
    or below −harm is do-not-disturb. baseline: expected outcome without treatment at or above
    which a user who is neither is a sure thing rather than a lost cause.
    """

    persuadable: float
    harm: float
    baseline: float


@dataclass(frozen=True)
class ProfitDecision:
    """Expected incremental profit of one contact, its 95% interval, and what to do."""

    profit: float
    lower: float
    upper: float
    decision: str
    reason: str

    @property
    def summary(self) -> str:
        """The profit, its interval and the decision in one sentence."""
        return (
            f"Expected incremental profit per contact: {self.profit:+,.4f} (95% CI [{self.lower:+,.4f}, "
            f"{self.upper:+,.4f}]). {self.reason[0].upper()}{self.reason[1:]}."
        )


@dataclass(frozen=True)
class Scenario:
    """What the Simulator shows, as stored in the page's URL (the model name is stored beside it)."""

    profile: dict
    whatif: str
    cost: float
    value: float


# ------------------------------------------------------------------ profiles


def default_profile(feature_profile: Mapping, schema) -> dict:
    """The typical user: each numeric feature at its training median, each category at its mode."""
    profile = {}
    for name in schema.numeric_features:
        median = feature_profile[name]["quantiles"].get("50")
        profile[name] = math.nan if median is None else float(median)
    for name in schema.categorical_features:
        spec = feature_profile[name]
        frequencies = spec.get("frequencies") or {}
        profile[name] = max(frequencies, key=frequencies.get) if frequencies else spec["categories"][0]
    return profile


def preset_profile(
    kind: str, holdout: pd.DataFrame, schema, feature_profile: Mapping, *, seed: int = 0
) -> dict:
    """A profile to start from: one of `PRESETS`.

    'typical' is `default_profile`; the others are real holdout users: a random one (seeded),
    the one with the highest predicted uplift and the one with the lowest. Values are clipped to
    the training range, the range a form accepts.
    """
    if kind not in PRESETS:
        raise ImpactIQError(f"There is no preset {kind!r}; choose one of {', '.join(PRESETS)}.")
    if kind == "typical":
        return default_profile(feature_profile, schema)
    lacking = [c for c in schema.features if c not in holdout.columns]
    if lacking:
        raise ImpactIQError(
            f"This model's saved holdout has no feature columns ({', '.join(lacking[:3])} …), so it "
            "cannot supply real users. Retrain and save the model to record them."
        )
    if kind == "random":
        position = int(np.random.default_rng(seed).integers(len(holdout)))
    elif kind == "most persuadable":
        position = int(np.argmax(holdout["uplift"].to_numpy()))
    else:
        position = int(np.argmin(holdout["uplift"].to_numpy()))
    row = holdout.iloc[position]
    return clip_profile({name: row[name] for name in schema.features}, schema, feature_profile)


def clip_profile(profile: Mapping, schema, feature_profile: Mapping) -> dict:
    """`profile` with numbers clipped to the training range and categories as text."""
    clipped = {}
    for name in schema.numeric_features:
        value = _to_float(profile[name])
        spec = feature_profile[name]
        if not math.isnan(value) and spec["min"] is not None:
            value = min(max(value, spec["min"]), spec["max"])
        clipped[name] = value
    for name in schema.categorical_features:
        clipped[name] = str(profile[name])
    return clipped


def profile_frame(profiles: Mapping | list[Mapping], schema) -> pd.DataFrame:
    """One row per profile, the schema's feature columns in order, ready for `model.effect`."""
    rows = [profiles] if isinstance(profiles, Mapping) else list(profiles)
    for row in rows:
        lacking = [name for name in schema.features if name not in row]
        if lacking:
            raise ImpactIQError(
                f"The profile lacks {', '.join(map(repr, lacking))}; give a value for every feature."
            )
    columns = {}
    for name in schema.numeric_features:
        columns[name] = np.array([_to_float(row[name]) for row in rows], dtype=np.float64)
    for name in schema.categorical_features:
        columns[name] = pd.Series([str(row[name]) for row in rows], dtype=object)
    return pd.DataFrame(columns)


def is_integral(spec: Mapping) -> bool:
    """Whether a numeric feature looks like counts or flags: range and quantiles all whole numbers."""
    values = [spec["min"], spec["max"], *spec["quantiles"].values()]
    return all(v is not None and float(v).is_integer() for v in values)


def format_outcome(level: float, binary: bool) -> str:
    """An expected outcome: a percentage for a 0/1 outcome, else the outcome's units."""
    return f"{level:.2%}" if binary else f"{level:,.4f}"


def threshold_labels(binary: bool) -> dict[str, str]:
    """Each `Thresholds` field and its label on a form, in the units the form uses."""
    uplift, level = (" (pp)", " (%)") if binary else ("", "")
    return {
        "persuadable": f"Persuadable from uplift{uplift}",
        "harm": f"Do-not-disturb from uplift −{uplift}",
        "baseline": f"Sure thing from outcome without treatment{level}",
    }


def describe_feature(spec: Mapping) -> str:
    """One line on a feature's training distribution, for a form's help text."""
    if spec["kind"] == "categorical":
        shares = ", ".join(f"{c}: {s:.0%}" for c, s in list(spec["frequencies"].items())[:8])
        return f"Training share of each category: {shares}."
    quantiles = ", ".join(f"{q}%: {_short(v)}" for q, v in spec["quantiles"].items())
    missing = f"; {spec['missing_share']:.1%} missing" if spec.get("missing_share") else ""
    return f"Training range {_short(spec['min'])} to {_short(spec['max'])}; quantiles {quantiles}{missing}."


# ------------------------------------------------------------------ scoring


def score_profiles(model_like, profiles: Mapping | list[Mapping], thresholds: Thresholds) -> pd.DataFrame:
    """`training.predict_uplift` of profiles (one call for all, so A and B cost one model call), with class and rank.

    `percentile` is the uplift's percentile among the model's holdout predictions.
    """
    scores = predict_uplift(model_like, profile_frame(profiles, model_like.schema))
    scores["class"] = classify(scores["uplift"], scores["uplift_upper"], scores["y0_pred"], thresholds)
    population = model_like.holdout["uplift"].to_numpy()
    scores["percentile"] = [percentile_rank(u, population) for u in scores["uplift"]]
    return scores


def default_thresholds(holdout: pd.DataFrame) -> Thresholds:
    """Class thresholds read off the holdout's predictions.

    persuadable and harm: the median of the positive predicted uplifts (the median absolute
    uplift when none is positive), so a persuadable user gains at least as much as a typical
    user who gains at all, and a do-not-disturb user loses as much. baseline: the median
    expected outcome without treatment, splitting the rest into the likelier half (sure things)
    and the less likely half (lost causes).
    """
    uplift = holdout["uplift"].to_numpy(dtype=np.float64)
    positive = uplift[uplift > 0]
    scale = float(np.median(positive)) if positive.size else float(np.median(np.abs(uplift)))
    return Thresholds(persuadable=scale, harm=scale, baseline=float(np.median(holdout["y0_pred"])))


def classify(uplift, upper, y0, thresholds: Thresholds):
    """The class of each user (see the module docstring); a string for scalar inputs.

    Only the interval's upper bound enters (a confident loss); a missing bound (a model
    without intervals) leaves the uplift rules alone.
    """
    uplift, upper, y0 = (np.asarray(a, dtype=np.float64) for a in (uplift, upper, y0))
    hurt = (upper < 0) | (uplift <= -thresholds.harm)
    classes = np.select(
        [hurt, uplift >= thresholds.persuadable, y0 >= thresholds.baseline],
        [DO_NOT_DISTURB, PERSUADABLE, SURE_THING],
        default=LOST_CAUSE,
    ).astype(object)
    return str(classes) if classes.ndim == 0 else classes


def percentile_rank(uplift: float, population) -> float:
    """Percent of `population` below `uplift`, ties counted half (0 = lowest, 100 = highest)."""
    values = np.asarray(population, dtype=np.float64)
    values = values[~np.isnan(values)]
    if values.size == 0:
        raise ImpactIQError("There are no holdout predictions to rank against; retrain the model.")
    below = np.count_nonzero(values < uplift)
    ties = np.count_nonzero(values == uplift)
    return 100.0 * (below + 0.5 * ties) / values.size


def profit_decision(uplift: float, lower: float, upper: float, cost: float, value: float) -> ProfitDecision:
    """Expected incremental profit of contacting a user, value × uplift − cost, and the decision.

    The profit's interval is the uplift's interval carried through the same formula (it is
    increasing in the uplift). Treat when even the lower bound is profitable, do not treat when
    even the upper bound loses money, and call it uncertain when the interval spans break-even.
    """
    for label, number in (("cost per contact", cost), ("value per success", value)):
        if not math.isfinite(number) or number < 0:
            raise ImpactIQError(f"The {label} must be a number of 0 or more; got {number!r}.")
    profit = value * uplift - cost
    low, high = value * lower - cost, value * upper - cost
    if math.isnan(low) or math.isnan(high):
        decision = TREAT if profit > 0 else DO_NOT_TREAT
        reason = f"{decision}: judged on the estimate alone, since this model gives no interval"
    elif low > 0:
        decision, reason = TREAT, "treat: profitable even at the interval's lower bound"
    elif high < 0:
        decision, reason = DO_NOT_TREAT, "do not treat: a loss even at the interval's upper bound"
    else:
        lean = "a gain" if profit > 0 else "a loss"
        decision, reason = UNCERTAIN, f"uncertain: the interval spans break-even (the estimate is {lean})"
    return ProfitDecision(profit, low, high, decision, reason)


def difference(a: Mapping, b: Mapping) -> tuple[float, float, float]:
    """B's uplift minus A's with a conservative 95% interval.

    The two estimates come from the same model and are correlated in an unknown way; adding the
    half-widths of their intervals bounds the difference's half-width whatever the correlation
    (the standard error of a difference is at most the sum of the standard errors).
    """
    estimate = b["uplift"] - a["uplift"]
    half = (a["uplift_upper"] - a["uplift_lower"]) / 2 + (b["uplift_upper"] - b["uplift_lower"]) / 2
    return estimate, estimate - half, estimate + half


# ------------------------------------------------------------------ what-if


def sweep_values(spec: Mapping, points: int = SWEEP_POINTS) -> np.ndarray:
    """The values a what-if sweep visits: every category, or `points` numbers across the bulk.

    Numbers run from the 1% to the 99% training quantile (the full range when those meet, as for
    a feature that is mostly one value); whole numbers only for counts and flags.
    """
    if spec["kind"] == "categorical":
        return np.array(spec["categories"], dtype=object)
    if spec["min"] is None:
        raise ImpactIQError("This feature had no values in training, so there is nothing to sweep.")
    low, high = spec["quantiles"]["1"], spec["quantiles"]["99"]
    if low == high:
        low, high = spec["min"], spec["max"]
    grid = np.linspace(low, high, points)
    return np.unique(np.round(grid)) if is_integral(spec) else np.unique(grid)


def sweep(model_like, profile: Mapping, feature: str, points: int = SWEEP_POINTS) -> pd.DataFrame:
    """Uplift and 95% interval as `feature` moves across its range, the rest of `profile` fixed.

    Returns columns value, uplift, lower, upper, one row per value of `sweep_values`.
    """
    schema = model_like.schema
    if feature not in schema.features:
        raise ImpactIQError(
            f"'{feature}' is not a feature of this model; choose one of {', '.join(schema.features)}."
        )
    values = sweep_values(model_like.feature_profile[feature], points)
    frame = profile_frame([{**profile, feature: v} for v in values], schema)
    if model_like.has_intervals:
        uplift, lower, upper = model_like.effect_with_interval(frame, alpha=0.05)
    else:
        uplift = model_like.effect(frame)
        lower = upper = np.full(len(frame), np.nan)
    return pd.DataFrame({"value": values, "uplift": uplift, "lower": lower, "upper": upper})


def score_batch(
    model_like,
    df: pd.DataFrame,
    *,
    thresholds: Thresholds | None = None,
    chunk_size: int = CHUNK_ROWS,
    on_progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """`df` with `RESULT_COLUMNS` appended (replacing columns of those names), scored in chunks.

    The whole table is checked first (feature columns present, numbers where numbers belong,
    only categories seen in training), so a bad file fails before any work is done.
    `on_progress(rows_done, rows_total)` is called after each chunk. `thresholds` default to
    `default_thresholds` of the model's holdout.
    """
    if chunk_size < 1:
        raise ImpactIQError(f"chunk_size must be a positive number of rows; got {chunk_size}.")
    if len(df) == 0:
        raise ImpactIQError("The table has no rows to score. Upload a file with at least one profile.")
    features = model_like.features(df)
    check_categories(features, model_like.schema, model_like.feature_profile)
    thresholds = thresholds or default_thresholds(model_like.holdout)
    parts = []
    for start in range(0, len(features), chunk_size):
        parts.append(predict_uplift(model_like, features.iloc[start : start + chunk_size]))
        if on_progress is not None:
            on_progress(min(start + chunk_size, len(features)), len(features))
    scores = pd.concat(parts)
    scores["class"] = classify(scores["uplift"], scores["uplift_upper"], scores["y0_pred"], thresholds)
    return pd.concat([df.drop(columns=[c for c in RESULT_COLUMNS if c in df.columns]), scores], axis=1)


def check_categories(df: pd.DataFrame, schema, feature_profile: Mapping) -> None:
    """Refuse categories the model never saw, naming the column, the values and the first row."""
    for name in schema.categorical_features:
        known = feature_profile[name]["categories"]
        text = df[name].astype(object).where(df[name].notna(), None)
        unseen = text.notna() & ~text.astype(str).isin(known)
        if unseen.any():
            values = sorted({str(v) for v in text[unseen]})
            first = int(np.argmax(unseen.to_numpy()))
            raise ImpactIQError(
                f"Column '{name}' holds {', '.join(map(repr, values[:5]))} (first in row {first + 1}), which "
                f"the model never saw in training; known values are {', '.join(map(repr, known))}. Map them "
                "to a known value or retrain on data that includes them."
            )


# ------------------------------------------------------------------ scenario in a URL


def encode_scenario(model_name: str, scenario: Scenario) -> dict[str, str]:
    """Query parameters that `decode_scenario` turns back into the same scenario."""
    params = {QUERY_MODEL: model_name, QUERY_WHATIF: scenario.whatif}
    params[QUERY_COST] = repr(float(scenario.cost))
    params[QUERY_VALUE] = repr(float(scenario.value))
    for name, value in scenario.profile.items():
        params[QUERY_FEATURE_PREFIX + name] = _encode_value(value)
    return params


def decode_scenario(
    params: Mapping[str, str], schema, feature_profile: Mapping
) -> tuple[Scenario, list[str]]:
    """The scenario in `params`, every missing or invalid entry replaced by its default.

    Returns the scenario and one warning per invalid entry (absent entries are not warned
    about: a bare URL is a fresh start). Numbers must lie in the training range, categories
    among the training categories, cost and value be 0 or more.
    """
    warnings: list[str] = []
    profile = default_profile(feature_profile, schema)
    for name in schema.features:
        raw = params.get(QUERY_FEATURE_PREFIX + name)
        if raw is None:
            continue
        value, problem = _decode_value(raw, feature_profile[name])
        if problem:
            warnings.append(
                f"The link's value {raw!r} for '{name}' {problem}; using {_short(profile[name])}."
            )
        else:
            profile[name] = value
    known = {QUERY_FEATURE_PREFIX + name for name in schema.features}
    stray = sorted(k for k in params if k.startswith(QUERY_FEATURE_PREFIX) and k not in known)
    if stray:
        warnings.append(
            f"The link names features this model does not have ({', '.join(stray)}); they were ignored."
        )
    whatif = params.get(QUERY_WHATIF, schema.features[0])
    if whatif not in schema.features:
        warnings.append(
            f"The link's what-if feature {whatif!r} is not a feature of this model; using '{schema.features[0]}'."
        )
        whatif = schema.features[0]
    amounts = {}
    for key, default in ((QUERY_COST, DEFAULT_COST), (QUERY_VALUE, DEFAULT_VALUE)):
        raw = params.get(key)
        amounts[key] = default
        if raw is None:
            continue
        number = _parse_float(raw)
        if number is None or not math.isfinite(number) or number < 0:
            warnings.append(f"The link's {key} {raw!r} is not a number of 0 or more; using {default:g}.")
        else:
            amounts[key] = number
    return Scenario(profile, whatif, amounts[QUERY_COST], amounts[QUERY_VALUE]), warnings


def _encode_value(value) -> str:
    if isinstance(value, str):
        return value
    number = float(value)
    return "" if math.isnan(number) else repr(number)


def _decode_value(raw: str, spec: Mapping) -> tuple[object, str | None]:
    """(value, None) when `raw` is valid for the feature, else (None, what is wrong)."""
    if spec["kind"] == "categorical":
        if raw in spec["categories"]:
            return raw, None
        return None, "is not one of its categories"
    if raw == "":
        if spec.get("missing_share"):
            return math.nan, None
        return None, "is empty, and this feature was never missing in training"
    number = _parse_float(raw)
    if number is None or not math.isfinite(number):
        return None, "is not a number"
    if not spec["min"] <= number <= spec["max"]:
        return None, f"lies outside the training range {_short(spec['min'])} to {_short(spec['max'])}"
    if is_integral(spec) and not number.is_integer():
        return None, "is not a whole number, and this feature holds only whole numbers"
    return number, None


def _parse_float(raw: str) -> float | None:
    try:
        return float(raw)
    except (TypeError, ValueError):
        return None


def _to_float(value) -> float:
    return math.nan if _is_missing(value) else float(value)


def _is_missing(value) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def _short(value) -> str:
    return value if isinstance(value, str) else f"{float(value):.4g}"
