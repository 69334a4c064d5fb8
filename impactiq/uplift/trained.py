"""A trained model with its holdout evidence: what training produces and the model store saves.

The record is plain data; `impactiq.evaluation.training.train_model` fills it (fitting, then
judging on the holdout), and `impactiq.uplift.store.save_model` writes it to a model folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from impactiq.data.schema import Schema
from impactiq.uplift.effects import FittedEffects

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class TrainedModel(FittedEffects):
    """A fitted model with its holdout evidence, ready for the pages or `save_model`.

    `holdout` has one row per holdout row: its feature columns, then y, t, uplift, uplift_lower, uplift_upper (NaN when
    the estimator has no intervals), y0_pred and y1_pred (expected outcome without / with
    treatment) and tau when the data carries the true effect; curves for charts are computed
    from it. `metrics` is `holdout_metrics(holdout)`; `deciles` is
    `metrics.uplift_by_decile` on the holdout. `data` describes the rows trained on
    (fingerprint, counts, sample, split); `fit` the fit's time and memory.

    A multi-arm model names its `arms`; its holdout holds `arm` (0 for control, k for the k-th
    arm), y0_pred and each arm's columns (`uplift.arms.arm_columns`) instead of the two-arm
    predictions, `arm_metrics` and `arm_deciles` hold each arm against control, and `metrics`
    and `deciles` are empty: one arm at a time is seen through `uplift.arms.ArmView`.
    """

    model: object
    schema: Schema
    outcome: str
    estimator: str
    params: dict
    seed: int
    holdout: pd.DataFrame
    metrics: dict
    deciles: pd.DataFrame
    feature_profile: dict
    data: dict
    fit: dict
    arms: tuple[str, ...] = ()
    arm_metrics: dict = field(default_factory=dict)
    arm_deciles: dict = field(default_factory=dict)
