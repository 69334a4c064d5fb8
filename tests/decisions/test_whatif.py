"""Tests of impactiq.decisions.whatif: the values a sweep visits, and sweeps against the model and the truth."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from impactiq.data.demo import load_demo
from impactiq.data.synthetic import MONOTONE_FEATURE
from impactiq.decisions import profiles, whatif
from impactiq.errors import ImpactIQError
from impactiq.evaluation.training import train_model
from tests.support import FORM_PROFILE


@pytest.fixture(scope="module")
def hillstrom_model():
    """A small, quick model with numeric and categorical features (about 2 s)."""
    experiment = load_demo("hillstrom")
    return train_model(experiment, outcome="visit", sample=4_000, n_boot=20, params={"n_estimators": 40})


def test_sweep_values():
    grid = whatif.sweep_values(FORM_PROFILE["age"], 50)
    assert len(grid) == 50 and grid[0] == 19.0 and grid[-1] == 78.0
    assert list(whatif.sweep_values(FORM_PROFILE["visits"], 50)) == list(range(9))  # whole numbers, 1%–99%
    mass = {**FORM_PROFILE["age"], "quantiles": dict.fromkeys(FORM_PROFILE["age"]["quantiles"], 30.0)}
    grid = whatif.sweep_values(mass, 10)
    assert grid[0] == 18.0 and grid[-1] == 80.0  # falls back to the full range
    assert list(whatif.sweep_values(FORM_PROFILE["channel"])) == ["Phone", "Web", "Shop"]


@pytest.mark.parametrize("feature", ["recency", "history", "channel"])
def test_sweep_equals_the_model_on_each_row(hillstrom_model, feature):
    model = hillstrom_model
    profile = profiles.default_profile(model.feature_profile, model.schema)
    sweep = whatif.sweep(model, profile, feature)
    rows = profiles.profile_frame([{**profile, feature: v} for v in sweep["value"]], model.schema)
    lower, upper = model.effect_interval(rows)
    np.testing.assert_allclose(sweep["uplift"], model.effect(rows), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sweep["uplift_lower"], lower, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sweep["uplift_upper"], upper, rtol=1e-10, atol=1e-12)
    if feature == "channel":
        assert list(sweep["value"]) == model.feature_profile["channel"]["categories"]
    with pytest.raises(ImpactIQError, match="not a feature"):
        whatif.sweep(model, profile, "visit")


@pytest.mark.slow
def test_sweep_follows_the_synthetic_truth():
    """tau_visit rises with f0 when the rest is fixed; sweeps of a forest on 40k rows must too.

    One profile's sweep carries the forest's local noise (its Spearman correlation with f0 ranged
    from 0.25 to 0.86 over data seeds 0-2), so the check averages the sweeps of 20 holdout users
    (0.94 to 0.98 over seeds 0-3).
    """
    model = train_model(load_demo("synthetic", n_rows=40_000), outcome="visit", n_boot=20)
    users = model.holdout[list(model.schema.features)].sample(20, random_state=0)
    sweeps = [
        whatif.sweep(
            model, profiles.clip_profile(user, model.schema, model.feature_profile), MONOTONE_FEATURE
        )
        for _, user in users.iterrows()
    ]
    uplift = np.mean([s["uplift"] for s in sweeps], axis=0)
    assert spearmanr(sweeps[0]["value"], uplift).statistic > 0.8
    assert uplift[-1] > uplift[0]
