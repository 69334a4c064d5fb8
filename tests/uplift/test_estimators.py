"""UpliftModel: every estimator fits and scores; estimates are checked against a known effect."""

import pickle

import numpy as np
import pandas as pd
import pytest

from impactiq.errors import ImpactIQError
from impactiq.uplift.estimators import (
    ESTIMATOR_DESCRIPTIONS,
    ESTIMATORS,
    KnownPropensity,
    NotFittedError,
    UpliftModel,
    forest_params,
)

FORESTS = ("causal_forest", "dr")
ANALYTIC = ("causal_forest", "linear_dml", "dr")


def make_experiment(n_rows: int, *, seed: int, binary: bool = True, treated_share: float = 0.7):
    """A randomized experiment whose true effect `tau` is known for every row.

    The effect is a constant plus a step in x0 (0.10 or 0.25 on the probability scale for a
    binary outcome; 1.0 or 2.5 for an amount), so a model must find the step to do well.
    """
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "x0": rng.uniform(-1, 1, n_rows),
            "x1": rng.normal(size=n_rows),
            "segment": pd.Categorical(rng.choice(["north", "south", "west"], n_rows)),
        }
    )
    t = (rng.random(n_rows) < treated_share).astype(np.int8)
    step = (X["x0"] > 0).to_numpy()
    if binary:
        tau = np.where(step, 0.25, 0.10)
        base = 0.3 + 0.1 * np.tanh(X["x1"].to_numpy()) + 0.05 * (X["segment"] == "west").to_numpy()
        y = (rng.random(n_rows) < base + t * tau).astype(np.float64)
    else:
        tau = np.where(step, 2.5, 1.0)
        y = 5.0 + X["x1"].to_numpy() + t * tau + rng.normal(size=n_rows)
    return y, t, X, tau


def small_model(estimator: str, **kwargs) -> UpliftModel:
    """Few trees and refits: fast enough for the default test run."""
    params = {"n_estimators": 40} if estimator in FORESTS else None
    return UpliftModel(estimator=estimator, params=params, n_bootstrap=4, **kwargs)


@pytest.fixture(scope="module")
def fitted() -> dict:
    """Every estimator, binary and continuous, fitted once on 2,000 rows."""
    models = {}
    for binary in (True, False):
        y, t, X, _ = make_experiment(2_000, seed=1, binary=binary)
        for estimator in ESTIMATORS:
            models[estimator, binary] = small_model(estimator, binary_outcome=binary).fit(y, t, X)
    return models


@pytest.fixture(scope="module")
def scoring_rows() -> pd.DataFrame:
    return make_experiment(300, seed=2)[2]


def test_estimator_names_and_descriptions():
    assert ESTIMATORS[0] == "causal_forest"
    assert set(ESTIMATOR_DESCRIPTIONS) == set(ESTIMATORS)
    for name in ("t_learner", "x_learner", "s_learner"):
        assert "no analytic intervals" in ESTIMATOR_DESCRIPTIONS[name]
    for name in ANALYTIC:
        assert "analytic" in ESTIMATOR_DESCRIPTIONS[name]


@pytest.mark.parametrize("binary", [True, False])
@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_every_estimator_fits_and_scores(fitted, scoring_rows, estimator, binary):
    model = fitted[estimator, binary]
    uplift = model.effect(scoring_rows)
    lower, upper = model.effect_interval(scoring_rows, alpha=0.05)
    y0, y1 = model.predict_outcomes(scoring_rows)
    for values in (uplift, lower, upper, y0, y1):
        assert values.shape == (len(scoring_rows),)
        assert np.all(np.isfinite(values))
    assert np.all(lower <= uplift) and np.all(uplift <= upper)
    assert np.all(upper - lower > 0)
    assert model.has_intervals
    assert model.interval_method.startswith("analytic" if estimator in ANALYTIC else "bootstrap (4 refits")
    assert model.feature_names_in_ == ("x0", "x1", "segment")
    assert model.categories_ == {"segment": ("north", "south", "west")}
    if binary:
        assert np.all((y0 >= 0) & (y0 <= 1) & (y1 >= 0) & (y1 <= 1))
    else:  # no clipping: the outcomes differ by exactly the effect
        np.testing.assert_allclose(y1 - y0, uplift, atol=1e-9)
    # A 90% interval lies inside the 95% one.
    lower90, upper90 = model.effect_interval(scoring_rows, alpha=0.10)
    assert np.all(lower90 >= lower - 1e-12) and np.all(upper90 <= upper + 1e-12)
    ate_lower, ate_upper = model.ate_interval(scoring_rows)
    assert ate_lower <= model.ate(scoring_rows) <= ate_upper


@pytest.mark.parametrize("binary", [True, False])
@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_every_estimator_finds_the_average_effect(fitted, estimator, binary):
    """2,000 rows pin the average effect to within a few standard errors of the truth."""
    _, _, X, tau = make_experiment(2_000, seed=3, binary=binary)
    # Standard error of a difference in means at this size: about 0.024 (binary), 0.05 (amount).
    tolerance = 0.06 if binary else 0.3
    assert fitted[estimator, binary].ate(X) == pytest.approx(tau.mean(), abs=tolerance)


def test_t_learner_effect_is_the_difference_of_its_arm_models(fitted, scoring_rows):
    model = fitted["t_learner", False]
    features = model.encoder_.transform(scoring_rows)
    control, treated = model.estimator_.models
    np.testing.assert_allclose(
        model.effect(scoring_rows), treated.predict(features) - control.predict(features)
    )
    y0, y1 = model.predict_outcomes(scoring_rows)
    np.testing.assert_allclose(y0, control.predict(features))
    np.testing.assert_allclose(y1, treated.predict(features))


def test_bootstrap_interval_is_normal_around_the_estimate(fitted, scoring_rows):
    model = fitted["s_learner", True]
    features = model.encoder_.transform(scoring_rows)
    draws = np.stack([est.effect(features).ravel() for est in model.bootstrap_estimators_])
    half_width = 1.959963984540054 * draws.std(axis=0, ddof=1)
    lower, upper = model.effect_interval(scoring_rows)
    uplift = model.effect(scoring_rows)
    np.testing.assert_allclose(lower, uplift - half_width)
    np.testing.assert_allclose(upper, uplift + half_width)


@pytest.mark.parametrize("estimator", ["causal_forest", "x_learner"])
def test_same_seed_same_estimates(estimator, scoring_rows):
    y, t, X, _ = make_experiment(1_000, seed=4)
    first = small_model(estimator, random_state=7).fit(y, t, X)
    second = small_model(estimator, random_state=7).fit(y, t, X)
    # Equal up to the rounding of multithreaded averaging over trees.
    np.testing.assert_allclose(first.effect(scoring_rows), second.effect(scoring_rows), rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        first.effect_interval(scoring_rows)[0], second.effect_interval(scoring_rows)[0], rtol=0, atol=1e-12
    )
    # Another seed changes the forest's subsamples and the bootstrap resamples.
    other = small_model(estimator, random_state=8).fit(y, t, X)
    assert not np.allclose(first.effect_interval(scoring_rows)[0], other.effect_interval(scoring_rows)[0])


def test_pickled_model_gives_the_same_estimates(fitted, scoring_rows):
    model = fitted["causal_forest", True]
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(restored.effect(scoring_rows), model.effect(scoring_rows), rtol=0, atol=1e-12)


def test_scoring_table_may_differ_in_dtype_order_and_extra_columns(fitted, scoring_rows):
    model = fitted["causal_forest", True]
    as_read_from_csv = scoring_rows.assign(segment=scoring_rows["segment"].astype(str), visit=0)[
        ["visit", "segment", "x1", "x0"]
    ]
    np.testing.assert_allclose(model.effect(as_read_from_csv), model.effect(scoring_rows), rtol=0, atol=1e-12)


def test_unseen_category_is_refused_with_column_value_and_known_values(fitted, scoring_rows):
    rows = scoring_rows.assign(segment=scoring_rows["segment"].astype(str))
    rows.loc[rows.index[0], "segment"] = "east"
    with pytest.raises(ImpactIQError, match=r"'segment'.*'east'.*'north', 'south', 'west'"):
        fitted["causal_forest", True].effect(rows)


@pytest.mark.parametrize("method", ["effect", "effect_interval", "predict_outcomes", "ate", "ate_interval"])
def test_missing_feature_column_is_named(fitted, scoring_rows, method):
    with pytest.raises(ImpactIQError, match="'x1'.*missing"):
        getattr(fitted["t_learner", True], method)(scoring_rows.drop(columns="x1"))


def test_missing_numbers_are_allowed(scoring_rows):
    y, t, X, _ = make_experiment(1_000, seed=5)
    X.loc[X.index[::7], "x1"] = np.nan
    model = small_model("linear_dml").fit(y, t, X)
    assert np.all(np.isfinite(model.effect(scoring_rows.assign(x1=np.nan))))


@pytest.mark.parametrize("method", ["effect", "effect_interval", "predict_outcomes", "ate", "ate_interval"])
def test_unfitted_model_refuses_to_estimate(scoring_rows, method):
    with pytest.raises(NotFittedError, match="not fitted"):
        getattr(UpliftModel(), method)(scoring_rows)
    assert issubclass(NotFittedError, ImpactIQError) and issubclass(NotFittedError, AttributeError)
    assert not hasattr(UpliftModel(), "has_intervals")


def test_constructor_only_stores_parameters():
    model = UpliftModel(estimator="no_such_model", params={"bogus": 1})
    assert model.get_params()["estimator"] == "no_such_model"
    assert not hasattr(model, "estimator_")


@pytest.mark.parametrize(
    ("kwargs", "fit_change", "message"),
    [
        ({"estimator": "no_such_model"}, {}, "Unknown estimator 'no_such_model'"),
        ({"params": {"bogus": 1}}, {}, "no parameter.*bogus"),
        ({"propensity": 1.0}, {}, "propensity must lie strictly between 0 and 1"),
        ({"n_bootstrap": -1}, {}, "n_bootstrap"),
        ({}, {"y": "amounts"}, "binary_outcome=False"),
        ({}, {"y": "nan"}, "missing or infinite"),
        ({}, {"t": "labels"}, "0 for control and 1 for treated"),
        ({}, {"t": "one_arm"}, "at least 20 rows in control and in every arm; got 10 control, 190 in arm 1"),
        ({}, {"t": "gap"}, "got .* 0 in arm 1"),
        ({}, {"y": "short"}, "same number of rows"),
        ({}, {"y": "constant"}, "no effect to learn"),
    ],
)
def test_bad_input_is_refused_with_the_fix(kwargs, fit_change, message):
    y, t, X, _ = make_experiment(200, seed=6)
    changes = {
        "amounts": y * 3.5,
        "nan": np.where(np.arange(len(y)) == 3, np.nan, y),
        "labels": np.where(t == 1, "yes", "no"),
        "gap": np.where(t == 1, 2, 0),
        "one_arm": np.r_[np.zeros(10), np.ones(len(t) - 10)],
        "short": y[:-1],
        "constant": np.zeros_like(y),
    }
    y = changes[fit_change["y"]] if "y" in fit_change else y
    t = changes[fit_change["t"]] if "t" in fit_change else t
    with pytest.raises(ImpactIQError, match=message):
        UpliftModel(**kwargs).fit(y, t, X)


def test_alpha_outside_zero_one_is_refused(fitted, scoring_rows):
    with pytest.raises(ImpactIQError, match="alpha must lie strictly between 0 and 1"):
        fitted["causal_forest", True].effect_interval(scoring_rows, alpha=5)


def test_no_bootstrap_means_no_intervals(scoring_rows):
    y, t, X, _ = make_experiment(1_000, seed=8)
    model = UpliftModel(estimator="t_learner", n_bootstrap=0).fit(y, t, X)
    assert not model.has_intervals
    assert model.interval_method == "none (n_bootstrap=0)"
    assert model.effect(scoring_rows).shape == (len(scoring_rows),)
    with pytest.raises(ImpactIQError, match="n_bootstrap of 20 or more"):
        model.effect_interval(scoring_rows)


def test_propensity_is_the_known_design_not_a_fitted_model():
    y, t, X, _ = make_experiment(1_000, seed=9, treated_share=0.85)
    default = small_model("causal_forest").fit(y, t, X)
    assert default.propensity_ == t.mean()
    assert default.params_["model_t"].propensity == t.mean()
    given = small_model("x_learner", propensity=0.8).fit(y, t, X)
    assert given.params_["propensity_model"].propensity == 0.8
    proba = KnownPropensity(0.8).fit(X, t).predict_proba(X)
    np.testing.assert_allclose(proba, np.tile([0.2, 0.8], (len(X), 1)))


def test_predicted_outcomes_follow_the_propensity_identity(fitted, scoring_rows):
    """m = e*y1 + (1-e)*y0 where m is the cross-fitted outcome model's prediction."""
    model = fitted["linear_dml", False]
    features = model.encoder_.transform(scoring_rows)
    m = np.mean([fold.predict(features) for fold in model.estimator_.models_y[0]], axis=0)
    y0, y1 = model.predict_outcomes(scoring_rows)
    e = model.propensity_
    np.testing.assert_allclose(e * y1 + (1 - e) * y0, m)


@pytest.mark.parametrize(("n_rows", "tree_rows", "leaf"), [(100_000, 10_000, 53), (1_000_000, 39_811, 167)])
def test_forest_size_grows_slower_than_the_data(n_rows, tree_rows, leaf):
    params = forest_params(n_rows)
    assert params["max_samples"] * n_rows == pytest.approx(tree_rows, abs=1)
    assert params["min_samples_leaf"] == leaf
    assert params["n_estimators"] % 4 == 0
    assert forest_params(1_000)["max_samples"] == 0.45


@pytest.mark.slow
@pytest.mark.parametrize("binary", [True, False])
def test_default_estimator_recovers_a_known_effect(binary):
    """Default causal forest on 20,000 rows: right average, intervals cover the truth."""
    y, t, X, _ = make_experiment(20_000, seed=10, binary=binary)
    _, _, X_new, tau_new = make_experiment(5_000, seed=11, binary=binary)
    model = UpliftModel(binary_outcome=binary).fit(y, t, X)
    lower, upper = model.ate_interval(X_new)
    assert lower <= tau_new.mean() <= upper
    # A difference in means on 20k rows has a standard error of about 0.007 (binary), 0.015 (amount).
    assert model.ate(X_new) == pytest.approx(tau_new.mean(), abs=0.02 if binary else 0.05)
    row_lower, row_upper = model.effect_interval(X_new)
    coverage = np.mean((row_lower <= tau_new) & (tau_new <= row_upper))
    assert 0.85 <= coverage <= 0.99
    # The model sees the step in x0: effects above it are clearly larger.
    uplift = model.effect(X_new)
    step = X_new["x0"].to_numpy() > 0
    assert uplift[step].mean() - uplift[~step].mean() > (0.08 if binary else 0.8)


def test_expected_amounts_are_never_negative_when_the_outcome_never_was():
    rng = np.random.default_rng(3)
    n = 3_000
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    t = rng.binomial(1, 0.5, n)
    spend = np.where(rng.random(n) < 0.1, rng.exponential(20, n) * (1 + t * (X["a"] > 0)), 0.0)
    model = UpliftModel(estimator="t_learner", binary_outcome=False, n_bootstrap=0).fit(spend, t, X)
    y0, y1 = model.predict_outcomes(X)
    assert y0.min() >= 0 and y1.min() >= 0


def test_a_forest_of_several_arms_grows_small_leaves_of_a_fixed_size_and_more_trees():
    """Leaves of 50 rows at every size, whatever the number of arms, small enough that the bias
    stays inside the spread the calibration measures; half as many trees again, as each is noisier."""
    for n_rows in (1_000, 100_000, 1_000_000):
        for arms in (2, 3, 6):
            assert forest_params(n_rows, arms)["min_samples_leaf"] == 50
            assert forest_params(n_rows, arms)["n_estimators"] == 1.5 * forest_params(n_rows)["n_estimators"]
            assert forest_params(n_rows, arms)["max_samples"] == forest_params(n_rows)["max_samples"]
    assert forest_params(1_000_000, 3)["min_samples_leaf"] < forest_params(1_000_000)["min_samples_leaf"]


@pytest.mark.parametrize("estimator", FORESTS)
def test_forests_skip_only_econmls_in_sample_score(estimator):
    """The forests are EconML's own, fitted identically, less the unused in-sample `score_`."""
    from econml.dml import CausalForestDML
    from econml.dr import ForestDRLearner

    y, t, X, _ = make_experiment(1_500, seed=11)
    model = UpliftModel(estimator=estimator, random_state=0, params={"n_estimators": 20}).fit(y, t, X)
    assert model.estimator_.score_ is None
    reference = {"causal_forest": CausalForestDML, "dr": ForestDRLearner}[estimator](**model.params_)
    features = model._encode(X)
    reference.fit(y, t, X=features, W=None)
    assert reference.score_ is not None
    # Equal up to the order in which EconML's prediction threads add the trees up.
    np.testing.assert_allclose(
        model.estimator_.effect(features), reference.effect(features), rtol=0, atol=1e-12
    )


@pytest.mark.parametrize("params", [{"n_estimators": -1}, {"n_estimators": "abc"}, {"min_samples_leaf": 0}])
def test_settings_the_library_refuses_are_named_without_a_traceback(params):
    """Seen: `train --params '{"n_estimators": -1}'` ended in a ValueError traceback."""
    y, t, X, _ = make_experiment(1_000, seed=8)
    with pytest.raises(ImpactIQError, match=r"The causal_forest estimator refused the settings \{"):
        UpliftModel(estimator="causal_forest", params=params).fit(y, t, X)
