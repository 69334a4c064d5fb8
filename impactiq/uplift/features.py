"""The features as a model saw them: their training profile, and raw tables put into that form.

A form that asks for a user's profile needs each feature's training range, quantiles and
categories; a file scored months later must be read with the same dtypes and categories as
the training data, or a float32 value written to CSV and read back scores differently.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from impactiq.data.experiment import MISSING_CATEGORY
from impactiq.data.schema import Schema
from impactiq.errors import ImpactIQError

# Quantiles (in percent) recorded for each numeric feature.
QUANTILES = (1, 5, 25, 50, 75, 95, 99)
# Category frequencies recorded per categorical feature (the most frequent ones).
MAX_CATEGORIES = 100


def feature_profile(X: pd.DataFrame, schema: Schema) -> dict:
    """What each feature looked like in training, for scoring forms and out-of-range warnings.

    Numeric: dtype, min, max, share missing and the `QUANTILES`. Categorical: the categories
    in training order, and the `MAX_CATEGORIES` most frequent with their shares.
    """
    profile = {}
    for name in schema.numeric_features:
        values = X[name].to_numpy(dtype=np.float64)
        present = values[~np.isnan(values)]
        quantiles = (
            np.quantile(present, np.array(QUANTILES) / 100) if present.size else [np.nan] * len(QUANTILES)
        )
        profile[name] = {
            "kind": "numeric",
            "dtype": str(X[name].dtype),
            "min": float(present.min()) if present.size else None,
            "max": float(present.max()) if present.size else None,
            "missing_share": float(1 - present.size / max(len(values), 1)),
            "quantiles": {str(q): float(v) for q, v in zip(QUANTILES, quantiles, strict=True)},
        }
    for name in schema.categorical_features:
        # Only the categories some training row holds: the data set's dtype also lists those of
        # rows left out (the holdout, an unsampled part), which the model's encoder never saw and
        # refuses when scoring, so offering or accepting them would fail later, or stop a stream.
        column = X[name].cat.remove_unused_categories()
        shares = column.value_counts(normalize=True, sort=True)
        profile[name] = {
            "kind": "categorical",
            "categories": [str(c) for c in column.cat.categories],
            "n_categories": len(column.cat.categories),
            "frequencies": {str(c): float(s) for c, s in shares.head(MAX_CATEGORIES).items()},
        }
    return profile


def feature_frame(df: pd.DataFrame, schema: Schema, profile: dict) -> pd.DataFrame:
    """The feature columns of a raw table as the model saw them in training.

    Numbers are converted to the training dtype (text that is not a number is an error
    naming the row), so that a float32 value written to CSV and read back scores exactly as
    in training. Categories become text, an empty cell the 'missing' category as in
    `prepare_experiment`; a category never seen in training is refused by the model's
    encoder, which names the value.
    """
    if not isinstance(df, pd.DataFrame):
        raise ImpactIQError(f"Pass the rows to score as a pandas DataFrame; got {type(df).__name__}.")
    lacking = [c for c in schema.features if c not in df.columns]
    if lacking:
        raise ImpactIQError(
            f"The table lacks the feature column(s) {', '.join(map(repr, lacking))} that the model was "
            "trained on. Add them (same names as in the training data)."
        )
    columns = {}
    for name in schema.numeric_features:
        columns[name] = _numeric_feature(df[name], name, np.dtype(profile[name]["dtype"]))
    for name in schema.categorical_features:
        columns[name] = df[name].astype(object).where(df[name].notna(), MISSING_CATEGORY).astype(str)
    return pd.DataFrame(columns, index=df.index)


def _numeric_feature(column: pd.Series, name: str, dtype: np.dtype) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        return column.to_numpy(dtype=dtype, na_value=np.nan)
    text = column.astype(object)
    numbers = pd.to_numeric(text, errors="coerce")
    bad = (numbers.isna() & text.notna() & (text.astype(str).str.strip() != "")).to_numpy()
    if bad.any():
        first = int(np.argmax(bad))
        raise ImpactIQError(
            f"The feature '{name}' should hold numbers, but row {first + 1} holds {text.iloc[first]!r} "
            f"({int(bad.sum()):,} such rows). Fix those values."
        )
    return numbers.to_numpy(dtype=dtype, na_value=np.nan)
