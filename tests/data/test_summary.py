"""Naive effects, balance and the randomization check, against published and hand-computed numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import expit

from impactiq.data.demo import load_demo
from impactiq.data.experiment import Experiment
from impactiq.data.schema import Schema
from impactiq.data.summary import SMD_THRESHOLD, standardized_mean_difference, summarise
from impactiq.errors import ImpactIQError

Z95 = stats.norm.ppf(0.975)


def make_experiment(
    frame: pd.DataFrame, t, *, numeric=(), categorical=(), outcomes=("y",), binary=("y",)
) -> Experiment:
    """An Experiment built directly, so that frames too small for prepare_experiment can be used."""
    schema = Schema(
        treatment="t",
        treated_values=(1,),
        control_values=(0,),
        outcomes=tuple(outcomes),
        binary_outcomes=tuple(binary),
        numeric_features=tuple(numeric),
        categorical_features=tuple(categorical),
    )
    t = np.asarray(t, dtype=np.int8)
    return Experiment(name="test", frame=frame.assign(t=t), schema=schema, t=t)


@pytest.fixture(scope="module")
def tiny():
    """Four treated rows, three control rows: every number below is worked out by hand."""
    frame = pd.DataFrame(
        {
            "x": [1.0, 2.0, 3.0, 4.0, 2.0, 4.0, 6.0],
            "c": pd.Categorical(["a", "a", "b", "b", "a", "b", "b"]),
            "y": [1, 0, 1, 1, 0, 0, 1],
            "spend": [10.0, 0.0, 5.0, 5.0, 0.0, 2.0, 4.0],
        }
    )
    experiment = make_experiment(
        frame, [1, 1, 1, 1, 0, 0, 0], numeric=["x"], categorical=["c"], outcomes=["y", "spend"], binary=["y"]
    )
    return summarise(experiment)


@pytest.fixture(scope="module")
def hillstrom():
    return summarise(load_demo("hillstrom"))


@pytest.mark.parametrize(
    ("outcome", "effect", "low", "high", "decimals"),
    [
        ("visit", 0.0609, 0.0554, 0.0663, 4),
        ("conversion", 0.00495, 0.00355, 0.00636, 5),
        ("spend", 0.597, 0.376, 0.817, 3),
    ],
)
def test_hillstrom_any_email_reproduces_the_known_effects(hillstrom, outcome, effect, low, high, decimals):
    row = hillstrom.effects.set_index("outcome").loc[outcome]
    assert round(row["effect"], decimals) == effect
    assert round(row["effect_lower"], decimals) == low
    assert round(row["effect_upper"], decimals) == high


@pytest.mark.parametrize(
    ("arm", "effect", "low", "high"), [("mens", 0.0766, 0.0700, 0.0832), ("womens", 0.0452, 0.0389, 0.0516)]
)
def test_hillstrom_single_arm_visit_effects(arm, effect, low, high):
    row = summarise(load_demo("hillstrom", arm=arm)).effects.set_index("outcome").loc["visit"]
    assert (round(row["effect"], 4), round(row["effect_lower"], 4), round(row["effect_upper"], 4)) == (
        effect,
        low,
        high,
    )


def test_hillstrom_is_balanced_and_passes(hillstrom):
    assert not hillstrom.balance["flagged"].any()
    check = hillstrom.randomization
    assert check.passed
    assert check.df_model == 15  # 5 numeric + (7 - 1) + (3 - 1) + (3 - 1) category indicators
    assert check.df_residual == 64_000 - 15 - 1
    assert "Consistent with randomization" in check.verdict
    assert hillstrom.truth is None


def test_hillstrom_f_statistic_matches_least_squares(hillstrom):
    """The eigen-decomposition route gives the textbook F of t regressed on the one-hot design."""
    experiment = load_demo("hillstrom")
    design = pd.get_dummies(experiment.X, drop_first=True, dtype=float).to_numpy()
    design = np.column_stack([np.ones(len(design)), design])
    t = experiment.t.astype(float)
    coefficients, *_ = np.linalg.lstsq(design, t, rcond=None)
    residual = np.sum((t - design @ coefficients) ** 2)
    total = np.sum((t - t.mean()) ** 2)
    k, n = design.shape[1] - 1, len(t)
    f_statistic = ((total - residual) / k) / (residual / (n - k - 1))
    assert hillstrom.randomization.f_statistic == pytest.approx(f_statistic, rel=1e-9)
    assert hillstrom.randomization.p_value == pytest.approx(stats.f.sf(f_statistic, k, n - k - 1), rel=1e-6)


def test_arms_table(tiny):
    arms = tiny.arms.set_index("arm")
    assert arms.loc["treated", "rows"] == 4 and arms.loc["control", "rows"] == 3
    assert arms.loc["treated", "share"] == pytest.approx(4 / 7)
    assert arms.loc["treated", "values"] == "1" and arms.loc["control", "values"] == "0"


def test_binary_effect_by_hand(tiny):
    row = tiny.effects.set_index("outcome").loc["y"]
    p1, p0 = 3 / 4, 1 / 3
    se = np.sqrt(p1 * (1 - p1) / 4 + p0 * (1 - p0) / 3)
    assert row["kind"] == "rate"
    assert row["effect"] == pytest.approx(5 / 12)
    assert row["se"] == pytest.approx(se)
    assert (row["effect_lower"], row["effect_upper"]) == pytest.approx((5 / 12 - Z95 * se, 5 / 12 + Z95 * se))
    assert row["p_value"] == pytest.approx(2 * stats.norm.sf((5 / 12) / se))


def test_continuous_effect_uses_sample_variances(tiny):
    row = tiny.effects.set_index("outcome").loc["spend"]
    # treated 10, 0, 5, 5: mean 5, variance 50/3; control 0, 2, 4: mean 2, variance 4.
    se = np.sqrt((50 / 3) / 4 + 4 / 3)
    assert row["kind"] == "mean"
    assert row["effect"] == pytest.approx(3.0)
    assert row["se"] == pytest.approx(se)
    assert row["effect_upper"] == pytest.approx(3.0 + Z95 * se)


def test_relative_lift_by_hand(tiny):
    row = tiny.effects.set_index("outcome").loc["y"]
    se_log = np.hypot(np.sqrt(0.75 * 0.25 / 4) / 0.75, np.sqrt((1 / 3) * (2 / 3) / 3) / (1 / 3))
    assert row["lift"] == pytest.approx(1.25)
    assert row["lift_lower"] == pytest.approx(2.25 * np.exp(-Z95 * se_log) - 1)
    assert row["lift_upper"] == pytest.approx(2.25 * np.exp(Z95 * se_log) - 1)


def test_lift_is_undefined_when_control_has_no_successes():
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": [1, 0, 0, 0]})
    row = summarise(make_experiment(frame, [1, 1, 0, 0], numeric=["x"])).effects.iloc[0]
    assert np.isnan(row["lift"]) and np.isnan(row["lift_lower"])
    assert row["effect"] == pytest.approx(0.5)


def test_rates_per_arm_for_charts(tiny):
    rates = tiny.rates.set_index(["outcome", "arm"])
    treated = rates.loc[("y", "treated")]
    assert treated["mean"] == pytest.approx(0.75)
    assert treated["mean_lower"] == pytest.approx(0.75 - Z95 * np.sqrt(0.75 * 0.25 / 4))
    assert rates.loc[("spend", "control"), "mean"] == pytest.approx(2.0)
    assert rates.loc[("spend", "control"), "mean_upper"] == pytest.approx(2.0 + Z95 * np.sqrt(4 / 3))


def test_numeric_smd_by_hand(tiny):
    row = tiny.balance.set_index("feature").loc["x"]
    # treated 1..4: mean 2.5, variance 5/3; control 2, 4, 6: mean 4, variance 4.
    assert row["smd"] == pytest.approx(-1.5 / np.sqrt((5 / 3 + 4) / 2))
    assert row["mean_treated"] == pytest.approx(2.5)
    assert row["flagged"]


@pytest.mark.parametrize(("level", "sign"), [("a", 1), ("b", -1)])
def test_categorical_smd_per_level_by_hand(tiny, level, sign):
    row = tiny.balance.set_index("feature").loc[f"c = {level}"]
    p1, p0 = 0.5, 1 / 3
    expected = (p1 - p0) / np.sqrt((p1 * (1 - p1) + p0 * (1 - p0)) / 2)
    assert row["column"] == "c" and row["level"] == level
    assert row["smd"] == pytest.approx(sign * expected)


@pytest.mark.parametrize(
    ("x", "treated", "binary", "expected"),
    [
        ([1, 2, 3, 4, 2, 4, 6], [1, 1, 1, 1, 0, 0, 0], False, -1.5 / np.sqrt((5 / 3 + 4) / 2)),
        ([1, 2, np.nan, 3, 5, np.nan], [1, 1, 1, 0, 0, 0], False, -2.5 / np.sqrt((0.5 + 2) / 2)),
        ([1, 1, 0, 1, 0, 0], [1, 1, 1, 0, 0, 0], True, (2 / 3 - 1 / 3) / np.sqrt(2 / 9)),
        ([3, 3, 3, 3], [1, 1, 0, 0], False, 0.0),
        ([5, 5, 3, 3], [1, 1, 0, 0], False, np.inf),
    ],
)
def test_standardized_mean_difference(x, treated, binary, expected):
    assert standardized_mean_difference(
        np.array(x, float), np.array(treated, bool), binary=binary
    ) == pytest.approx(expected)


def test_missing_feature_values_are_skipped_and_tested():
    rng = np.random.default_rng(1)
    x = rng.normal(size=2_000)
    x[::7] = np.nan
    frame = pd.DataFrame({"x": x, "y": rng.integers(0, 2, 2_000)})
    t = rng.integers(0, 2, 2_000)
    summary = summarise(make_experiment(frame, t, numeric=["x"]))
    expected = standardized_mean_difference(x, t == 1)
    assert summary.balance.loc[0, "smd"] == pytest.approx(expected)
    assert not np.isnan(expected)
    assert summary.randomization.df_model == 2  # x (mean-imputed) and its missing indicator


def test_randomization_passes_on_randomized_data():
    summary = summarise(load_demo("synthetic", n_rows=50_000, seed=0))
    check = summary.randomization
    assert check.passed and check.p_value > 0.05
    assert check.df_model == 12
    assert check.treated_share == pytest.approx(0.85, abs=0.005)


def confounded(n: int, slope: float, seed: int = 0) -> Experiment:
    """Treatment more likely for high x: the assignment a randomization check must catch."""
    rng = np.random.default_rng(seed)
    x, noise = rng.normal(size=n), rng.normal(size=n)
    t = rng.random(n) < expit(slope * x)
    frame = pd.DataFrame({"x": x, "noise": noise, "y": (rng.random(n) < 0.1).astype(np.int8)})
    return make_experiment(frame, t, numeric=["x", "noise"])


def test_randomization_fails_when_a_feature_predicts_treatment():
    summary = summarise(confounded(5_000, slope=1.0))
    check = summary.randomization
    assert not check.passed
    assert check.p_value < 1e-10
    assert "predict treatment" in check.verdict and "x" in check.verdict and "biased" in check.verdict
    flagged = summary.balance.set_index("feature")["flagged"]
    assert flagged["x"] and not flagged["noise"]


def test_small_but_detectable_imbalance_is_called_small():
    summary = summarise(confounded(200_000, slope=0.05))
    check = summary.randomization
    assert not check.passed
    assert summary.balance["smd"].abs().max() < SMD_THRESHOLD
    assert f"below {SMD_THRESHOLD}" in check.verdict


def test_collinear_features_cost_one_degree_of_freedom():
    rng = np.random.default_rng(2)
    x = rng.normal(size=1_000)
    frame = pd.DataFrame({"x": x, "twice": 2 * x + 1, "y": rng.integers(0, 2, 1_000)})
    check = summarise(make_experiment(frame, rng.integers(0, 2, 1_000), numeric=["x", "twice"])).randomization
    assert check.df_model == 1


def test_sample_ratio_interval(tiny):
    check = tiny.randomization
    share = 4 / 7
    half_width = Z95 * np.sqrt(share * (1 - share) / 7)
    assert check.treated_share == pytest.approx(share)
    assert (check.treated_share_lower, check.treated_share_upper) == pytest.approx(
        (share - half_width, share + half_width)
    )


def test_truth_is_the_mean_of_tau():
    experiment = load_demo("synthetic", n_rows=50_000, seed=4)
    truth = summarise(experiment).truth.set_index("outcome")
    for outcome in ("visit", "conversion"):
        assert truth.loc[outcome, "true_effect"] == pytest.approx(experiment.tau(outcome).mean())
        low, high = truth.loc[outcome, ["estimate_lower", "estimate_upper"]]
        assert truth.loc[outcome, "covered"] == (low <= truth.loc[outcome, "true_effect"] <= high)
    assert truth.loc["visit", "true_effect"] == pytest.approx(0.0103, abs=0.001)


def effect_interval(alpha: float) -> tuple[float, float]:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 2.0, 4.0, 6.0], "y": [1, 0, 1, 1, 0, 0, 1]})
    row = summarise(make_experiment(frame, [1, 1, 1, 1, 0, 0, 0], numeric=["x"]), alpha=alpha).effects.iloc[0]
    return row["effect_lower"], row["effect_upper"]


@pytest.mark.parametrize("alpha", [0.1, 0.01])
def test_alpha_sets_the_interval_width(alpha):
    low, high = effect_interval(alpha)
    low95, high95 = effect_interval(0.05)
    assert (high - low) / (high95 - low95) == pytest.approx(stats.norm.ppf(1 - alpha / 2) / Z95)


@pytest.mark.parametrize("alpha", [0, 1, -0.05, 5])
def test_rejects_bad_alpha(alpha):
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": [1, 0, 0, 1]})
    with pytest.raises(ImpactIQError, match="alpha"):
        summarise(make_experiment(frame, [1, 1, 0, 0], numeric=["x"]), alpha=alpha)


def test_rejects_an_arm_with_one_row():
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": [1, 0, 0, 1]})
    with pytest.raises(ImpactIQError, match="each arm needs at least 2"):
        summarise(make_experiment(frame, [1, 1, 1, 0], numeric=["x"]))


@pytest.fixture(scope="module")
def hillstrom_arms():
    """Hillstrom with its e-mails kept apart: men's and women's e-mail are two arms."""
    from impactiq.data.demo import HILLSTROM_FEATURES, HILLSTROM_FILE
    from impactiq.data.experiment import prepare_experiment
    from impactiq.data.reader import read_table
    from impactiq.data.schema import build_schema

    frame = read_table(HILLSTROM_FILE, max_bytes=None)
    schema = build_schema(
        frame,
        treatment="segment",
        treated_values=["Mens E-Mail", "Womens E-Mail"],
        control_values=["No E-Mail"],
        outcomes=["visit", "conversion", "spend"],
        features=list(HILLSTROM_FEATURES),
        separate_arms=True,
    )
    return summarise(prepare_experiment(frame, schema))


@pytest.mark.parametrize(
    ("arm", "versus", "effect", "low", "high"),
    [
        ("Mens E-Mail", "No E-Mail", 0.0766, 0.0700, 0.0832),
        ("Womens E-Mail", "No E-Mail", 0.0452, 0.0389, 0.0516),
        ("Mens E-Mail", "Womens E-Mail", 0.0314, 0.0243, 0.0384),
    ],
)
def test_hillstrom_arms_against_control_and_each_other(hillstrom_arms, arm, versus, effect, low, high):
    """The published per-arm visit effects, in one summary of the three-arm experiment."""
    table = hillstrom_arms.arm_effects
    row = table[(table["outcome"] == "visit") & (table["arm"] == arm) & (table["versus"] == versus)].iloc[0]
    assert (round(row["effect"], 4), round(row["effect_lower"], 4), round(row["effect_upper"], 4)) == (
        effect,
        low,
        high,
    )
    assert row["arm_rows"] + row["versus_rows"] > 42_000


def test_arm_effects_equal_the_single_arm_summaries(hillstrom_arms):
    """Comparing an arm with control in the three-arm table equals the two-arm experiment's effect."""
    single = summarise(load_demo("hillstrom", arm="womens")).effects.set_index("outcome")
    table = hillstrom_arms.arm_effects
    rows = table[(table["arm"] == "Womens E-Mail") & (table["versus"] == "No E-Mail")].set_index("outcome")
    for outcome in ("visit", "conversion", "spend"):
        for column in ("effect", "effect_lower", "effect_upper", "p_value"):
            assert rows.loc[outcome, column] == pytest.approx(single.loc[outcome, column], rel=1e-12)


def test_a_pooled_experiment_has_no_arm_table(hillstrom):
    assert hillstrom.arm_effects is None


def test_each_arm_is_checked_against_control_so_arm_level_confounding_is_caught():
    """E-mail to desktop users, social to the rest: the pooled check passes, the arm checks do not."""
    from impactiq.data import multichannel
    from impactiq.data.experiment import prepare_experiment
    from impactiq.data.schema import build_schema

    frame = multichannel.make_multichannel(20_000, seed=4)
    treated = frame["channel"] != "none"
    frame.loc[treated, "channel"] = np.where(frame.loc[treated, "device"] == "desktop", "email", "social")
    schema = build_schema(
        frame,
        treatment="channel",
        treated_values=["email", "social"],
        control_values=["none"],
        outcomes=["conversion"],
        features=list(multichannel.FEATURES),
        separate_arms=True,
    )
    summary = summarise(prepare_experiment(frame, schema))
    assert summary.randomization.passed
    assert set(summary.arm_randomization) == {"email", "social"}
    assert not summary.arm_randomization["email"].passed and not summary.arm_randomization["social"].passed


def test_a_randomized_multi_arm_experiment_passes_every_arm_check(hillstrom_arms):
    assert all(check.passed for check in hillstrom_arms.arm_randomization.values())


def test_each_arms_mean_in_the_arm_table_has_its_interval(hillstrom_arms):
    from impactiq.present.tables import arm_effects_table

    table = arm_effects_table(hillstrom_arms.arm_effects)
    assert table["first [95% CI]"].str.count(r"\[").eq(1).all()
    assert table["second [95% CI]"].str.count(r"\[").eq(1).all()
    row = hillstrom_arms.arm_effects.iloc[0]
    assert row["arm_mean_lower"] < row["arm_mean"] < row["arm_mean_upper"]
