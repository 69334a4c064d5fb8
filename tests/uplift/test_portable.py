"""The exported model reproduces EconML and LightGBM, and loads from its files without them."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from scipy.stats import norm

from impactiq.data.synthetic import FEATURES, make_criteo_like
from impactiq.errors import ImpactIQError
from impactiq.uplift.estimators import ESTIMATORS, UpliftModel
from impactiq.uplift.portable import ARRAYS_FILE, JSON_FILE, PortableModel

FOREST = {"n_estimators": 40}


@pytest.fixture(scope="module")
def data():
    return make_criteo_like(4_000, seed=4), make_criteo_like(600, seed=5)[list(FEATURES)]


@pytest.fixture(
    scope="module",
    params=[(e, "visit") for e in ESTIMATORS]
    + [("causal_forest", "spend"), ("linear_dml", "spend"), ("x_learner", "spend")],
    ids=lambda p: "-".join(p),
)
def fitted(request, data):
    estimator, outcome = request.param
    train, _ = data
    y = train["conversion"] * 50.0 if outcome == "spend" else train["visit"]
    model = UpliftModel(
        estimator=estimator,
        binary_outcome=outcome == "visit",
        random_state=0,
        n_bootstrap=5,
        params=FOREST if estimator in ("causal_forest", "dr") else None,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(y, train["treatment"], train[list(FEATURES)])


def test_effects_and_intervals_equal_econml(fitted, data):
    _, scoring = data
    features = fitted._encode(scoring)
    econml = fitted.estimator_
    point, lower, upper = fitted.portable_.effect_with_interval(scoring, alpha=0.1)
    np.testing.assert_allclose(point, np.ravel(econml.effect(features)), rtol=0, atol=1e-12)
    if fitted.estimator in ("causal_forest", "dr", "linear_dml"):
        expected_lower, expected_upper = econml.effect_interval(features, alpha=0.1)
    else:
        draws = np.stack([np.ravel(refit.effect(features)) for refit in fitted.bootstrap_estimators_])
        spread = norm.ppf(0.95) * draws.std(axis=0, ddof=1)
        expected_lower, expected_upper = (
            np.ravel(econml.effect(features)) - spread,
            np.ravel(econml.effect(features)) + spread,
        )
    np.testing.assert_allclose(lower, np.ravel(expected_lower), rtol=0, atol=1e-12)
    np.testing.assert_allclose(upper, np.ravel(expected_upper), rtol=0, atol=1e-12)


def test_expected_outcomes_come_from_the_fitted_lightgbm_models(fitted, data):
    """m(x) = e·y1 + (1 − e)·y0 equals the estimator's own outcome models' prediction."""
    _, scoring = data
    features = fitted._encode(scoring)
    econml, e = fitted.estimator_, fitted.propensity_

    def predict(model, X):
        return (
            model.predict_proba(X)[:, 1]
            if fitted.binary_outcome and hasattr(model, "predict_proba")
            else model.predict(X)
        )

    if fitted.estimator in ("causal_forest", "linear_dml"):
        expected = np.mean([predict(m, features) for folds in econml.models_y for m in folds], axis=0)
    elif fitted.estimator == "dr":
        folds = [m for fold in econml.models_regression for m in fold]
        arms = [
            np.mean(
                [predict(m, np.column_stack([features, np.full(len(features), a)])) for m in folds], axis=0
            )
            for a in (0.0, 1.0)
        ]
        expected = e * arms[1] + (1 - e) * arms[0]
    elif fitted.estimator == "s_learner":
        arms = [
            econml.overall_model.predict(
                np.column_stack([features, np.full(len(features), 1.0 - a), np.full(len(features), a)])
            )
            for a in (0.0, 1.0)
        ]
        expected = e * arms[1] + (1 - e) * arms[0]
    else:
        expected = e * econml.models[1].predict(features) + (1 - e) * econml.models[0].predict(features)
    y0, y1 = fitted.predict_outcomes(scoring)
    upper = 1.0 if fitted.binary_outcome else np.inf
    inside = (y0 > 0) & (y1 > 0) & (y0 < upper) & (y1 < upper)  # rows the clipping left alone
    assert inside.mean() > 0.3
    np.testing.assert_allclose((e * y1 + (1 - e) * y0)[inside], expected[inside], rtol=0, atol=1e-12)
    np.testing.assert_allclose((y1 - y0)[inside], fitted.effect(scoring)[inside], rtol=0, atol=1e-12)


def test_saved_and_loaded_it_predicts_bit_for_bit_the_same(fitted, data, tmp_path):
    _, scoring = data
    fitted.portable_.save(tmp_path)
    loaded = PortableModel.load(tmp_path)
    for got, expected in zip(
        loaded.effect_with_interval(scoring), fitted.effect_with_interval(scoring), strict=True
    ):
        np.testing.assert_array_equal(got, expected)
    for got, expected in zip(loaded.predict_outcomes(scoring), fitted.predict_outcomes(scoring), strict=True):
        np.testing.assert_array_equal(got, expected)
    assert loaded.interval_method == fitted.interval_method
    assert loaded.has_intervals


@pytest.fixture(scope="module")
def t_learner(data):
    train, _ = data
    return UpliftModel(estimator="t_learner", random_state=0, n_bootstrap=4).fit(
        train["visit"], train["treatment"], train[list(FEATURES)]
    )


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda s, a: s.update(format=7), "format 7"),
        (lambda s, a: s.update(estimator="os.system"), "unknown estimator"),
        (lambda s, a: s["boosters"].pop("arms"), "lacks its arms models"),
        (lambda s, a: s["boosters"].update(arms=s["boosters"]["arms"][:1]), "wrong number of boosters"),
        (lambda s, a: s["boosters"].update(arms=["tree\nbogus"] * 2), "lacks its feature count"),
        (lambda s, a: s.update(propensity=1.5), "propensity"),
        (lambda s, a: s.update(encoder={"features": 3}), "encoding is damaged"),
        (lambda s, a: s.pop("interval_method"), "damaged or incomplete"),
        (lambda s, a: s.update(interval_scale=[1e9]), "interval calibration"),
        (lambda s, a: s.update(interval_scale=[1.0, 1.0]), "interval calibration"),
        (lambda s, a: s.update(interval_scale="wide"), "damaged or incomplete"),
    ],
)
def test_damaged_structure_is_refused_with_a_clear_error(t_learner, tmp_path, damage, message):
    t_learner.portable_.save(tmp_path)
    structure = json.loads((tmp_path / JSON_FILE).read_text())
    damage(structure, None)
    (tmp_path / JSON_FILE).write_text(json.dumps(structure))
    with pytest.raises(ImpactIQError, match=message):
        PortableModel.load(tmp_path)


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated", b"\x80\x04K\x01."])
def test_unreadable_arrays_are_refused(data, tmp_path, content):
    train, _ = data
    linear = UpliftModel(estimator="linear_dml", random_state=0).fit(
        train["visit"], train["treatment"], train[list(FEATURES)]
    )
    linear.portable_.save(tmp_path)
    (tmp_path / ARRAYS_FILE).write_bytes(content)
    with pytest.raises(ImpactIQError, match="cannot be read|damaged"):
        PortableModel.load(tmp_path)


def test_json_that_is_not_a_model_is_refused(tmp_path):
    with pytest.raises(ImpactIQError, match="not valid JSON"):
        PortableModel.from_bytes(b"\x80\x04", b"")
    with pytest.raises(ImpactIQError, match="does not describe a model"):
        PortableModel.from_bytes(b"[1, 2]", b"")


def test_a_model_saved_before_interval_calibration_loads_with_factor_one(t_learner, data, tmp_path):
    t_learner.portable_.save(tmp_path)
    structure = json.loads((tmp_path / JSON_FILE).read_text())
    del structure["interval_scale"]
    (tmp_path / JSON_FILE).write_text(json.dumps(structure))
    loaded = PortableModel.load(tmp_path)
    assert loaded.interval_scale_ == (1.0,)
    _, test = data
    np.testing.assert_array_equal(
        loaded.effect_interval(test[list(FEATURES)])[0], t_learner.effect_interval(test[list(FEATURES)])[0]
    )
