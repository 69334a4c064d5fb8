"""Tests of impactiq.decisions.explain: baseline Shapley values against hand-computed ones."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from impactiq.data.demo import load_demo
from impactiq.data.schema import Schema
from impactiq.decisions import explain, profiles
from impactiq.errors import ImpactIQError
from impactiq.evaluation.training import train_model
from impactiq.present import charts
from impactiq.uplift.features import feature_frame


def _numeric(name: str, median: float) -> dict:
    quantiles = {q: median + (int(q) - 50) / 10 for q in ("1", "5", "25", "50", "75", "95", "99")}
    return {
        "kind": "numeric",
        "dtype": "float64",
        "min": -100.0,
        "max": 100.0,
        "missing_share": 0.0,
        "quantiles": quantiles,
    }


class FormulaModel:
    """A stand-in with a known uplift formula over numeric features a, b, … and category 'channel'."""

    def __init__(self, n_numeric: int, formula):
        names = tuple("abcdefghijklmnop"[:n_numeric])
        self.schema = Schema(
            treatment="t",
            treated_values=(1,),
            control_values=(0,),
            outcomes=("y",),
            binary_outcomes=("y",),
            numeric_features=names,
            categorical_features=("channel",),
        )
        self.feature_profile = {name: _numeric(name, float(i)) for i, name in enumerate(names)}
        self.feature_profile["channel"] = {
            "kind": "categorical",
            "categories": ["Phone", "Web"],
            "frequencies": {"Web": 0.7, "Phone": 0.3},
        }
        self.formula = formula
        self.calls = 0

    def features(self, df):
        return feature_frame(df, self.schema, self.feature_profile)

    def effect(self, df):
        self.calls += 1
        return np.asarray(self.formula(self.features(df)), dtype=np.float64)


def _additive(frame):
    weights = np.arange(1, frame.shape[1])  # a: 1, b: 2, …; the last column is the category
    numbers = frame.drop(columns="channel").to_numpy()
    return numbers @ weights + 0.5 * (frame["channel"] == "Phone")


def _row(model, **values) -> pd.DataFrame:
    return profiles.profile_frame(
        {**profiles.default_profile(model.feature_profile, model.schema), **values}, model.schema
    )


def test_additive_uplift_gives_weight_times_distance():
    model = FormulaModel(3, _additive)  # typical user: a=0, b=1, c=2, channel Web
    table = explain.explain_uplift(model, _row(model, a=2.0, c=-1.0, channel="Phone")).set_index("feature")
    assert table.loc["a", "contribution"] == pytest.approx(1 * (2.0 - 0.0))
    assert table.loc["b", "contribution"] == 0.0
    assert table.loc["c", "contribution"] == pytest.approx(3 * (-1.0 - 2.0))
    assert table.loc["channel", "contribution"] == pytest.approx(0.5)
    assert (table.loc["channel", "value"], table.loc["channel", "baseline"]) == ("Phone", "Web")


def test_interaction_is_shared_as_shapley_says():
    model = FormulaModel(2, lambda f: f["a"] * f["b"])  # typical user a=0, b=1
    table = explain.explain_uplift(model, _row(model, a=3.0, b=5.0)).set_index("feature")
    # v(∅)=0, v(a)=3, v(b)=0, v(ab)=15: φa = ½(3 − 0) + ½(15 − 0) = 9, φb = ½(0 − 0) + ½(15 − 3) = 6.
    assert table.loc["a", "contribution"] == pytest.approx(9.0)
    assert table.loc["b", "contribution"] == pytest.approx(6.0)
    assert table.attrs["uplift"] == pytest.approx(15.0) and table.attrs["baseline_uplift"] == pytest.approx(
        0.0
    )


def test_sorted_by_size_and_one_model_call():
    model = FormulaModel(3, _additive)
    table = explain.explain_uplift(model, _row(model, a=0.5, b=3.0, c=1.0))
    assert list(table["feature"][:3]) == ["b", "c", "a"]  # |4|, |−3|, |0.5|
    assert list(table.columns) == ["feature", "value", "baseline", "contribution"]
    assert model.calls == 1


def test_many_features_use_sampled_orders_and_still_add_up():
    """14 moving features: sampled orders. Each feature moves by 2 from its median (a: 0 → 2, …)."""
    products = lambda f: f["a"] * f["b"] + f["c"] * f["d"] * f["e"]  # noqa: E731
    model = FormulaModel(14, lambda f: products(f) + f.drop(columns="channel").sum(axis=1))
    assert len(model.schema.numeric_features) > explain.EXACT_MAX_FEATURES
    values = {name: 2.0 + i for i, name in enumerate(model.schema.numeric_features)}
    table = explain.explain_uplift(model, _row(model, **values))
    sampled = table.set_index("feature")["contribution"]
    assert sampled.sum() == pytest.approx(table.attrs["uplift"] - table.attrs["baseline_uplift"], rel=1e-12)
    # The same products over five features, explained exactly (32 coalitions).
    small = FormulaModel(5, products)
    exact = explain.explain_uplift(small, _row(small, **{k: values[k] for k in "abcde"})).set_index("feature")
    # Each order comes with its reverse, so a pairwise product is shared exactly; the three-way
    # product is estimated (about 1% error with 256 orders).
    for name in "ab":
        assert sampled[name] - 2.0 == pytest.approx(exact.loc[name, "contribution"], rel=1e-9)
    for name in "cde":
        assert sampled[name] - 2.0 == pytest.approx(exact.loc[name, "contribution"], rel=0.05)
    for name in "fghijklmn":
        assert sampled[name] == pytest.approx(2.0, rel=1e-9)


def test_the_typical_user_has_nothing_to_explain():
    model = FormulaModel(3, _additive)
    table = explain.explain_uplift(model, _row(model))
    assert (table["contribution"] == 0).all()
    assert model.calls == 1


def test_only_one_row_at_a_time():
    model = FormulaModel(2, _additive)
    with pytest.raises(ImpactIQError, match="exactly one row"):
        explain.explain_uplift(model, pd.concat([_row(model), _row(model)]))


@pytest.fixture(scope="module")
def hillstrom_model():
    experiment = load_demo("hillstrom")
    return train_model(experiment, outcome="visit", sample=4_000, n_boot=20, params={"n_estimators": 40})


def test_a_real_model_is_explained_by_original_feature_names(hillstrom_model):
    model = hillstrom_model
    typical = profiles.default_profile(model.feature_profile, model.schema)
    profile = {**typical, "channel": "Phone", "zip_code": "Rural", "recency": 11.0, "history": 700.0}
    table = explain.explain_uplift(model, profiles.profile_frame(profile, model.schema))
    assert sorted(table["feature"]) == sorted(model.schema.features)  # one-hot columns map back
    uplift = model.effect(profiles.profile_frame([profile, typical], model.schema))
    assert table.attrs["uplift"] == pytest.approx(uplift[0], rel=1e-9)
    assert table["contribution"].sum() == pytest.approx(uplift[0] - uplift[1], rel=1e-9, abs=1e-12)
    unchanged = table.set_index("feature").loc[
        ["mens", "womens", "newbie", "history_segment"], "contribution"
    ]
    assert (unchanged == 0).all()
    chart = charts.contribution_chart(table, percent=True).to_dict()
    shown = next(iter(chart["datasets"].values()))
    assert [bar["feature"] for bar in shown] == list(table["feature"][table["contribution"] != 0])
    assert len(shown) >= 2


def test_the_feature_that_sets_the_uplift_drives_it():
    from impactiq.data.schema import Schema
    from impactiq.decisions.explain import uplift_drivers

    rng = np.random.default_rng(0)
    holdout = pd.DataFrame(
        {
            "age": rng.uniform(18, 80, 2_000),
            "noise": rng.normal(size=2_000),
            "device": rng.choice(["mobile", "desktop"], 2_000),
        }
    )
    holdout["uplift"] = (
        0.001 * holdout["age"] + 0.01 * (holdout["device"] == "mobile") + rng.normal(0, 0.0005, 2_000)
    )
    schema = Schema(
        treatment="t",
        treated_values=(1,),
        control_values=(0,),
        outcomes=("y",),
        binary_outcomes=("y",),
        numeric_features=("age", "noise"),
        categorical_features=("device",),
    )
    drivers = uplift_drivers(holdout, schema)
    assert list(drivers.index) == ["age", "device", "noise"]
    assert drivers["noise"] < 0.02 and 0.5 < drivers.sum() <= 1.5
