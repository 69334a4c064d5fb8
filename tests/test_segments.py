"""Tests for impactiq.segments: segment assignment, the per-segment table, flags, K-means names."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from impactiq import segments
from impactiq.dataset import prepare_experiment
from impactiq.errors import ImpactIQError
from impactiq.schema import Schema, build_schema
from impactiq.simulate import classify, default_thresholds
from impactiq.training import predictions_frame, train_model

Z = norm.ppf(0.975)
SCHEMA = Schema(
    treatment="group",
    treated_values=("email",),
    control_values=("none",),
    outcomes=("y",),
    binary_outcomes=("y",),
    numeric_features=("x", "newbie"),
    categorical_features=("channel",),
)
EFFECT = {"web": 0.10, "phone": 0.02, "store": -0.05}


def _scored(n: int = 6_000, seed: int = 0, *, amount: bool = False) -> pd.DataFrame:
    """A scored frame with a known effect per channel and imperfect model columns."""
    rng = np.random.default_rng(seed)
    channel = rng.choice(list(EFFECT), size=n, p=[0.5, 0.3, 0.2])
    t = (rng.random(n) < 0.6).astype(np.int8)
    base = 0.2 + 0.1 * (channel == "phone")
    effect = np.array([EFFECT[c] for c in channel])
    y = (rng.random(n) < base + t * effect).astype(np.float64)
    if amount:
        y = y * rng.gamma(2.0, 20.0, n)
    uplift = effect + rng.normal(0, 0.02, n)
    return pd.DataFrame(
        {
            "y": y,
            "t": t,
            "uplift": uplift,
            "uplift_lower": uplift - 0.03,
            "uplift_upper": uplift + 0.03,
            "y0_pred": base,
            "y1_pred": base + uplift,
            "x": rng.normal(size=n),
            "newbie": rng.integers(0, 2, n).astype(np.float64),
            "channel": pd.Categorical(channel),
        }
    )


@pytest.fixture(scope="module")
def scored() -> pd.DataFrame:
    return _scored()


def _direct(frame: pd.DataFrame, member: np.ndarray) -> dict:
    y, t = frame["y"].to_numpy()[member], frame["t"].to_numpy()[member]
    treated, control = y[t == 1], y[t == 0]
    se = np.sqrt(treated.var(ddof=1) / treated.size + control.var(ddof=1) / control.size)
    return {"diff": treated.mean() - control.mean(), "se": se, "credited": treated.sum(), "n_t": treated.size}


@pytest.mark.parametrize("by", ["channel", "newbie", "uplift:4", "kmeans:3", "persuadability"])
def test_observed_uplift_is_the_difference_in_means_of_each_segment(scored, by):
    segmentation = segments.assign_segments(scored, SCHEMA, by)
    table = segments.segment_table(scored, segmentation.labels)
    assert table["users"].sum() == len(scored)
    for _, row in table.iterrows():
        direct = _direct(scored, (segmentation.labels == row["segment"]).to_numpy())
        assert row["observed_uplift"] == pytest.approx(direct["diff"], abs=1e-12)
        assert row["observed_lower"] == pytest.approx(direct["diff"] - Z * direct["se"], abs=1e-12)
        assert row["observed_upper"] == pytest.approx(direct["diff"] + Z * direct["se"], abs=1e-12)
        assert row["credited"] == pytest.approx(direct["credited"])
        assert row["incremental"] == pytest.approx(direct["diff"] * direct["n_t"])


@pytest.mark.parametrize("amount", [False, True])
def test_incremental_plus_waste_equals_credited(amount):
    frame = _scored(seed=1, amount=amount)
    table = segments.segment_table(frame, frame["channel"])
    np.testing.assert_allclose(table["incremental"] + table["waste"], table["credited"], rtol=1e-12)
    np.testing.assert_allclose(table["waste_share"], table["waste"] / table["credited"], rtol=1e-12)
    # Waste is what the treated would have done anyway: control mean x treated users.
    np.testing.assert_allclose(table["waste"], table["control_mean"] * table["treated"], rtol=1e-9)


def test_channels_recover_their_planted_effects(scored):
    table = segments.segment_table(scored, scored["channel"]).set_index("segment")
    for channel, effect in EFFECT.items():
        row = table.loc[channel]
        # Within 3.5 standard errors: six 95% intervals miss somewhere by chance one time in four.
        assert abs(row["observed_uplift"] - effect) < 3.5 * row["observed_se"]
        assert abs(row["dr_uplift"] - effect) < 3.5 * (row["dr_upper"] - row["dr_uplift"]) / Z


def test_doubly_robust_segment_effect_is_the_mean_aipw_score(scored):
    table = segments.segment_table(scored, scored["channel"]).set_index("segment")
    y, t = scored["y"].to_numpy(), scored["t"].to_numpy()
    e = t.mean()
    y0, y1 = scored["y0_pred"].to_numpy(), scored["y1_pred"].to_numpy()
    gamma = y1 - y0 + t * (y - y1) / e - (1 - t) * (y - y0) / (1 - e)
    web = (scored["channel"] == "web").to_numpy()
    assert table.loc["web", "dr_uplift"] == pytest.approx(gamma[web].mean(), abs=1e-12)
    half = Z * gamma[web].std(ddof=1) / np.sqrt(web.sum())
    assert table.loc["web", "dr_upper"] - table.loc["web", "dr_uplift"] == pytest.approx(half, abs=1e-12)


def test_predicted_uplift_is_the_mean_prediction_with_a_normal_interval(scored):
    table = segments.segment_table(scored, scored["channel"]).set_index("segment")
    uplift = scored.loc[scored["channel"] == "phone", "uplift"]
    assert table.loc["phone", "predicted_uplift"] == pytest.approx(uplift.mean())
    half = Z * uplift.std(ddof=1) / np.sqrt(len(uplift))
    assert table.loc["phone", "predicted_upper"] == pytest.approx(uplift.mean() + half)


@pytest.mark.parametrize(("cost", "value"), [(0.5, 10.0), (2.0, 3.0)])
def test_roi_follows_its_definitions(scored, cost, value):
    table = segments.segment_table(scored, scored["channel"], cost=cost, value=value)
    spend = cost * table["treated"]
    np.testing.assert_allclose(table["traditional_roi"], (table["credited"] * value - spend) / spend)
    np.testing.assert_allclose(table["causal_roi"], (table["incremental"] * value - spend) / spend)
    np.testing.assert_allclose(
        table["causal_roi_lower"], (table["incremental_lower"] * value - spend) / spend
    )
    assert (table["traditional_roi"] > table["causal_roi"]).all()


def test_a_model_that_misses_a_segment_is_flagged(scored):
    wrong = scored.copy()
    store = (wrong["channel"] == "store").to_numpy()
    wrong.loc[store, "uplift"] = 0.15  # the truth there is -0.05
    table = segments.segment_table(wrong, wrong["channel"]).set_index("segment")
    assert table.loc["store", "disagrees"]
    assert table.loc["store", "disagreement_p"] < 1e-6
    assert not table.loc["web", "disagrees"]
    assert not table.loc["phone", "disagrees"]


def test_rare_values_are_pooled_into_other():
    frame = _scored(n=3_000, seed=2)
    frame["channel"] = frame["channel"].astype(str)
    frame.loc[:39, "channel"] = "kiosk"
    segmentation = segments.assign_segments(frame, SCHEMA, "channel")
    assert list(segmentation.labels.cat.categories)[-1] == segments.OTHER
    assert (segmentation.labels == segments.OTHER).sum() == 40
    assert "kiosk" in segmentation.method


def test_numeric_column_segments_are_named_and_ordered(scored):
    labels = segments.assign_segments(scored, SCHEMA, "newbie").labels
    assert list(labels.cat.categories) == ["newbie = 0", "newbie = 1"]
    np.testing.assert_array_equal(labels == "newbie = 1", scored["newbie"] == 1)


def test_uplift_quantiles_are_equal_sized_and_ordered(scored):
    labels = segments.assign_segments(scored, SCHEMA, "uplift:4").labels
    counts = labels.value_counts(sort=False)
    assert counts.max() - counts.min() <= 1
    means = scored.groupby(labels, observed=True)["uplift"].agg(["min", "max"])
    assert (means["min"].to_numpy()[:-1] >= means["max"].to_numpy()[1:]).all()
    assert labels.cat.categories[0].endswith("(highest)")


def test_persuadability_uses_the_simulator_rule(scored):
    labels = segments.assign_segments(scored, SCHEMA, "persuadability").labels
    expected = classify(
        scored["uplift"], scored["uplift_upper"], scored["y0_pred"], default_thresholds(scored)
    )
    np.testing.assert_array_equal(labels.astype(str).to_numpy(), expected.astype(str))
    assert "do-not-disturb" in labels.cat.categories  # the store channel is hurt


def _clustered(seed: int) -> pd.DataFrame:
    """Three well separated groups: high x, low x, and middle x in the store channel."""
    frame = _scored(n=1_500, seed=seed)
    group = np.arange(len(frame)) % 3
    frame["x"] = np.choose(group, [4.0, -4.0, 0.0]) + np.random.default_rng(seed).normal(0, 0.3, len(frame))
    frame["channel"] = pd.Categorical(np.where(group == 2, "store", np.where(group == 0, "web", "phone")))
    frame["newbie"] = 0.0  # constant: carries no information and must not break the scaling
    frame["group"] = group
    return frame


@pytest.mark.parametrize("seed", [0, 3])
def test_kmeans_is_stable_for_a_seed_and_finds_planted_clusters(seed):
    frame = _clustered(seed)
    first = segments.assign_segments(frame, SCHEMA, "kmeans:3", seed=seed)
    second = segments.assign_segments(frame, SCHEMA, "kmeans:3", seed=seed)
    pd.testing.assert_series_equal(first.labels, second.labels)
    crossed = pd.crosstab(first.labels, frame["group"])
    assert ((crossed > 0).sum(axis=1) == 1).all()  # each cluster is one planted group
    names = {frame["group"][first.labels == name].iloc[0]: name for name in first.labels.cat.categories}
    assert "high x" in names[0].split(" · ")
    assert "low x" in names[1].split(" · ")
    assert "channel = store" in names[2]
    z = first.profiles.set_index(["segment", "feature"])["z"]
    assert z[(names[0], "x")] > 1 and z[(names[1], "x")] < -1


def test_kmeans_names_are_unique():
    assert segments._unique(["a", "b", "a", "a"]) == ["a", "b", "a (2)", "a (3)"]


@pytest.mark.parametrize(
    ("by", "match"),
    [
        ("kmeans:1", "kmeans"),
        ("uplift:x", "uplift"),
        ("colour", "'colour' is not a feature"),
        ("x", "'x' has .* distinct values"),
        ("", "segment"),
    ],
)
def test_bad_segmentations_are_refused(scored, by, match):
    with pytest.raises(ImpactIQError, match=match):
        segments.assign_segments(scored, SCHEMA, by)


def test_a_holdout_without_features_cannot_be_clustered(scored):
    bare = scored[list(segments.REQUIRED_COLUMNS)]
    assert segments.segment_columns(bare, SCHEMA) == []
    with pytest.raises(ImpactIQError, match="Retrain"):
        segments.assign_segments(bare, SCHEMA, "kmeans:3")
    with pytest.raises(ImpactIQError, match="Retrain"):
        segments.assign_segments(bare, SCHEMA, "channel")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"cost": 0.0, "value": 1.0}, "cost per contact"),
        ({"cost": 1.0, "value": -1.0}, "value"),
        ({"cost": 1.0}, "both"),
    ],
)
def test_bad_economics_are_refused(scored, kwargs, match):
    with pytest.raises(ImpactIQError, match=match):
        segments.segment_table(scored, scored["channel"], **kwargs)


def test_unscored_rows_are_refused(scored):
    with pytest.raises(ImpactIQError, match="y0_pred"):
        segments.segment_table(scored.drop(columns="y0_pred"), scored["channel"])


@pytest.mark.parametrize(("binary", "word"), [(True, "conversions (y)"), (False, "y (amount)")])
def test_labels_say_conversions_or_amounts(scored, binary, word):
    table = segments.segment_table(scored, scored["channel"], cost=1.0, value=2.0)
    shown = segments.formatted_table(table, outcome="y", binary=binary)
    readable = segments.readable_table(table, outcome="y", binary=binary)
    assert f"credited {word}" in shown.columns
    assert f"incremental {word} lower" in readable.columns
    assert "causal ROI [95% CI]" in shown.columns


def test_score_rows_scores_a_labelled_table_like_a_holdout():
    rng = np.random.default_rng(4)
    n = 2_000
    df = pd.DataFrame(
        {
            "group": np.where(rng.random(n) < 0.5, "email", "none"),
            "x": rng.normal(size=n),
            "channel": rng.choice(["web", "phone"], size=n),
        }
    )
    df["y"] = (rng.random(n) < 0.3 + 0.1 * (df["group"] == "email")).astype(int)
    schema = build_schema(
        df, treatment="group", treated_values=["email"], control_values=["none"], outcomes=["y"]
    )
    experiment = prepare_experiment(df, schema)
    model = train_model(
        experiment, outcome="y", n_boot=5, params={"n_estimators": 20, "min_samples_leaf": 20}, test_size=0.3
    )
    frame = segments.score_rows(model, experiment)
    expected = predictions_frame(
        model, model.features(experiment.frame), experiment.y("y"), experiment.t, None
    )
    pd.testing.assert_frame_equal(frame[expected.columns], expected)
    np.testing.assert_array_equal(frame["channel"].astype(str), experiment.frame["channel"].astype(str))
    table = segments.segment_table(frame, segments.assign_segments(frame, schema, "channel").labels)
    assert table["users"].sum() == n
