"""Refutation: a placebo's effects vanish, noise and subsets leave a real effect in place."""

from __future__ import annotations

import numpy as np
import pytest

from impactiq.data.experiment import Experiment
from impactiq.errors import ImpactIQError
from impactiq.evaluation.refutation import CHECKS, NOISE_FEATURE, refute
from impactiq.evaluation.training import train_model
from tests.support import strong_effect

FAST = {"n_estimators": 40, "min_samples_leaf": 20}


@pytest.fixture(scope="module")
def experiment():
    return strong_effect(8_000, seed=3)


@pytest.fixture(scope="module")
def trained(experiment):
    return train_model(experiment, outcome="y", params=FAST, n_boot=20, calibrate=False)


@pytest.fixture(scope="module")
def checks(experiment, trained):
    steps = []
    result = refute(experiment, trained, n_subsets=2, on_step=steps.append)
    assert steps == ["placebo treatment", "random common cause", "data subset 1 of 2", "data subset 2 of 2"]
    return result


def test_the_placebo_effect_vanishes_and_the_real_one_does_not(checks, trained):
    placebo = next(c for c in checks if c.check == "placebo treatment")
    assert placebo.passed and placebo.expected == 0.0
    assert abs(placebo.estimate) <= placebo.tolerance
    # The real model's average effect is far outside the band the placebo had to stay in.
    assert trained.metrics["mean_uplift"]["estimate"] > 2 * placebo.tolerance
    assert "excludes 0" in placebo.detail


def test_noise_and_subsets_leave_the_estimate_in_place(checks, trained):
    names = [c.check for c in checks]
    assert names == list(CHECKS)
    for check in checks[1:]:
        assert check.passed, check.detail
        assert check.expected == pytest.approx(trained.holdout["uplift"].mean())
        assert check.rank_correlation > 0.3


def test_other_data_and_a_clashing_feature_are_refused(experiment, trained):
    other = strong_effect(8_000, seed=4)
    with pytest.raises(ImpactIQError, match="not that data set"):
        refute(other, trained)
    frame = experiment.frame.rename(columns={"x2": NOISE_FEATURE})
    schema = experiment.schema
    features = tuple(NOISE_FEATURE if f == "x2" else f for f in schema.numeric_features)
    from dataclasses import replace

    clashing = Experiment(experiment.name, frame, replace(schema, numeric_features=features), experiment.t)
    model = train_model(clashing, outcome="y", params=FAST, n_boot=20, calibrate=False)
    with pytest.raises(ImpactIQError, match="random_common_cause"):
        refute(clashing, model)
    assert np.isfinite(model.metrics["qini_auc_score"]["estimate"])


def test_a_multi_arm_model_is_refuted_arm_by_arm():
    from impactiq.data.demo import load_demo

    channels = load_demo("multichannel", n_rows=4_000, seed=2)
    model = train_model(channels, outcome="conversion", params=FAST, n_boot=20, calibrate=False)
    checks = refute(channels, model, n_subsets=1)
    assert [(c.check, c.arm) for c in checks] == [(check, arm) for check in CHECKS for arm in model.arms]
    for check in checks:
        assert check.tolerance == pytest.approx(
            (model.arm_metrics[check.arm]["ate"]["upper"] - model.arm_metrics[check.arm]["ate"]["lower"]) / 2
        )
