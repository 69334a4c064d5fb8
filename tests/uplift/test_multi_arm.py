"""Multi-arm models: every arm's effect and interval equal EconML's, and survive saving."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.stats import norm

from impactiq.data.experiment import prepare_experiment
from impactiq.data.multichannel import FEATURES, make_multichannel
from impactiq.data.schema import build_schema
from impactiq.errors import ImpactIQError
from impactiq.uplift.estimators import UpliftModel
from impactiq.uplift.portable import PortableModel

ARMS = ("email", "social", "display")


@pytest.fixture(scope="module")
def experiment():
    frame = make_multichannel(8_000, seed=2)
    schema = build_schema(
        frame,
        treatment="channel",
        treated_values=list(ARMS),
        control_values=["none"],
        outcomes=["conversion"],
        features=list(FEATURES),
        separate_arms=True,
    )
    return prepare_experiment(frame, schema)


@pytest.fixture(scope="module")
def scoring(experiment):
    return experiment.X.iloc[:400]


@pytest.fixture(scope="module", params=["causal_forest", "dr", "t_learner", "s_learner"])
def fitted(request, experiment):
    params = {"n_estimators": 40} if request.param in ("causal_forest", "dr") else None
    model = UpliftModel(estimator=request.param, random_state=0, n_bootstrap=5, params=params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(experiment.y("conversion"), experiment.arm, experiment.X)


def test_the_model_knows_its_arms_and_their_shares(fitted, experiment):
    assert fitted.n_arms_ == 3
    shares = np.bincount(experiment.arm) / experiment.n_rows
    np.testing.assert_allclose(fitted.arm_shares_, shares)


def test_every_arms_effect_and_interval_equal_econml(fitted, scoring):
    features = fitted._encode(scoring)
    point, lower, upper = fitted.effect_by_arm_with_interval(scoring, alpha=0.1)
    assert point.shape == lower.shape == upper.shape == (len(scoring), 3)
    for k in range(1, 4):
        expected = np.ravel(fitted.estimator_.effect(features, T0=0, T1=k))
        np.testing.assert_allclose(point[:, k - 1], expected, rtol=0, atol=1e-12)
        if fitted.estimator in ("causal_forest", "dr"):
            low, high = fitted.estimator_.effect_interval(features, T0=0, T1=k, alpha=0.1)
        else:
            draws = np.stack([np.ravel(r.effect(features, T0=0, T1=k)) for r in fitted.bootstrap_estimators_])
            spread = norm.ppf(0.95) * draws.std(axis=0, ddof=1)
            low, high = expected - spread, expected + spread
        np.testing.assert_allclose(lower[:, k - 1], np.ravel(low), rtol=0, atol=1e-12)
        np.testing.assert_allclose(upper[:, k - 1], np.ravel(high), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(fitted.effect_by_arm(scoring), point)


def test_expected_outcomes_differ_by_exactly_each_arms_effect(fitted, scoring):
    outcomes = fitted.predict_arm_outcomes(scoring)
    effects = fitted.effect_by_arm(scoring)
    assert outcomes.shape == (len(scoring), 4)
    inside = ((outcomes > 0) & (outcomes < 1)).all(axis=1)
    assert inside.mean() > 0.5
    np.testing.assert_allclose((outcomes[:, 1:] - outcomes[:, :1])[inside], effects[inside], atol=1e-12)


def test_saved_and_loaded_it_scores_every_arm_bit_for_bit(fitted, scoring, tmp_path):
    fitted.portable_.save(tmp_path)
    loaded = PortableModel.load(tmp_path)
    assert loaded.n_arms == 3 and loaded.arm_shares_ == fitted.arm_shares_
    for got, expected in zip(
        loaded.effect_by_arm_with_interval(scoring), fitted.effect_by_arm_with_interval(scoring), strict=True
    ):
        np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(loaded.predict_arm_outcomes(scoring), fitted.predict_arm_outcomes(scoring))


@pytest.mark.parametrize("asked", ["effect", "effect_with_interval", "predict_outcomes"])
def test_a_single_arm_question_is_refused_with_the_multi_arm_one(fitted, scoring, asked):
    with pytest.raises(ImpactIQError, match="compares 3 arms with control.*effect_by_arm"):
        getattr(fitted, asked)(scoring)


@pytest.mark.parametrize("estimator", ["linear_dml", "x_learner"])
def test_estimators_without_several_arms_say_which_have_them(experiment, estimator):
    with pytest.raises(
        ImpactIQError, match="handles one treated arm.*causal_forest, dr, t_learner, s_learner"
    ):
        UpliftModel(estimator=estimator).fit(experiment.y("conversion"), experiment.arm, experiment.X)


def test_a_propensity_with_several_arms_is_refused(experiment):
    with pytest.raises(ImpactIQError, match="each arm's share"):
        UpliftModel(estimator="t_learner", propensity=0.5).fit(
            experiment.y("conversion"), experiment.arm, experiment.X
        )


def test_two_arm_models_are_unchanged_by_the_arm_machinery(experiment):
    """A two-arm fit through the arm codes is the same model as through t."""
    y, t, X = experiment.y("conversion"), (experiment.arm == 1).astype(int), experiment.X
    model = UpliftModel(estimator="t_learner", random_state=0, n_bootstrap=3).fit(y, t, X)
    assert (
        model.n_arms_ == 1 and model.arm_shares_ == (1 - t.mean(), t.mean()) and model.propensity_ == t.mean()
    )
    np.testing.assert_array_equal(model.effect_by_arm(X.iloc[:50])[:, 0], model.effect(X.iloc[:50]))


@pytest.mark.parametrize(("first", "second"), [(2, 1), (3, 2), (1, 0), (0, 3)])
def test_comparing_two_arms_equals_econml(fitted, scoring, first, second):
    features = fitted._encode(scoring)
    point, lower, upper = fitted.compare_arms(scoring, first, second, alpha=0.1)
    expected = np.ravel(fitted.estimator_.effect(features, T0=second, T1=first))
    np.testing.assert_allclose(point, expected, rtol=0, atol=1e-12)
    if fitted.estimator == "causal_forest":
        low, high = fitted.estimator_.effect_interval(features, T0=second, T1=first, alpha=0.1)
    elif fitted.estimator == "dr":
        # EconML gives no interval between two arms of a DR learner; each arm's forest is its own,
        # so the variance of the difference is taken as the sum of the two (conservative).
        _, arm_low, arm_high = fitted.effect_by_arm_with_interval(scoring, alpha=0.1)
        half = (arm_high - arm_low) / 2
        spread = np.sqrt(sum(half[:, arm - 1] ** 2 for arm in (first, second) if arm))
        low, high = expected - spread, expected + spread
    else:
        draws = np.stack(
            [np.ravel(r.effect(features, T0=second, T1=first)) for r in fitted.bootstrap_estimators_]
        )
        spread = norm.ppf(0.95) * draws.std(axis=0, ddof=1)
        low, high = expected - spread, expected + spread
    np.testing.assert_allclose(lower, np.ravel(low), rtol=0, atol=1e-12)
    np.testing.assert_allclose(upper, np.ravel(high), rtol=0, atol=1e-12)


def test_comparing_an_arm_with_itself_is_refused(fitted, scoring):
    with pytest.raises(ImpactIQError, match="two different arms"):
        fitted.compare_arms(scoring, 2, 2)
