"""Multi-arm scored rows, and one arm against control seen as a two-arm model.

A multi-arm model scores every arm at once; its holdout keeps them side by side, one set of
columns per arm (see `arm_columns`). Everything ImpactIQ does for a two-arm experiment (holdout
metrics, deciles, the Simulator, segments, targeting) then applies to each arm against control
through `ArmView`: the rows of control and that arm, with that arm's effect and outcomes under
the usual names. So one arm at a time needs no new page logic, and comparing arms builds on
the same numbers.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from impactiq.errors import ImpactIQError

if TYPE_CHECKING:
    import pandas as pd

    from impactiq.data.experiment import Experiment

ARM_COLUMN = "arm"
CONTROL_PREDICTION = "y0_pred"


def arm_columns(arm: str) -> dict[str, str]:
    """The holdout columns of one arm: its uplift and interval, expected outcome and truth."""
    return {
        "uplift": f"uplift_{arm}",
        "uplift_lower": f"uplift_{arm}_lower",
        "uplift_upper": f"uplift_{arm}_upper",
        "y1_pred": f"y_pred_{arm}",
        "tau": f"tau_{arm}",
    }


def check_arm_names(arms: tuple[str, ...]) -> None:
    """Refuse arms whose prediction columns would collide (arms 'email' and 'email_lower')."""
    seen: dict[str, str] = {}
    for arm in arms:
        for column in arm_columns(arm).values():
            if column in seen and seen[column] != arm:
                raise ImpactIQError(
                    f"The arms '{seen[column]}' and '{arm}' would share the prediction column '{column}'; "
                    "rename one of them in the file."
                )
            seen[column] = arm


def arm_predictions(model, X: pd.DataFrame, arms: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Every arm's uplift with its 95% interval and every arm's expected outcome, by column name.

    `model` answers `effect_by_arm_with_interval` and `predict_arm_outcomes` (a multi-arm
    `UpliftModel`, `TrainedModel` or `SavedModel`); `arms` names its arms in order. A model
    without intervals (a meta-learner fitted without bootstrap refits, as model comparison fits
    its candidates) gives NaN bounds, as `scoring.predict_uplift` does.
    """
    if getattr(model, "has_intervals", True):
        point, lower, upper = model.effect_by_arm_with_interval(X, alpha=0.05)
    else:
        point = model.effect_by_arm(X)
        lower = upper = np.full(point.shape, np.nan)
    outcomes = model.predict_arm_outcomes(X)
    columns = {CONTROL_PREDICTION: outcomes[:, 0]}
    for k, arm in enumerate(arms):
        names = arm_columns(arm)
        columns[names["uplift"]] = point[:, k]
        columns[names["uplift_lower"]] = lower[:, k]
        columns[names["uplift_upper"]] = upper[:, k]
        columns[names["y1_pred"]] = outcomes[:, k + 1]
    return columns


def score_arm_experiment(model, experiment: Experiment, outcome: str, *, rows=None) -> pd.DataFrame:
    """A labelled multi-arm experiment scored like a multi-arm holdout (all rows, or `rows`).

    Features, then y, t (any arm), arm, y0_pred, every arm's columns (`arm_columns`) and, on
    synthetic data, every arm's true effect. `model` is a multi-arm `UpliftModel`,
    `TrainedModel` or `SavedModel` whose arms are the experiment's.
    """
    arms = experiment.arm_names
    if experiment.arm is None or tuple(getattr(model, "arms", arms)) != arms:
        raise ImpactIQError(
            f"The model compares the arms {', '.join(getattr(model, 'arms', ()) or ('one treatment',))} with "
            f"control; score a table whose '{experiment.schema.treatment}' keeps those arms apart."
        )
    rows = np.arange(experiment.n_rows) if rows is None else np.asarray(rows)
    X = experiment.frame[list(model.feature_names_in_)].iloc[rows]
    columns = {
        "y": experiment.y(outcome)[rows],
        "t": experiment.t[rows].astype(np.int8),
        ARM_COLUMN: experiment.arm[rows].astype(np.int8),
        **arm_predictions(model, X, arms),
    }
    for arm in arms:
        tau = experiment.arm_tau(outcome, arm)
        if tau is not None:
            columns[arm_columns(arm)["tau"]] = tau[rows]
    return X.reset_index(drop=True).assign(**columns)


def best_arm(uplift: np.ndarray, arms: tuple[str, ...], control: str) -> np.ndarray:
    """Each row's arm with the largest estimated uplift, or `control` when no arm's is positive."""
    best = np.asarray(arms, dtype=object)[np.argmax(uplift, axis=1)]
    return np.where(uplift.max(axis=1) > 0, best, control)


def model_arms(model) -> tuple[str, ...]:
    """The arm names of a multi-arm `TrainedModel` or `SavedModel`; refused for a two-arm one."""
    arms = tuple(getattr(model, "arms", ()))
    if not arms:
        raise ImpactIQError("This model compares one treatment with control; it has no arms to choose from.")
    return arms


def arm_view_frame(holdout: pd.DataFrame, arms: tuple[str, ...], arm: str) -> pd.DataFrame:
    """The rows of control and `arm`, with that arm's predictions under the two-arm names.

    t is 1 for the arm's rows and 0 for control; the other arms' rows and columns are left out.
    """
    if arm not in arms:
        raise ImpactIQError(f"There is no arm {arm!r}; the arms are {', '.join(map(repr, arms))}.")
    k = arms.index(arm) + 1
    codes = holdout[ARM_COLUMN].to_numpy()
    rows = holdout[(codes == 0) | (codes == k)]
    other = {c for a in arms if a != arm for c in arm_columns(a).values()}
    names = arm_columns(arm)
    view = rows.drop(columns=[c for c in rows.columns if c in other or c == ARM_COLUMN])
    view = view.rename(columns={column: standard for standard, column in names.items() if column in view})
    view["t"] = (codes[(codes == 0) | (codes == k)] == k).astype(np.int8)
    return view.reset_index(drop=True)


class ArmView:
    """One arm of a multi-arm model against control, answering like a two-arm model.

    `effect`, `effect_interval`, `effect_with_interval` and `predict_outcomes` give that arm's
    numbers; `holdout`, `metrics` and `deciles` are that arm's holdout evidence; everything
    else (schema, outcome, estimator, features) is the model's own.
    """

    def __init__(self, model, arm: str):
        self.base = model
        self.arms = model_arms(model)
        if arm not in self.arms:
            raise ImpactIQError(f"There is no arm {arm!r}; the arms are {', '.join(map(repr, self.arms))}.")
        self.arm = arm
        self._k = self.arms.index(arm)

    def __getattr__(self, name: str):
        # Anything not arm-specific (schema, outcome, estimator, name, feature_profile, ...).
        return getattr(self.base, name)

    @property
    def control(self) -> str:
        return ", ".join(map(str, self.base.schema.control_values))

    @property
    def label(self) -> str:
        """'<arm> vs <control>', how the pages name this comparison."""
        return f"{self.arm} vs {self.control}"

    @cached_property
    def holdout(self) -> pd.DataFrame:
        return arm_view_frame(self.base.holdout, self.arms, self.arm)

    @property
    def metrics(self) -> dict:
        return self.base.arm_metrics[self.arm]

    @property
    def deciles(self) -> pd.DataFrame:
        return self.base.arm_deciles[self.arm]

    def effect(self, df: pd.DataFrame) -> np.ndarray:
        return self.base.effect_by_arm(df)[:, self._k]

    def effect_interval(self, df: pd.DataFrame, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
        _, lower, upper = self.effect_with_interval(df, alpha=alpha)
        return lower, upper

    def effect_with_interval(
        self, df: pd.DataFrame, alpha: float = 0.05
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        point, lower, upper = self.base.effect_by_arm_with_interval(df, alpha=alpha)
        return point[:, self._k], lower[:, self._k], upper[:, self._k]

    def predict_outcomes(
        self, df: pd.DataFrame, uplift: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        outcomes = self.base.predict_arm_outcomes(df)
        return outcomes[:, 0], outcomes[:, self._k + 1]

    def __repr__(self) -> str:
        return f"ArmView({self.base!r}, arm={self.arm!r})"
