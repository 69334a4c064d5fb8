"""What if: how one profile's uplift moves as one feature changes, the rest held fixed."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from impactiq.decisions.profiles import is_integral, profile_frame
from impactiq.errors import ImpactIQError

SWEEP_POINTS = 50


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

    Returns columns value, uplift, uplift_lower, uplift_upper, one row per value of `sweep_values`.
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
    return pd.DataFrame({"value": values, "uplift": uplift, "uplift_lower": lower, "uplift_upper": upper})
