"""Turn a feature table into the numeric matrix the estimators need, identically at fit and score.

A model learns from numbers, so categorical columns must be one-hot encoded and missing numbers
filled in. The encoding is learned once, from the training table, and then replayed exactly on
every table that is scored later: the same columns in the same order, the same category levels,
the same fill values. A score-time table that does not fit that encoding (a column missing, a
category the model never saw) is a user problem, so it raises `ImpactIQError` with the column,
the value and the fix rather than silently producing a row of zeros the model was never trained
on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from impactiq.errors import ImpactIQError

# pandas is imported inside the functions that use it: loading a saved model rebuilds its encoder
# without pandas (see `portable`), which keeps a cold load fast.
if TYPE_CHECKING:
    import pandas as pd

# One-hot encoding a column with thousands of levels (an id, a free-text field) builds a matrix
# that does not fit in memory and carries no transferable signal; such a column must be excluded
# or grouped before modelling.
MAX_LEVELS = 100
_MISSING_LEVEL = "(missing)"


def is_categorical(column: pd.Series) -> bool:
    """True for columns encoded as categories: category, object, string and bool dtypes."""
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    return is_bool_dtype(column.dtype) or not is_numeric_dtype(column.dtype)


def _levels(column: pd.Series) -> pd.Series:
    """Category values as strings, missing values as their own level.

    Strings make a level learned from a bool or integer column match the same level read back
    from a CSV at score time (True and "True", 1 and "1").
    """
    import pandas as pd

    missing = column.isna().to_numpy()
    text = column.astype(object).to_numpy()
    out = np.empty(len(column), dtype=object)
    out[missing] = _MISSING_LEVEL
    out[~missing] = [str(v) for v in text[~missing]]
    return pd.Series(out, index=column.index)


class FeatureEncoder:
    """One-hot categories and median-filled numbers, learned from the training table.

    Numeric columns pass through as float64; a numeric column that had missing values at fit
    time gets its training median in their place plus a `<column>__missing` indicator, so that
    tree models can still tell a filled value from a real one and linear stages never see NaN.
    Categorical columns become one indicator per level except the first (sorted) level, which is
    the reference: dropping it keeps linear final stages with an intercept identifiable and
    loses nothing for trees. Missing category values are a level of their own.

    Learned attributes: `feature_names_in_` (the input columns, in order), `categories_`
    (column -> tuple of levels), `medians_` (numeric column -> fill value),
    `feature_names_out_` (the encoded columns, in order).
    """

    def fit(self, X: pd.DataFrame) -> FeatureEncoder:
        import pandas as pd

        if not isinstance(X, pd.DataFrame):
            raise ImpactIQError(
                f"Features must be a pandas DataFrame with named columns; got {type(X).__name__}."
            )
        if X.shape[1] == 0:
            raise ImpactIQError("There are no feature columns: choose at least one feature to model with.")
        self.feature_names_in_ = tuple(str(c) for c in X.columns)
        self.categories_: dict[str, tuple[str, ...]] = {}
        self.medians_: dict[str, float] = {}
        self._flag_missing: set[str] = set()
        names_out: list[str] = []
        for name in self.feature_names_in_:
            column = X[name]
            if is_categorical(column):
                levels = tuple(sorted(set(_levels(column))))
                if len(levels) > MAX_LEVELS:
                    raise ImpactIQError(
                        f"Column '{name}' has {len(levels)} distinct values; a model feature may have at "
                        f"most {MAX_LEVELS}. Exclude it from the features or group its values first."
                    )
                self.categories_[name] = levels
                names_out += [f"{name}={level}" for level in levels[1:]]
            else:
                values = column.to_numpy(dtype=np.float64, na_value=np.nan)
                finite = values[~np.isnan(values)]
                # A column with no value in these rows (a feature that is constant or missing in
                # the training sample) is kept as a constant: it carries nothing, harms nothing.
                self.medians_[name] = float(np.median(finite)) if finite.size else 0.0
                names_out.append(name)
                if finite.size < values.size:
                    self._flag_missing.add(name)
                    names_out.append(f"{name}__missing")
        self.feature_names_out_ = tuple(names_out)
        return self

    def to_dict(self) -> dict:
        """The learned encoding as plain JSON-ready data (see `from_dict`)."""
        return {
            "features": list(self.feature_names_in_),
            "categories": {name: list(levels) for name, levels in self.categories_.items()},
            "medians": dict(self.medians_),
            "flag_missing": sorted(self._flag_missing),
        }

    @classmethod
    def from_dict(cls, data: dict) -> FeatureEncoder:
        """An encoder rebuilt from `to_dict`'s output; refuses data that is not such an encoding."""
        try:
            features = tuple(str(name) for name in data["features"])
            categories = {str(k): tuple(str(v) for v in levels) for k, levels in data["categories"].items()}
            medians = {str(k): float(v) for k, v in data["medians"].items()}
            flag_missing = {str(name) for name in data["flag_missing"]}
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ImpactIQError(
                f"The saved feature encoding is damaged ({error!r}); retrain the model."
            ) from error
        if (
            set(categories) | set(medians) != set(features)
            or set(categories) & set(medians)
            or not flag_missing <= set(medians)
            or len(features) != len(set(features))
            or any(not levels or len(levels) > MAX_LEVELS for levels in categories.values())
        ):
            raise ImpactIQError("The saved feature encoding does not match its features; retrain the model.")
        encoder = cls()
        encoder.feature_names_in_ = features
        encoder.categories_ = categories
        encoder.medians_ = medians
        encoder._flag_missing = flag_missing
        names_out: list[str] = []
        for name in features:
            if name in categories:
                names_out += [f"{name}={level}" for level in categories[name][1:]]
            else:
                names_out += [name, f"{name}__missing"] if name in flag_missing else [name]
        encoder.feature_names_out_ = tuple(names_out)
        return encoder

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """The encoded float64 matrix, columns in `feature_names_out_` order."""
        import pandas as pd

        if not hasattr(self, "feature_names_in_"):
            raise ImpactIQError(
                "The feature encoder is not fitted yet: call fit with the training table first."
            )
        if not isinstance(X, pd.DataFrame):
            raise ImpactIQError(
                f"Features must be a pandas DataFrame with named columns; got {type(X).__name__}."
            )
        missing = [c for c in self.feature_names_in_ if c not in X.columns]
        if missing:
            raise ImpactIQError(
                f"Feature column(s) {', '.join(repr(c) for c in missing)} are missing from the table; "
                f"the model was trained on {', '.join(self.feature_names_in_)}. Add the missing columns."
            )
        blocks: list[np.ndarray] = []
        for name in self.feature_names_in_:
            if name in self.categories_:
                blocks.append(self._one_hot(name, X[name]))
            else:
                blocks.append(self._numeric(name, X[name]))
        return np.column_stack(blocks) if blocks else np.empty((len(X), 0))

    def _one_hot(self, name: str, column: pd.Series) -> np.ndarray:
        import pandas as pd

        known = self.categories_[name]
        levels = _levels(column)
        unseen = sorted(set(levels) - set(known))
        if unseen:
            shown = ", ".join(repr(v) for v in unseen[:5])
            raise ImpactIQError(
                f"Column '{name}' has value(s) {shown} that the model never saw in training; known "
                f"values are {', '.join(repr(v) for v in known)}. Map them to a known value or "
                "retrain on data that includes them."
            )
        codes = pd.Categorical(levels, categories=known).codes
        return (codes[:, None] == np.arange(1, len(known))[None, :]).astype(np.float64)

    def _numeric(self, name: str, column: pd.Series) -> np.ndarray:
        import pandas as pd

        if is_categorical(column):
            converted = pd.to_numeric(column, errors="coerce")
            bad = converted.isna() & column.notna()
            if bad.any():
                example = column[bad].iloc[0]
                raise ImpactIQError(
                    f"Column '{name}' is numeric in the training data but holds {example!r} here; "
                    "give it numbers (blank cells are allowed)."
                )
            column = converted
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
        gaps = np.isnan(values)
        filled = np.where(gaps, self.medians_[name], values)
        if name in self._flag_missing:
            return np.column_stack([filled, gaps.astype(np.float64)])
        return filled[:, None]
