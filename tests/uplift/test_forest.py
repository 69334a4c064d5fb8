"""The vectorized forest prediction reproduces EconML's forests exactly, from plain arrays."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from impactiq.data.synthetic import FEATURES, make_criteo_like
from impactiq.errors import ImpactIQError
from impactiq.uplift import trees
from impactiq.uplift.estimators import UpliftModel
from impactiq.uplift.forest import ForestPredictor


@pytest.fixture(scope="module")
def fitted() -> tuple[UpliftModel, np.ndarray]:
    data = make_criteo_like(6_000, seed=4)
    model = UpliftModel(random_state=0, params={"n_estimators": 40}).fit(
        data["visit"], data["treatment"], data[list(FEATURES)]
    )
    scoring = make_criteo_like(2_500, seed=5)[list(FEATURES)]
    return model, scoring


def test_point_and_variance_equal_econml(fitted):
    model, scoring = fitted
    features = model._encode(scoring)
    econml_forest = model.estimator_.model_cate.estimators_[0]
    expected_point, expected_cov = econml_forest.predict_and_var(features)
    theta, variance = ForestPredictor.from_forest(econml_forest).predict(features)
    np.testing.assert_allclose(theta[:, 0], expected_point[:, 0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(variance[:, 0], expected_cov[:, 0, 0], rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_chunks_and_threads_change_nothing(fitted, monkeypatch, n_threads):
    model, scoring = fitted
    features = model._encode(scoring)
    predictor = model.portable_.forest_
    whole = predictor.predict(features)
    monkeypatch.setattr(trees, "ROWS_PER_THREAD", 333)
    chunked = predictor.predict(features, n_threads=n_threads)
    for a, b in zip(whole, chunked, strict=True):
        np.testing.assert_array_equal(a, b)


def test_model_effect_and_interval_equal_econml(fitted):
    model, scoring = fitted
    features = model._encode(scoring)
    uplift, lower, upper = model.effect_with_interval(scoring, alpha=0.1)
    np.testing.assert_allclose(uplift, model.estimator_.effect(features).ravel(), rtol=0, atol=1e-12)
    econml_lower, econml_upper = model.estimator_.effect_interval(features, alpha=0.1)
    np.testing.assert_allclose(lower, econml_lower.ravel(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(upper, econml_upper.ravel(), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(model.effect(scoring), uplift)
    half_width = (upper - lower) / 2
    np.testing.assert_allclose(
        half_width / norm.ppf(0.95), np.sqrt(model.portable_.forest_.predict(features)[1][:, 0])
    )


def test_point_only_skips_the_variance(fitted):
    model, scoring = fitted
    theta, variance = model.portable_.forest_.predict(model._encode(scoring), var=False)
    assert variance is None
    assert theta.shape == (len(scoring), 1)


def test_empty_input(fitted):
    model, _ = fitted
    theta, variance = model.portable_.forest_.predict(np.empty((0, len(FEATURES))))
    assert theta.shape == (0, 1) and variance.shape == (0, 1)


def test_arrays_round_trip_and_the_rebuilt_forest_predicts_the_same(fitted):
    model, scoring = fitted
    features = model._encode(scoring)
    forest = model.portable_.forest_
    rebuilt = ForestPredictor.from_arrays({k: v.copy() for k, v in forest.arrays().items()})
    for a, b in zip(forest.predict(features), rebuilt.predict(features), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "damage",
    [
        lambda a: a.update(left=a["left"] + 10**9),
        lambda a: a.update(precond=a["precond"][:, :-1]),
        lambda a: a.update(slices=a["slices"] + 10**6),
        lambda a: a.update(feature=a["feature"] + 10**3),
        lambda a: a.update(left=np.where(a["left"] >= 0, 0, a["left"])),  # a cycle: walks never end
    ],
)
def test_arrays_that_do_not_make_a_forest_are_refused(fitted, damage):
    model, _ = fitted
    arrays = dict(model.portable_.forest_.arrays())
    damage(arrays)
    with pytest.raises(ImpactIQError, match="do not fit together"):
        ForestPredictor.from_arrays(arrays)


def test_a_wrong_number_of_columns_is_refused(fitted):
    model, scoring = fitted
    with pytest.raises(ImpactIQError, match="expects 12 feature columns"):
        model.portable_.forest_.predict(np.zeros((3, 5)))


@pytest.mark.parametrize(
    "damage",
    [
        lambda a: a.update(feature=np.where(a["left"] >= 0, -(10**6), a["feature"])),  # read outside X
        lambda a: a.update(shape=np.array([1.0, 1.0, 2.0, np.inf])),
        lambda a: a.update(left=a["left"][None, :]),
        lambda a: a.update(slices=a["slices"][:0]),
        lambda a: a.update(slices=a["slices"][:, :1]),  # bags of one tree have no variance
        lambda a: a.update(roots=a["roots"][:0]),
        lambda a: a.update(shape=np.array([10**6, 1, 12, 1])),
    ],
)
def test_arrays_that_would_crash_or_hang_scoring_are_refused(fitted, damage):
    model, _ = fitted
    arrays = dict(model.portable_.forest_.arrays())
    damage(arrays)
    with pytest.raises(ImpactIQError, match="forest's arrays"):
        ForestPredictor.from_arrays(arrays)
