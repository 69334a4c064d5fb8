"""LightGBM's text format evaluated in NumPy equals LightGBM's own predictions."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest

from impactiq.errors import ImpactIQError
from impactiq.uplift.boosters import TextBooster


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    X = rng.normal(size=(2_000, 5))
    X[:200, 0] = np.nan  # a NaN missing type with learned default directions
    X[200:300, 1] = 0.0
    y = ((X[:, 1] > 0) ^ (rng.random(2_000) < 0.2)).astype(int)
    return X, y


SETTINGS = {"n_estimators": 60, "num_leaves": 15, "verbose": -1, "random_state": 0}


@pytest.mark.parametrize(
    "model",
    [
        lgb.LGBMClassifier(**SETTINGS),
        lgb.LGBMRegressor(objective="cross_entropy", **SETTINGS),
        lgb.LGBMRegressor(**SETTINGS),
        lgb.LGBMRegressor(zero_as_missing=True, **SETTINGS),
        lgb.LGBMClassifier(objective="binary", sigmoid=0.7, **SETTINGS),
    ],
    ids=["binary", "cross_entropy", "regression", "zero_as_missing", "sigmoid_0.7"],
)
def test_predictions_equal_lightgbm(data, model):
    X, y = data
    model.fit(X, y)
    expected = model.predict_proba(X)[:, 1] if hasattr(model, "predict_proba") else model.predict(X)
    booster = TextBooster(model.booster_.model_to_string())
    np.testing.assert_allclose(booster.predict(X), expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(booster.raw_score(X), model.predict(X, raw_score=True), rtol=0, atol=1e-12)


def test_a_one_leaf_model_predicts_its_constant():
    X = np.zeros((50, 2))
    model = lgb.LGBMRegressor(n_estimators=3, verbose=-1).fit(X, np.arange(50.0))
    np.testing.assert_allclose(TextBooster(model.booster_.model_to_string()).predict(X), model.predict(X))


def test_categorical_splits_and_other_objectives_are_refused(data):
    X, y = data
    counts = np.abs(np.round(X[:, 2] * 3)).astype(int)
    categorical = lgb.LGBMClassifier(**SETTINGS).fit(
        np.column_stack([counts, X[:, 1]]), y, categorical_feature=[0]
    )
    with pytest.raises(ImpactIQError, match="categorical"):
        TextBooster(categorical.booster_.model_to_string())
    poisson = lgb.LGBMRegressor(objective="poisson", **SETTINGS).fit(X, y)
    with pytest.raises(ImpactIQError, match="objective 'poisson'"):
        TextBooster(poisson.booster_.model_to_string())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not a model", "not in LightGBM's text format"),
        ("tree\nversion=v4\nobjective=regression\n", "lacks its feature count"),
        ("tree\nmax_feature_idx=1\nobjective=regression\n\nTree=0\nnum_leaves=2\n", "lacks 'leaf_value'"),
        (
            "tree\nmax_feature_idx=1\nobjective=regression\n\nTree=0\nnum_leaves=2\nleaf_value=1 2\n"
            "split_feature=9\nthreshold=0\ndecision_type=2\nleft_child=-1\nright_child=-2\n",
            "feature the model does not have",
        ),
    ],
)
def test_damaged_text_is_refused(text, message):
    with pytest.raises(ImpactIQError, match=message):
        TextBooster(text)


def test_a_wrong_number_of_columns_is_refused(data):
    X, y = data
    booster = TextBooster(lgb.LGBMRegressor(**SETTINGS).fit(X, y).booster_.model_to_string())
    with pytest.raises(ImpactIQError, match="expects 5 feature columns"):
        booster.predict(X[:, :3])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.replace("right_child=", "right_child=1 ", 1), "inconsistent"),  # one child too many
        (lambda t: t.replace("objective=regression", "objective=regression sqrt"), "option 'sqrt'"),
        (
            lambda t: t.replace("max_feature_idx=4", "max_feature_idx=99999999999999999999999999"),
            "impossible",
        ),
        (lambda t: t.replace("tree\nversion", "tree\naverage_output\nversion"), "averages its trees"),
        (
            lambda t: t.replace("left_child=", "left_child=0 ", 1).replace(
                "left_child=0 1", "left_child=0", 1
            ),
            "tree",
        ),
    ],
)
def test_text_that_is_not_what_it_claims_is_refused(data, change, message):
    X, y = data
    text = lgb.LGBMRegressor(**SETTINGS).fit(X, y).booster_.model_to_string()
    with pytest.raises(ImpactIQError, match=message):
        TextBooster(change(text))
