"""Scoring a file of profiles: uplift, interval, expected outcomes and class for every row."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from impactiq.decisions.persuadability import Thresholds, classify, default_thresholds
from impactiq.errors import ImpactIQError
from impactiq.uplift.scoring import predict_uplift

# Rows scored per call in `score_batch`: large enough that per-call overheads vanish, small
# enough that progress is reported every second or so and memory stays flat.
CHUNK_ROWS = 100_000
# Columns `score_batch` adds to a table.
RESULT_COLUMNS = ("uplift", "uplift_lower", "uplift_upper", "y0_pred", "y1_pred", "class")


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
