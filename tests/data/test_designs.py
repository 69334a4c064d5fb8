"""Designs unlike the Criteo-like generator: seeded, with the exact true effect on every row."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit, logit

from impactiq.data.designs import DESIGNS, RARE_SHARE, design_experiment, make_design
from impactiq.errors import ImpactIQError


@pytest.mark.parametrize("name", list(DESIGNS))
def test_every_design_is_seeded_and_has_its_split(name):
    first, again = make_design(name, 20_000, seed=3), make_design(name, 20_000, seed=3)
    assert first.equals(again)
    assert not first.equals(make_design(name, 20_000, seed=4))
    assert abs(first["treatment"].mean() - DESIGNS[name].treated_share) < 0.01
    assert abs(first["rare"].mean() - RARE_SHARE) < 0.005


@pytest.mark.parametrize("name", [n for n, d in DESIGNS.items() if d.binary])
def test_the_truth_is_the_difference_of_the_two_probabilities(name):
    """Rebuild both probabilities from the features and check tau_y and the observed rates."""
    frame = make_design(name, 200_000, seed=1)
    design = DESIGNS[name]
    x = {c: frame[c].to_numpy(dtype=float) for c in frame.columns if c.startswith("x") or c == "rare"}
    signal = 0.6 * x["x2"] - 0.4 * x["x4"] + 0.3 * x["x5"] * x["x3"] + 0.5 * x["rare"]
    p0 = expit(logit(design.base_rate) + signal)
    p1 = np.clip(p0 + design.effect(x), 0.001, 0.999)
    assert np.allclose(frame["tau_y"], p1 - p0)
    treated = frame["treatment"] == 1
    # The observed difference in means agrees with the average true effect (4 standard errors).
    y = frame["y"]
    difference = y[treated].mean() - y[~treated].mean()
    se = np.sqrt(y[treated].var() / treated.sum() + y[~treated].var() / (~treated).sum())
    assert abs(difference - frame["tau_y"].mean()) < 4 * se


def test_designs_differ_in_kind():
    steps = make_design("steps", 50_000, seed=0)
    # The effect jumps between four values (a handful of rows near probability 1 are clipped).
    assert np.isin(np.round(steps["tau_y"], 9), [0.0, 0.03, 0.04, 0.07]).mean() > 0.999
    hurts = make_design("hurts_half", 50_000, seed=0)
    assert 0.45 < (hurts["tau_y"] < 0).mean() < 0.55
    rare = make_design("rare_flag", 50_000, seed=0)
    assert rare.loc[rare["rare"] == 1, "tau_y"].mean() > 10 * rare.loc[rare["rare"] == 0, "tau_y"].mean()
    outcome = make_design("rare_outcome", 50_000, seed=0)
    assert outcome.loc[outcome["treatment"] == 0, "y"].mean() < 0.03
    amount = make_design("amount", 50_000, seed=0)
    assert amount["y"].nunique() > 40_000 and np.allclose(
        amount["tau_y"], np.where(amount["x3"] > 0, 2 + 3 * amount["x8"], 0.0)
    )


def test_the_experiment_carries_the_truth_and_the_outcome_kind():
    experiment = design_experiment("amount", 2_000, seed=0)
    assert not experiment.schema.is_binary("y") and experiment.tau("y") is not None
    assert "tau_y" not in experiment.schema.features
    assert design_experiment("steps", 2_000).schema.is_binary("y")


def test_unknown_design_and_too_few_rows_are_refused():
    with pytest.raises(ImpactIQError, match="Unknown design 'nope'; choose one of steps"):
        make_design("nope", 100)
    with pytest.raises(ImpactIQError, match="at least 2 rows"):
        make_design("steps", 1)
