"""Tests of impactiq.simulate: profiles, classes, profit, sweeps, batch scoring and URL scenarios."""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from impactiq import charts, report, simulate
from impactiq.demo import load_demo
from impactiq.errors import ImpactIQError
from impactiq.reader import read_table
from impactiq.schema import Schema
from impactiq.synthetic import MONOTONE_FEATURE
from impactiq.training import train_model

SCHEMA = Schema(
    treatment="t",
    treated_values=(1,),
    control_values=(0,),
    outcomes=("y",),
    binary_outcomes=("y",),
    numeric_features=("age", "visits"),
    categorical_features=("channel",),
)
PROFILE = {
    "age": {
        "kind": "numeric",
        "dtype": "float32",
        "min": 18.0,
        "max": 80.0,
        "missing_share": 0.0,
        "quantiles": {"1": 19.0, "5": 21.0, "25": 30.0, "50": 41.5, "75": 55.0, "95": 70.0, "99": 78.0},
    },
    "visits": {
        "kind": "numeric",
        "dtype": "float32",
        "min": 0.0,
        "max": 9.0,
        "missing_share": 0.1,
        "quantiles": {"1": 0.0, "5": 0.0, "25": 1.0, "50": 2.0, "75": 4.0, "95": 7.0, "99": 8.0},
    },
    "channel": {
        "kind": "categorical",
        "categories": ["Phone", "Web", "Shop"],
        "frequencies": {"Web": 0.6, "Phone": 0.3, "Shop": 0.1},
    },
}
THRESHOLDS = simulate.Thresholds(persuadable=0.01, harm=0.02, baseline=0.05)


@pytest.fixture(scope="module")
def hillstrom_model():
    """A small, quick model with numeric and categorical features (about 2 s)."""
    experiment = load_demo("hillstrom")
    return train_model(experiment, outcome="visit", sample=4_000, n_boot=20, params={"n_estimators": 40})


def _holdout() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "uplift": [0.01, 0.05, -0.03, 0.02],
            "y0_pred": [0.10, 0.20, 0.30, 0.40],
            "age": [25.0, 90.0, 40.0, 60.0],
            "visits": [1.0, 3.0, np.nan, 5.0],
            "channel": ["Web", "Shop", "Phone", "Web"],
        }
    )


# ------------------------------------------------------------------ profiles


def test_default_profile_is_medians_and_most_frequent_categories():
    assert simulate.default_profile(PROFILE, SCHEMA) == {"age": 41.5, "visits": 2.0, "channel": "Web"}


def test_counts_and_flags_are_integral():
    assert simulate.is_integral(PROFILE["visits"])
    assert not simulate.is_integral(
        {**PROFILE["visits"], "quantiles": {**PROFILE["visits"]["quantiles"], "50": 2.5}}
    )
    assert not simulate.is_integral(PROFILE["age"])


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("most persuadable", {"age": 80.0, "visits": 3.0, "channel": "Shop"}),  # age 90 clipped to the max
        ("least persuadable", {"age": 40.0, "visits": math.nan, "channel": "Phone"}),
        ("typical", {"age": 41.5, "visits": 2.0, "channel": "Web"}),
    ],
)
def test_preset_profiles(kind, expected):
    profile = simulate.preset_profile(kind, _holdout(), SCHEMA, PROFILE)
    assert profile.keys() == expected.keys()
    for name, value in expected.items():
        assert profile[name] == value or (math.isnan(value) and math.isnan(profile[name]))


def test_random_preset_is_a_seeded_real_user():
    holdout = _holdout()
    draws = [simulate.preset_profile("random", holdout, SCHEMA, PROFILE, seed=s) for s in range(20)]
    assert draws[3] == simulate.preset_profile("random", holdout, SCHEMA, PROFILE, seed=3)
    channels = {d["channel"] for d in draws}
    assert channels <= {"Web", "Shop", "Phone"} and len(channels) > 1


def test_presets_need_holdout_features_and_a_known_kind():
    with pytest.raises(ImpactIQError, match="Retrain"):
        simulate.preset_profile("random", _holdout()[["uplift", "y0_pred"]], SCHEMA, PROFILE)
    with pytest.raises(ImpactIQError, match="no preset 'best'"):
        simulate.preset_profile("best", _holdout(), SCHEMA, PROFILE)


def test_profile_frame_orders_features_and_types():
    frame = simulate.profile_frame([{"channel": "Web", "visits": 1, "age": 30}], SCHEMA)
    assert list(frame.columns) == ["age", "visits", "channel"]
    assert frame["age"].dtype == np.float64 and frame["channel"].iloc[0] == "Web"
    with pytest.raises(ImpactIQError, match="lacks 'visits'"):
        simulate.profile_frame({"age": 30, "channel": "Web"}, SCHEMA)


def test_describe_feature_states_range_and_quantiles():
    text = simulate.describe_feature(PROFILE["visits"])
    assert "range 0 to 9" in text and "50%: 2" in text and "10.0% missing" in text
    assert "Web: 60%" in simulate.describe_feature(PROFILE["channel"])


# ------------------------------------------------------------------ classes, rank, profit


@pytest.mark.parametrize(
    ("uplift", "upper", "y0", "expected"),
    [
        (0.005, -0.001, 0.50, simulate.DO_NOT_DISTURB),  # the interval lies below zero
        (-0.02, 0.010, 0.50, simulate.DO_NOT_DISTURB),  # at the harm threshold
        (-0.019, 0.010, 0.50, simulate.SURE_THING),
        (0.010, 0.030, 0.01, simulate.PERSUADABLE),  # at the persuadable threshold
        (0.009, 0.030, 0.05, simulate.SURE_THING),  # at the baseline threshold
        (0.009, 0.030, 0.049, simulate.LOST_CAUSE),
        (0.009, math.nan, 0.01, simulate.LOST_CAUSE),  # no interval: uplift rules only
    ],
)
def test_classify(uplift, upper, y0, expected):
    assert simulate.classify(uplift, upper, y0, THRESHOLDS) == expected


def test_classify_is_vectorised():
    classes = simulate.classify([0.02, -0.05, 0.0], [0.03, 0.0, 0.01], [0.0, 0.0, 0.9], THRESHOLDS)
    assert list(classes) == [simulate.PERSUADABLE, simulate.DO_NOT_DISTURB, simulate.SURE_THING]


def test_default_thresholds_from_the_holdout():
    thresholds = simulate.default_thresholds(_holdout())
    assert thresholds == simulate.Thresholds(persuadable=0.02, harm=0.02, baseline=0.25)
    no_gain = pd.DataFrame({"uplift": [-0.01, -0.03, -0.02], "y0_pred": [0.1, 0.2, 0.3]})
    assert simulate.default_thresholds(no_gain).persuadable == pytest.approx(0.02)


@pytest.mark.parametrize(
    ("uplift", "expected"),
    [(0.0, 0.0), (1.0, 12.5), (2.5, 50.0), (4.0, 87.5), (9.0, 100.0)],
)
def test_percentile_rank_counts_ties_half(uplift, expected):
    assert simulate.percentile_rank(uplift, [1.0, 2.0, 3.0, 4.0]) == pytest.approx(expected)


def test_percentile_rank_needs_a_population():
    with pytest.raises(ImpactIQError, match="no holdout predictions"):
        simulate.percentile_rank(0.1, [np.nan])


@pytest.mark.parametrize(
    ("uplift", "lower", "upper", "decision"),
    [
        (0.03, 0.02, 0.04, simulate.TREAT),
        (0.03, 0.0, 0.04, simulate.UNCERTAIN),
        (0.005, 0.001, 0.009, simulate.DO_NOT_TREAT),
    ],
)
def test_profit_decision(uplift, lower, upper, decision):
    result = simulate.profit_decision(uplift, lower, upper, 0.1, 10.0)
    assert result.decision == decision
    assert result.profit == pytest.approx(10 * uplift - 0.1)
    assert result.lower == pytest.approx(10 * lower - 0.1) and result.upper == pytest.approx(10 * upper - 0.1)
    assert result.reason.startswith(decision)
    assert "Expected incremental profit per contact" in result.summary


def test_profit_decision_arithmetic_and_no_interval():
    result = simulate.profit_decision(0.03, math.nan, math.nan, 0.1, 10.0)
    assert result.profit == pytest.approx(0.2)
    assert result.decision == simulate.TREAT and "no interval" in result.reason


@pytest.mark.parametrize(("cost", "value"), [(-1.0, 10.0), (0.1, math.inf), (0.1, -2.0)])
def test_profit_decision_refuses_bad_money(cost, value):
    with pytest.raises(ImpactIQError, match="0 or more"):
        simulate.profit_decision(0.01, 0.0, 0.02, cost, value)


def test_difference_adds_half_widths():
    a = {"uplift": 0.01, "uplift_lower": 0.0, "uplift_upper": 0.02}
    b = {"uplift": 0.04, "uplift_lower": 0.01, "uplift_upper": 0.07}
    assert simulate.difference(a, b) == pytest.approx((0.03, -0.01, 0.07))


def test_formatting_in_reader_units():
    assert report.format_effect(0.01234, True) == "+1.234 pp"
    assert report.format_effect(-2.5, False) == "-2.5000"
    assert report.format_interval(-0.01, 0.02, True) == "[-1.000 pp, +2.000 pp]"
    assert simulate.format_outcome(0.0425, True) == "4.25%"


# ------------------------------------------------------------------ sweeps


def test_sweep_values():
    grid = simulate.sweep_values(PROFILE["age"], 50)
    assert len(grid) == 50 and grid[0] == 19.0 and grid[-1] == 78.0
    assert list(simulate.sweep_values(PROFILE["visits"], 50)) == list(range(9))  # whole numbers, 1%–99%
    mass = {**PROFILE["age"], "quantiles": dict.fromkeys(PROFILE["age"]["quantiles"], 30.0)}
    grid = simulate.sweep_values(mass, 10)
    assert grid[0] == 18.0 and grid[-1] == 80.0  # falls back to the full range
    assert list(simulate.sweep_values(PROFILE["channel"])) == ["Phone", "Web", "Shop"]


@pytest.mark.parametrize("feature", ["recency", "history", "channel"])
def test_sweep_equals_the_model_on_each_row(hillstrom_model, feature):
    model = hillstrom_model
    profile = simulate.default_profile(model.feature_profile, model.schema)
    sweep = simulate.sweep(model, profile, feature)
    rows = simulate.profile_frame([{**profile, feature: v} for v in sweep["value"]], model.schema)
    lower, upper = model.effect_interval(rows)
    np.testing.assert_allclose(sweep["uplift"], model.effect(rows), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sweep["lower"], lower, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sweep["upper"], upper, rtol=1e-10, atol=1e-12)
    if feature == "channel":
        assert list(sweep["value"]) == model.feature_profile["channel"]["categories"]
    with pytest.raises(ImpactIQError, match="not a feature"):
        simulate.sweep(model, profile, "visit")


def test_sweep_chart_marks_the_current_value():
    sweep = pd.DataFrame(
        {"value": [1.0, 2.0], "uplift": [0.1, 0.2], "lower": [0.0, 0.1], "upper": [0.2, 0.3]}
    )
    spec = charts.sweep_chart(sweep, "age", 1.5, percent=True).to_dict()
    assert len(spec["layer"]) == 3
    assert {"value": 1.5} in next(iter(v for k, v in spec["datasets"].items() if len(v) == 1))


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
        simulate.sweep(
            model, simulate.clip_profile(user, model.schema, model.feature_profile), MONOTONE_FEATURE
        )
        for _, user in users.iterrows()
    ]
    uplift = np.mean([s["uplift"] for s in sweeps], axis=0)
    assert spearmanr(sweeps[0]["value"], uplift).statistic > 0.8
    assert uplift[-1] > uplift[0]


# ------------------------------------------------------------------ scoring


def test_score_profiles_match_the_model(hillstrom_model):
    model = hillstrom_model
    typical = simulate.default_profile(model.feature_profile, model.schema)
    other = {**typical, "channel": "Phone", "recency": 11.0}
    scores = simulate.score_profiles(model, [typical, other], THRESHOLDS)
    rows = simulate.profile_frame([typical, other], model.schema)
    np.testing.assert_allclose(scores["uplift"], model.effect(rows), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(scores["y0_pred"], model.predict_outcomes(rows)[0], rtol=1e-10, atol=1e-12)
    population = model.holdout["uplift"]
    assert scores["percentile"].iloc[1] == pytest.approx(
        simulate.percentile_rank(scores["uplift"].iloc[1], population)
    )
    expected = simulate.classify(scores["uplift"], scores["uplift_upper"], scores["y0_pred"], THRESHOLDS)
    assert list(scores["class"]) == list(expected)


def _csv(frame: pd.DataFrame) -> bytes:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue().encode()


def _profiles(model, n: int = 60) -> pd.DataFrame:
    experiment = load_demo("hillstrom")
    return experiment.frame[list(model.schema.features)].sample(n, random_state=1).reset_index(drop=True)


@pytest.mark.parametrize("chunk_size", [simulate.CHUNK_ROWS, 7])
def test_batch_round_trip(hillstrom_model, chunk_size):
    model = hillstrom_model
    profiles = _profiles(model).assign(customer_id=np.arange(60), uplift=1.0)
    table = read_table(_csv(profiles), filename="profiles.csv")
    progress = []
    scored = simulate.score_batch(
        model, table, chunk_size=chunk_size, on_progress=lambda d, t: progress.append((d, t))
    )
    assert list(scored.columns) == [c for c in profiles.columns if c != "uplift"] + list(
        simulate.RESULT_COLUMNS
    )
    assert scored["customer_id"].tolist() == list(range(60))
    lower, upper = model.effect_interval(profiles)
    np.testing.assert_allclose(scored["uplift"], model.effect(profiles), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(scored["uplift_lower"], lower, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(scored["uplift_upper"], upper, rtol=1e-10, atol=1e-12)
    thresholds = simulate.default_thresholds(model.holdout)
    expected = simulate.classify(scored["uplift"], scored["uplift_upper"], scored["y0_pred"], thresholds)
    assert list(scored["class"]) == list(expected)
    assert progress[-1] == (60, 60) and len(progress) == math.ceil(60 / chunk_size)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns="history"), "lacks the feature column.*'history'"),
        (
            lambda f: f.assign(recency=f["recency"].astype(str).where(f.index != 4, "ten")),
            "'recency'.*row 5.*'ten'",
        ),
        (
            lambda f: f.assign(channel=f["channel"].astype(str).where(f.index != 2, "Fax")),
            "'channel'.*'Fax'.*row 3",
        ),
    ],
)
def test_bad_batch_files_are_explained(hillstrom_model, change, message):
    table = read_table(_csv(change(_profiles(hillstrom_model))), filename="profiles.csv")
    with pytest.raises(ImpactIQError, match=message):
        simulate.score_batch(hillstrom_model, table)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00binary", "not a CSV or Parquet table"),
        (b"recency,history\n", "no data rows"),
    ],
)
def test_files_that_are_not_tables_are_refused(data, message):
    with pytest.raises(ImpactIQError, match=message):
        read_table(data, filename="profiles.csv")


def test_an_empty_table_is_refused(hillstrom_model):
    with pytest.raises(ImpactIQError, match="no rows"):
        simulate.score_batch(hillstrom_model, _profiles(hillstrom_model).iloc[:0])


# ------------------------------------------------------------------ scenarios in URLs


def test_scenario_round_trip():
    scenario = simulate.Scenario({"age": 33.25, "visits": math.nan, "channel": "Shop"}, "channel", 0.25, 12.5)
    params = simulate.encode_scenario("demo", scenario)
    assert params[simulate.QUERY_MODEL] == "demo" and params["x.visits"] == ""
    decoded, warnings = simulate.decode_scenario(params, SCHEMA, PROFILE)
    assert warnings == []
    assert decoded.profile["age"] == 33.25 and math.isnan(decoded.profile["visits"])
    assert (decoded.whatif, decoded.cost, decoded.value, decoded.profile["channel"]) == (
        "channel",
        0.25,
        12.5,
        "Shop",
    )


def test_an_empty_url_gives_defaults_without_warnings():
    decoded, warnings = simulate.decode_scenario({}, SCHEMA, PROFILE)
    assert warnings == []
    assert decoded == simulate.Scenario(
        simulate.default_profile(PROFILE, SCHEMA), "age", simulate.DEFAULT_COST, simulate.DEFAULT_VALUE
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"x.age": "old"}, "not a number"),
        ({"x.age": "nan"}, "not a number"),
        ({"x.age": "120"}, "outside the training range 18 to 80"),
        ({"x.channel": "Fax"}, "not one of its categories"),
        ({"x.visits": "2.5"}, "whole number"),
        ({"x.age": ""}, "never missing"),
        ({"whatif": "income"}, "not a feature"),
        ({"cost": "-1"}, "0 or more"),
        ({"value": "lots"}, "0 or more"),
        ({"x.income": "3"}, "x.income"),
    ],
)
def test_invalid_url_values_fall_back_with_a_warning(params, message):
    decoded, warnings = simulate.decode_scenario(params, SCHEMA, PROFILE)
    assert len(warnings) == 1 and message in warnings[0]
    defaults, _ = simulate.decode_scenario({}, SCHEMA, PROFILE)
    assert decoded == defaults
