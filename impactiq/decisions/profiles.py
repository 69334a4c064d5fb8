"""Hypothetical users: profiles to start from, and their scores with class and rank.

A profile is a plain dict feature -> value (a float for a numeric feature, NaN when missing; a
string for a categorical one). `model_like` is anything with `effect`, `effect_interval`,
`predict_outcomes` (taking a raw DataFrame), `schema`, `feature_profile` and `holdout`: a
`TrainedModel` or a `SavedModel`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from impactiq.decisions.persuadability import Thresholds, classify
from impactiq.errors import ImpactIQError
from impactiq.uplift.scoring import predict_uplift

PRESETS = ("typical", "random", "most persuadable", "least persuadable")


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


def preset_available(kind: str, holdout: pd.DataFrame, schema) -> bool:
    """Whether `preset_profile` can answer `kind`: 'typical' always; the others pick real holdout
    users, so only when the saved holdout has every feature column."""
    return kind == "typical" or not _holdout_lacks(holdout, schema)


def _holdout_lacks(holdout: pd.DataFrame, schema) -> list[str]:
    """The feature columns the saved holdout does not have."""
    return [c for c in schema.features if c not in holdout.columns]


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
    lacking = _holdout_lacks(holdout, schema)
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


def score_profiles(model_like, profiles: Mapping | list[Mapping], thresholds: Thresholds) -> pd.DataFrame:
    """`scoring.predict_uplift` of profiles (one call for all, so A and B cost one model call), with class and rank.

    `percentile` is the uplift's percentile among the model's holdout predictions.
    """
    scores = predict_uplift(model_like, profile_frame(profiles, model_like.schema))
    scores["class"] = classify(scores["uplift"], scores["uplift_upper"], scores["y0_pred"], thresholds)
    population = model_like.holdout["uplift"].to_numpy()
    scores["percentile"] = [percentile_rank(u, population) for u in scores["uplift"]]
    return scores


def percentile_rank(uplift: float, population) -> float:
    """Percent of `population` below `uplift`, ties counted half (0 = lowest, 100 = highest)."""
    values = np.asarray(population, dtype=np.float64)
    values = values[~np.isnan(values)]
    if values.size == 0:
        raise ImpactIQError("There are no holdout predictions to rank against; retrain the model.")
    below = np.count_nonzero(values < uplift)
    ties = np.count_nonzero(values == uplift)
    return 100.0 * (below + 0.5 * ties) / values.size


def difference(a: Mapping, b: Mapping) -> tuple[float, float, float]:
    """B's uplift minus A's with a conservative 95% interval.

    The two estimates come from the same model and are correlated in an unknown way; adding the
    half-widths of their intervals bounds the difference's half-width whatever the correlation
    (the standard error of a difference is at most the sum of the standard errors).
    """
    estimate = b["uplift"] - a["uplift"]
    half = (a["uplift_upper"] - a["uplift_lower"]) / 2 + (b["uplift_upper"] - b["uplift_lower"]) / 2
    return estimate, estimate - half, estimate + half


def _to_float(value) -> float:
    return math.nan if _is_missing(value) else float(value)


def _is_missing(value) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))
