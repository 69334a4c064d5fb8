"""The synthetic Criteo-style generator: real marginals, reproducible draws, a known truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from impactiq.data.schema import detect_criteo
from impactiq.data.synthetic import (
    CRITEO_RATES,
    FEATURES,
    MONOTONE_FEATURE,
    make_criteo_like,
    outcome_probabilities,
)
from impactiq.errors import ImpactIQError

ROWS = 200_000


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return make_criteo_like(ROWS, seed=0)


def test_columns_and_dtypes(frame):
    assert list(frame.columns) == [
        *FEATURES,
        "treatment",
        "visit",
        "conversion",
        "exposure",
        "tau_visit",
        "tau_conversion",
    ]
    assert len(frame) == ROWS
    for column in (*FEATURES, "tau_visit", "tau_conversion"):
        assert frame[column].dtype == np.float32
    for column in ("treatment", "visit", "conversion", "exposure"):
        assert frame[column].dtype == np.int8
        assert set(frame[column].unique()) <= {0, 1}


def test_detected_as_criteo_with_truth(frame):
    schema = detect_criteo(frame.columns)
    assert schema.truth == {"visit": "tau_visit", "conversion": "tau_conversion"}
    assert schema.excluded == ("exposure",)


def test_treated_share(frame):
    share = frame["treatment"].mean()
    assert share == pytest.approx(0.85, abs=3 * np.sqrt(0.85 * 0.15 / ROWS))


@pytest.mark.parametrize(
    ("outcome", "arm", "tolerance"),
    [("visit", 1, 0.0015), ("visit", 0, 0.0015), ("conversion", 1, 0.0003), ("conversion", 0, 0.0003)],
)
def test_sampled_rates_match_criteo(frame, outcome, arm, tolerance):
    rate = frame.loc[frame["treatment"] == arm, outcome].mean()
    assert rate == pytest.approx(CRITEO_RATES[outcome, arm], abs=tolerance)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("outcome", ["visit", "conversion"])
@pytest.mark.parametrize(("arm", "column"), [(1, "treated"), (0, "control")])
def test_expected_rates_are_calibrated_at_any_seed(seed, outcome, arm, column):
    """The generating probabilities average to the real rates, free of outcome sampling noise:
    only the features' own sampling error (4 standard errors) separates them."""
    p = outcome_probabilities(make_criteo_like(50_000, seed=seed))[f"{outcome}_{column}"]
    tolerance = 4 * p.std() / np.sqrt(len(p))
    assert p.mean() == pytest.approx(CRITEO_RATES[outcome, arm], abs=tolerance)


def test_same_seed_same_table_other_seed_other_table():
    first = make_criteo_like(2_000, seed=7)
    pd.testing.assert_frame_equal(first, make_criteo_like(2_000, seed=7))
    assert not first.equals(make_criteo_like(2_000, seed=8))


def test_conversion_only_after_a_visit(frame):
    assert not ((frame["conversion"] == 1) & (frame["visit"] == 0)).any()


def test_exposure_is_post_treatment(frame):
    treated = frame["treatment"] == 1
    assert frame.loc[~treated, "exposure"].sum() == 0
    assert frame.loc[treated, "exposure"].mean() == pytest.approx(CRITEO_RATES["exposure", 1], abs=0.002)
    exposed = frame["exposure"] == 1
    # It leaks the outcome: exposed users visit far more often than the unexposed treated.
    assert frame.loc[exposed, "visit"].mean() > 5 * frame.loc[treated & ~exposed, "visit"].mean()


@pytest.mark.parametrize(
    ("feature", "value", "share"),
    [
        ("f0", 12.616, 0.295),
        ("f1", 10.06, 0.99),
        ("f2", 8.214, 0.53),
        ("f4", 10.28, 0.95),
        ("f9", 13.19, 0.80),
    ],
)
def test_features_have_criteo_like_mass_points(frame, feature, value, share):
    at_value = np.isclose(frame[feature], value, atol=1e-4).mean()
    assert at_value == pytest.approx(share, abs=0.01)


def test_tau_is_the_difference_of_generating_probabilities(frame):
    p = outcome_probabilities(frame)
    for outcome in ("visit", "conversion"):
        expected = p[f"{outcome}_treated"] - p[f"{outcome}_control"]
        np.testing.assert_allclose(frame[f"tau_{outcome}"], expected, rtol=0, atol=1e-7)


def test_probabilities_are_coherent(frame):
    p = outcome_probabilities(frame)
    assert ((p > 0) & (p < 1)).all().all()
    assert (p["conversion_treated"] <= p["visit_treated"]).all()
    assert (p["conversion_control"] <= p["visit_control"]).all()


@pytest.mark.parametrize("outcome", ["visit", "conversion"])
def test_mean_tau_within_the_difference_in_means_interval(outcome):
    """At 400k rows the naive estimate's 99.9% interval holds the true average effect."""
    frame = make_criteo_like(400_000, seed=3)
    treated = frame["treatment"] == 1
    y1, y0 = frame.loc[treated, outcome], frame.loc[~treated, outcome]
    estimate = y1.mean() - y0.mean()
    se = np.sqrt(y1.var() / len(y1) + y0.var() / len(y0))
    assert abs(estimate - frame[f"tau_{outcome}"].mean()) < 3.3 * se


def test_about_one_user_in_ten_is_hurt(frame):
    tau = frame["tau_visit"]
    assert (tau < 0).mean() == pytest.approx(0.10, abs=0.015)
    assert (tau < -0.001).mean() == pytest.approx(0.10, abs=0.015)
    # Only users far below f6's mass point are hurt.
    assert (tau[frame["f6"] > -8] >= 0).all()


def test_segments_differ_as_documented(frame):
    tau = frame["tau_visit"]
    outside_hurt = frame["f6"] > -8
    persuadable = (frame["f0"] > 24) & (frame["f9"] < 20) & outside_hurt
    lost_cause = (frame["f0"] < 13) & outside_hurt
    sure_thing = (frame["f9"] > 40) & outside_hurt
    assert tau[persuadable].mean() > 2 * tau.mean() > 0.015
    assert tau[lost_cause].abs().max() < 0.001
    assert tau[sure_thing].abs().mean() < 0.001
    assert frame.loc[sure_thing, "visit"].mean() > 3 * frame["visit"].mean()
    assert tau[frame["f6"] < -11].mean() < -0.01


def test_tau_visit_increases_with_the_monotone_feature(frame):
    rows = frame.sample(500, random_state=0)
    grid = np.linspace(12.6, 26.8, 15, dtype=np.float32)
    tau = np.column_stack(
        [
            outcome_probabilities(rows.assign(**{MONOTONE_FEATURE: value}))
            .pipe(lambda p: p["visit_treated"] - p["visit_control"])
            .to_numpy()
            for value in grid
        ]
    )
    assert (np.diff(tau, axis=1) >= 0).all()
    assert tau[:, -1].mean() - tau[:, 0].mean() > 0.015


@pytest.mark.parametrize("n_rows", [0, -5, 2.5, "100", True])
def test_rejects_bad_row_counts(n_rows):
    with pytest.raises(ImpactIQError, match="n_rows"):
        make_criteo_like(n_rows)


def test_outcome_probabilities_names_missing_features():
    with pytest.raises(ImpactIQError, match="f3"):
        outcome_probabilities(make_criteo_like(10).drop(columns="f3"))
