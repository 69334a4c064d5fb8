"""Tests of impactiq.decisions.profiles: typical and preset users, profile frames, scores with class and rank."""

from __future__ import annotations

import math

import numpy as np
import pytest

from impactiq.data.demo import load_demo
from impactiq.decisions import persuadability, profiles
from impactiq.errors import ImpactIQError
from impactiq.evaluation.training import train_model
from tests.support import FORM_PROFILE, FORM_SCHEMA, form_holdout

THRESHOLDS = persuadability.Thresholds(persuadable=0.01, harm=0.02, baseline=0.05)


@pytest.fixture(scope="module")
def hillstrom_model():
    """A small, quick model with numeric and categorical features (about 2 s)."""
    experiment = load_demo("hillstrom")
    return train_model(experiment, outcome="visit", sample=4_000, n_boot=20, params={"n_estimators": 40})


def test_default_profile_is_medians_and_most_frequent_categories():
    assert profiles.default_profile(FORM_PROFILE, FORM_SCHEMA) == {
        "age": 41.5,
        "visits": 2.0,
        "channel": "Web",
    }


def test_counts_and_flags_are_integral():
    assert profiles.is_integral(FORM_PROFILE["visits"])
    assert not profiles.is_integral(
        {**FORM_PROFILE["visits"], "quantiles": {**FORM_PROFILE["visits"]["quantiles"], "50": 2.5}}
    )
    assert not profiles.is_integral(FORM_PROFILE["age"])


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("most persuadable", {"age": 80.0, "visits": 3.0, "channel": "Shop"}),  # age 90 clipped to the max
        ("least persuadable", {"age": 40.0, "visits": math.nan, "channel": "Phone"}),
        ("typical", {"age": 41.5, "visits": 2.0, "channel": "Web"}),
    ],
)
def test_preset_profiles(kind, expected):
    profile = profiles.preset_profile(kind, form_holdout(), FORM_SCHEMA, FORM_PROFILE)
    assert profile.keys() == expected.keys()
    for name, value in expected.items():
        assert profile[name] == value or (math.isnan(value) and math.isnan(profile[name]))


def test_random_preset_is_a_seeded_real_user():
    holdout = form_holdout()
    draws = [profiles.preset_profile("random", holdout, FORM_SCHEMA, FORM_PROFILE, seed=s) for s in range(20)]
    assert draws[3] == profiles.preset_profile("random", holdout, FORM_SCHEMA, FORM_PROFILE, seed=3)
    channels = {d["channel"] for d in draws}
    assert channels <= {"Web", "Shop", "Phone"} and len(channels) > 1


def test_presets_need_holdout_features_and_a_known_kind():
    with pytest.raises(ImpactIQError, match="Retrain"):
        profiles.preset_profile("random", form_holdout()[["uplift", "y0_pred"]], FORM_SCHEMA, FORM_PROFILE)
    with pytest.raises(ImpactIQError, match="no preset 'best'"):
        profiles.preset_profile("best", form_holdout(), FORM_SCHEMA, FORM_PROFILE)


def test_a_preset_is_offered_only_where_it_can_answer():
    """The page disables the buttons `preset_profile` would refuse: real users need the features."""
    bare = form_holdout()[["uplift", "y0_pred"]]
    for kind in profiles.PRESETS:
        assert profiles.preset_available(kind, form_holdout(), FORM_SCHEMA)
        assert profiles.preset_available(kind, bare, FORM_SCHEMA) is (kind == "typical")


def test_profile_frame_orders_features_and_types():
    frame = profiles.profile_frame([{"channel": "Web", "visits": 1, "age": 30}], FORM_SCHEMA)
    assert list(frame.columns) == ["age", "visits", "channel"]
    assert frame["age"].dtype == np.float64 and frame["channel"].iloc[0] == "Web"
    with pytest.raises(ImpactIQError, match="lacks 'visits'"):
        profiles.profile_frame({"age": 30, "channel": "Web"}, FORM_SCHEMA)


@pytest.mark.parametrize(
    ("uplift", "expected"),
    [(0.0, 0.0), (1.0, 12.5), (2.5, 50.0), (4.0, 87.5), (9.0, 100.0)],
)
def test_percentile_rank_counts_ties_half(uplift, expected):
    assert profiles.percentile_rank(uplift, [1.0, 2.0, 3.0, 4.0]) == pytest.approx(expected)


def test_percentile_rank_needs_a_population():
    with pytest.raises(ImpactIQError, match="no holdout predictions"):
        profiles.percentile_rank(0.1, [np.nan])


def test_difference_adds_half_widths():
    a = {"uplift": 0.01, "uplift_lower": 0.0, "uplift_upper": 0.02}
    b = {"uplift": 0.04, "uplift_lower": 0.01, "uplift_upper": 0.07}
    assert profiles.difference(a, b) == pytest.approx((0.03, -0.01, 0.07))


def test_score_profiles_match_the_model(hillstrom_model):
    model = hillstrom_model
    typical = profiles.default_profile(model.feature_profile, model.schema)
    other = {**typical, "channel": "Phone", "recency": 11.0}
    scores = profiles.score_profiles(model, [typical, other], THRESHOLDS)
    rows = profiles.profile_frame([typical, other], model.schema)
    np.testing.assert_allclose(scores["uplift"], model.effect(rows), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(scores["y0_pred"], model.predict_outcomes(rows)[0], rtol=1e-10, atol=1e-12)
    population = model.holdout["uplift"]
    assert scores["percentile"].iloc[1] == pytest.approx(
        profiles.percentile_rank(scores["uplift"].iloc[1], population)
    )
    expected = persuadability.classify(
        scores["uplift"], scores["uplift_upper"], scores["y0_pred"], THRESHOLDS
    )
    assert list(scores["class"]) == list(expected)
