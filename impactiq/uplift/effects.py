"""One way to score a raw table with a fitted model, just trained or loaded from disk.

`FittedEffects` is shared by `TrainedModel` and `store.SavedModel`. It imports nothing heavy
at the top, so that loading a saved model stays fast; pandas and the feature conversion are
imported when a table is first scored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from impactiq.data.schema import Schema

if TYPE_CHECKING:
    import pandas as pd


class FittedEffects:
    """Effects of a fitted `UpliftModel` on raw tables, by the schema it was trained with.

    Shared by `TrainedModel` (just fitted) and `store.SavedModel` (loaded from disk), so a
    page or a script scores either the same way: pass any DataFrame holding at least the
    feature columns; they are picked by name, put in training order and converted to the
    dtypes used in training.
    """

    model: object
    schema: Schema
    feature_profile: dict
    # The arms a multi-arm model compares with control, in order; empty for two arms.
    arms: tuple[str, ...]

    @property
    def feature_names_in_(self) -> tuple[str, ...]:
        return self.schema.features

    @property
    def has_intervals(self) -> bool:
        return bool(self.model.has_intervals)

    def features(self, df: pd.DataFrame) -> pd.DataFrame:
        """The model's feature columns of `df`, in training order and dtypes."""
        from impactiq.uplift.features import feature_frame  # pandas and the data layer, when scoring

        return feature_frame(df, self.schema, self.feature_profile)

    def effect(self, df: pd.DataFrame) -> np.ndarray:
        """Estimated uplift of each row: expected outcome if treated minus if not."""
        return self.model.effect(self.features(df))

    def effect_interval(self, df: pd.DataFrame, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
        """(lower, upper) of each row's uplift at level 1 - alpha."""
        return self.model.effect_interval(self.features(df), alpha=alpha)

    def effect_with_interval(
        self, df: pd.DataFrame, alpha: float = 0.05
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(uplift, lower, upper) of each row in one pass where the estimator allows."""
        return self.model.effect_with_interval(self.features(df), alpha=alpha)

    def predict_outcomes(
        self, df: pd.DataFrame, uplift: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(expected outcome without treatment, with treatment) of each row; `uplift` if known."""
        return self.model.predict_outcomes(self.features(df), uplift=uplift)

    def effect_by_arm(self, df: pd.DataFrame) -> np.ndarray:
        """Every arm's effect against control, shape (n, arms)."""
        return self.model.effect_by_arm(self.features(df))

    def effect_by_arm_with_interval(
        self, df: pd.DataFrame, alpha: float = 0.05
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(effect, lower, upper) of every arm against control, each shape (n, arms)."""
        return self.model.effect_by_arm_with_interval(self.features(df), alpha=alpha)

    def predict_arm_outcomes(self, df: pd.DataFrame) -> np.ndarray:
        """Expected outcome under control and every arm, shape (n, arms + 1)."""
        return self.model.predict_arm_outcomes(self.features(df))

    def compare_arms(
        self, df: pd.DataFrame, first: int, second: int, alpha: float = 0.05
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(difference, lower, upper) of arm `first`'s effect minus arm `second`'s (0 = control)."""
        return self.model.compare_arms(self.features(df), first, second, alpha=alpha)
