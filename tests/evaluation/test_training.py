"""Tests for impactiq.training: the stratified split, training, holdout metrics, evaluation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from impactiq.data.experiment import prepare_experiment
from impactiq.data.fingerprint import data_fingerprint, fingerprint_experiment
from impactiq.data.sampling import split_holdout
from impactiq.data.schema import build_schema
from impactiq.data.synthetic import make_criteo_like
from impactiq.errors import ImpactIQError
from impactiq.evaluation import metrics, training
from impactiq.evaluation.holdout import evaluate_model, holdout_metrics
from impactiq.evaluation.training import STAGES, train_model
from impactiq.uplift.features import QUANTILES, feature_frame

# A fast estimator with intervals, so every metric (coverage included) is exercised in seconds.
FAST = {"estimator": "causal_forest", "params": {"n_estimators": 20, "min_samples_leaf": 20}}
N_BOOT = 20


@pytest.fixture(scope="module")
def experiment():
    return prepare_experiment(make_criteo_like(4_000, seed=1))


@pytest.fixture(scope="module")
def amounts():
    """A mapped (non-Criteo) table: text treatment, a spend amount with many zeros, a category."""
    rng = np.random.default_rng(7)
    n = 1_500
    t = rng.random(n) < 0.5
    x = rng.normal(size=n)
    channel = rng.choice(["web", "phone", "multichannel"], size=n)
    spend = np.where(rng.random(n) < 0.1 + 0.1 * t, rng.gamma(2.0, 30.0, n), 0.0)
    df = pd.DataFrame({"group": np.where(t, "email", "no email"), "x": x, "channel": channel, "spend": spend})
    schema = build_schema(
        df, treatment="group", treated_values=["email"], control_values=["no email"], outcomes=["spend"]
    )
    return prepare_experiment(df, schema)


@pytest.fixture(scope="module")
def trained(experiment):
    stages = []
    model = train_model(experiment, outcome="visit", seed=3, n_boot=N_BOOT, on_stage=stages.append, **FAST)
    model.stages = stages
    return model


@pytest.mark.parametrize("test_size", [0.2, 0.3, 0.5])
@pytest.mark.parametrize("seed", [0, 1])
def test_split_holdout_keeps_each_treatment_outcome_stratum_in_proportion(experiment, test_size, seed):
    train, holdout = split_holdout(experiment, "visit", test_size=test_size, seed=seed)
    assert len(np.intersect1d(train, holdout)) == 0
    np.testing.assert_array_equal(np.sort(np.r_[train, holdout]), np.arange(experiment.n_rows))
    assert len(holdout) == round(test_size * experiment.n_rows)
    y, t = experiment.y("visit"), experiment.t
    for arm in (0, 1):
        for outcome in (0.0, 1.0):
            stratum = np.flatnonzero((t == arm) & (y == outcome))
            in_holdout = np.isin(stratum, holdout).sum()
            assert abs(in_holdout - test_size * len(stratum)) <= 1


def test_split_holdout_is_seeded(experiment):
    first = split_holdout(experiment, "visit", seed=5)[1]
    np.testing.assert_array_equal(first, split_holdout(experiment, "visit", seed=5)[1])
    assert not np.array_equal(first, split_holdout(experiment, "visit", seed=6)[1])


def test_split_holdout_stratifies_an_amount_by_positive_or_zero(amounts):
    train, holdout = split_holdout(amounts, "spend", test_size=0.3, seed=0)
    y, t = amounts.y("spend"), amounts.t
    for arm in (0, 1):
        for positive in (False, True):
            stratum = np.flatnonzero((t == arm) & ((y > 0) == positive))
            assert abs(np.isin(stratum, holdout).sum() - 0.3 * len(stratum)) <= 1


@pytest.mark.parametrize("test_size", [0, 1, -0.1, 1.5, True, "0.3"])
def test_split_holdout_refuses_a_share_outside_zero_one(experiment, test_size):
    with pytest.raises(ImpactIQError, match="holdout share"):
        split_holdout(experiment, "visit", test_size=test_size)


def test_split_holdout_refuses_a_holdout_without_enough_control_rows(experiment):
    with pytest.raises(ImpactIQError, match="holdout would hold only .* control rows"):
        split_holdout(experiment, "visit", test_size=0.01)


def test_split_holdout_refuses_an_unknown_outcome(experiment):
    with pytest.raises(ImpactIQError, match="'spend' is not an outcome"):
        split_holdout(experiment, "spend")


def test_train_model_reports_every_stage_in_order(trained):
    """Every stage but sampling (all rows used) and comparing (one estimator chosen), in order."""
    assert trained.stages == [s for s in STAGES if s not in ("sampling", "comparing estimators")]


def test_intervals_of_a_large_training_set_are_not_calibrated_and_the_model_says_why(experiment, monkeypatch):
    monkeypatch.setattr(training, "CALIBRATION_MAX_ROWS", 1_000)
    stages = []
    model = train_model(experiment, outcome="visit", seed=3, n_boot=N_BOOT, on_stage=stages.append, **FAST)
    assert "calibrating intervals" not in stages
    assert model.data["interval_calibration"]["unavailable"].startswith("2,800 training rows is more than")
    assert "calibration_seconds" not in model.fit


def test_train_model_scores_the_holdout_rows_with_their_truth(experiment, trained):
    _, holdout_rows = split_holdout(experiment, "visit", test_size=0.3, seed=3)
    holdout = trained.holdout
    np.testing.assert_array_equal(holdout["y"], experiment.y("visit")[holdout_rows])
    np.testing.assert_array_equal(holdout["t"], experiment.t[holdout_rows])
    np.testing.assert_array_equal(holdout["tau"], experiment.tau("visit")[holdout_rows])
    X = experiment.X.iloc[holdout_rows]
    # To 1e-12, not bit for bit: the forest sums its trees on several threads, in varying order.
    np.testing.assert_allclose(holdout["uplift"], trained.model.effect(X), rtol=0, atol=1e-12)
    assert (holdout["uplift_lower"] <= holdout["uplift"]).all()
    assert (holdout["uplift"] <= holdout["uplift_upper"]).all()
    assert trained.data["n_train"] + trained.data["n_holdout"] == experiment.n_rows


def test_holdout_metrics_agree_with_hand_computations(trained):
    holdout, scores = trained.holdout, trained.metrics
    y, t, uplift, tau = (holdout[c].to_numpy() for c in ("y", "t", "uplift", "tau"))
    treated, control = y[t == 1], y[t == 0]
    naive = treated.mean() - control.mean()
    se = np.sqrt(treated.var(ddof=1) / treated.size + control.var(ddof=1) / control.size)
    assert scores["naive_ate"]["estimate"] == pytest.approx(naive, abs=1e-15)
    assert scores["naive_ate"]["upper"] - naive == pytest.approx(1.959963984540054 * se, rel=1e-12)
    assert scores["qini_auc_score"]["estimate"] == metrics.qini_auc_score(y, uplift, t)
    assert scores["uplift_auc_score"]["estimate"] == metrics.uplift_auc_score(y, uplift, t)
    for strategy in metrics.STRATEGIES:
        for k in (0.1, 0.3):
            score = scores["uplift_at_k"][strategy][f"{k:g}"]
            assert score["estimate"] == metrics.uplift_at_k(y, uplift, t, strategy, k)
            assert score["lower"] <= score["upper"]
    assert scores["true_ate"] == pytest.approx(tau.mean())
    assert scores["pehe"] == pytest.approx(np.sqrt(np.mean((uplift - tau) ** 2)))
    assert scores["ate_error"] == pytest.approx(uplift.mean() - tau.mean())
    lower, upper = holdout["uplift_lower"], holdout["uplift_upper"]
    assert scores["interval_coverage"] == pytest.approx(np.mean((lower <= tau) & (tau <= upper)))
    assert (scores["n_treated"], scores["n_control"]) == (int((t == 1).sum()), int((t == 0).sum()))


def test_doubly_robust_ate_with_constant_predictions_is_the_difference_in_means():
    """With y0_pred = y1_pred = 0 the AIPW score reduces to the inverse-propensity difference,
    which with the observed treated share is exactly the difference in means."""
    rng = np.random.default_rng(0)
    n = 400
    t = (rng.random(n) < 0.3).astype(np.int8)
    y = (rng.random(n) < 0.2 + 0.2 * t).astype(float)
    uplift = rng.normal(size=n)
    frame = pd.DataFrame(
        {"y": y, "t": t, "uplift": uplift, "uplift_lower": uplift - 1, "uplift_upper": uplift + 1}
    ).assign(y0_pred=0.0, y1_pred=0.0)
    scores = holdout_metrics(frame, binary=True, n_boot=N_BOOT)
    assert scores["ate"]["estimate"] == pytest.approx(y[t == 1].mean() - y[t == 0].mean(), abs=1e-12)
    assert "tau" not in frame and "pehe" not in scores


def test_holdout_metrics_of_an_amount_say_why_uplift_auc_is_missing(amounts):
    trained = train_model(amounts, outcome="spend", n_boot=N_BOOT, **FAST)
    assert trained.metrics["uplift_auc_score"] == {
        "unavailable": "the uplift AUC is defined for 0/1 outcomes only"
    }
    assert np.isfinite(trained.metrics["qini_auc_score"]["estimate"])
    assert trained.feature_profile["channel"]["categories"] == ["multichannel", "phone", "web"]


def test_evaluate_model_on_the_holdout_rows_reproduces_the_holdout_metrics(experiment, trained):
    _, holdout_rows = split_holdout(experiment, "visit", test_size=0.3, seed=3)
    holdout_experiment = prepare_experiment(
        make_criteo_like(4_000, seed=1).iloc[holdout_rows].reset_index(drop=True)
    )
    again, before = (
        _flatten(evaluate_model(trained, holdout_experiment, "visit", n_boot=N_BOOT, seed=3)),
        _flatten(trained.metrics),
    )
    assert again.keys() == before.keys()
    for key, value in before.items():
        assert again[key] == (
            value if isinstance(value, str) else pytest.approx(value, rel=1e-9, abs=1e-12)
        ), key


def _flatten(scores: dict, prefix: str = "") -> dict:
    """Nested scores as {'a.b.c': value}, for an approximate comparison of every number."""
    flat = {}
    for key, value in scores.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = value
    return flat


def test_evaluate_model_names_missing_feature_columns(experiment, trained):
    class Lacking:
        feature_names_in_ = ("f0", "age")

    with pytest.raises(ImpactIQError, match="'age'"):
        evaluate_model(Lacking(), experiment, "visit")


def test_train_model_on_a_sample_keeps_the_strata_in_proportion(experiment):
    stages = []
    model = train_model(
        experiment, outcome="visit", sample=1_000, n_boot=N_BOOT, on_stage=stages.append, **FAST
    )
    assert stages[0] == "sampling"
    assert model.data["n_rows"] == 1_000
    assert model.data["n_train"] + model.data["n_holdout"] == 1_000
    assert model.data["fingerprint"] == fingerprint_experiment(experiment, "visit")
    share = experiment.t.mean()
    assert model.data["treated_share"] == pytest.approx(share, abs=1 / 1_000)


@pytest.mark.parametrize("sample", [0, 1, -5, 2.5, True])
def test_train_model_refuses_a_bad_sample_size(experiment, sample):
    with pytest.raises(ImpactIQError, match="sample size"):
        train_model(experiment, outcome="visit", sample=sample, **FAST)


def test_train_model_refuses_an_unknown_feature(experiment):
    with pytest.raises(ImpactIQError, match="'age' is not a feature"):
        train_model(experiment, outcome="visit", features=["f0", "age"], **FAST)


def test_train_model_on_chosen_features_uses_only_those(experiment):
    model = train_model(experiment, outcome="visit", features=["f2", "f0"], n_boot=N_BOOT, **FAST)
    assert model.schema.features == ("f0", "f2")
    assert list(model.feature_profile) == ["f0", "f2"]


def test_feature_profile_records_training_ranges_and_quantiles(experiment, trained):
    train, _ = split_holdout(experiment, "visit", test_size=0.3, seed=3)
    values = experiment.frame["f3"].to_numpy(np.float64)[train]
    profile = trained.feature_profile["f3"]
    assert (profile["min"], profile["max"]) == (values.min(), values.max())
    assert list(profile["quantiles"]) == [str(q) for q in QUANTILES]
    assert profile["quantiles"]["50"] == pytest.approx(np.median(values))


def test_fingerprint_changes_with_any_value_and_only_then():
    frame = make_criteo_like(500, seed=2)
    columns = ["treatment", "visit", "f0"]
    first = data_fingerprint(frame, columns)
    assert data_fingerprint(frame.copy(), columns) == first
    assert data_fingerprint(frame.set_axis(range(100, 600)), columns) == first  # the index is not data
    changed = frame.copy()
    changed.loc[17, "f0"] += 1e-3
    assert data_fingerprint(changed, columns)["sha256"] != first["sha256"]
    assert data_fingerprint(frame, columns[::-1])["sha256"] != first["sha256"]
    assert (first["n_rows"], first["n_columns"]) == (500, 3)


def test_feature_frame_converts_a_raw_table_to_the_training_dtypes(amounts, experiment, trained):
    raw = pd.DataFrame({"f0": ["1.5", "2"], **{f"f{i}": [0, 1] for i in range(1, 12)}, "extra": ["a", "b"]})
    X = feature_frame(raw, trained.schema, trained.feature_profile)
    assert list(X.columns) == list(trained.schema.features)
    assert X["f0"].tolist() == [1.5, 2.0]
    assert all(X[c].dtype == experiment.frame[c].dtype for c in X.columns)


def test_feature_frame_gives_empty_categories_the_missing_category(amounts):
    profile = {"x": {"dtype": "float32"}, "channel": {"kind": "categorical"}}
    raw = pd.DataFrame({"channel": ["web", None, "fax"], "x": [1, 2, 3]})
    X = feature_frame(raw, amounts.schema, profile)
    assert X["channel"].tolist() == ["web", "missing", "fax"]
    assert X["x"].dtype == np.float32


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (pd.DataFrame({"x": [1.0]}), "lacks the feature column.*'channel'"),
        (
            pd.DataFrame({"x": ["1", "abc"], "channel": ["web", "web"]}),
            "'x' should hold numbers, but row 2 holds 'abc'",
        ),
    ],
)
def test_feature_frame_refuses_tables_it_cannot_score(amounts, raw, message):
    profile = {"x": {"dtype": "float32"}, "channel": {"categories": ["web"]}}
    with pytest.raises(ImpactIQError, match=message):
        feature_frame(raw, amounts.schema, profile)


def _awkward_table(n: int = 1_200, seed: int = 11) -> pd.DataFrame:
    """A mapped table as real exports come: a feature the design fixed, a category with one
    value, and numbers a model cannot use (infinite, or beyond float32's range)."""
    rng = np.random.default_rng(seed)
    t = rng.random(n) < 0.5
    x = rng.normal(size=n)
    df = pd.DataFrame(
        {
            "group": np.where(t, "email", "none"),
            "x": x,
            "spend_before": rng.gamma(2.0, 50.0, n),
            "country": "FR",
            "wave": 3,
            "y": (rng.random(n) < 0.2 + 0.1 * t * (x > 0)).astype(np.int8),
        }
    )
    df.loc[[3, 40], "x"] = np.inf
    df.loc[7, "spend_before"] = 1e39
    df.loc[8, "spend_before"] = -np.inf
    return df


@pytest.mark.parametrize("features", [None, ["x", "spend_before", "country", "wave"]])
def test_a_table_with_unusable_values_and_constant_features_trains(features):
    df = _awkward_table()
    schema = build_schema(
        df,
        treatment="group",
        treated_values=["email"],
        control_values=["none"],
        outcomes=["y"],
        features=features,
    )
    experiment = prepare_experiment(df, schema)
    assert experiment.schema.features == ("x", "spend_before")
    warnings = "\n".join(experiment.warnings)
    assert "'x' holds inf in 2 rows" in warnings
    assert "'spend_before' holds -inf and 1e+39 in 2 rows" in warnings
    assert "The feature(s) 'wave', 'country' have the same value in every treated and control row" in warnings
    trained = train_model(experiment, outcome="y", estimator="t_learner", n_boot=N_BOOT, seed=0)
    assert trained.model.feature_names_in_ == ("x", "spend_before")
    assert np.isfinite(trained.holdout["uplift"]).all()
    assert np.isfinite(trained.metrics["qini_auc_score"]["estimate"])


def test_a_criteo_table_with_infinite_and_huge_features_trains():
    df = make_criteo_like(1_000, seed=4)
    df["f3"] = df["f3"].astype(np.float64)
    df.loc[[0, 5, 9], "f3"] = [np.inf, 1e39, -2e39]
    df["f7"] = 1.0
    experiment = prepare_experiment(df)
    assert "f7" not in experiment.schema.features
    assert any(
        w.startswith("The numeric feature 'f3' holds -2e+39, 1e+39 and inf in 3 rows")
        for w in experiment.warnings
    )
    trained = train_model(experiment, outcome="visit", estimator="t_learner", n_boot=N_BOOT, seed=0)
    assert np.isfinite(trained.holdout["uplift"]).all()


def test_a_model_evaluates_rows_where_one_of_its_features_is_constant():
    df = _awkward_table()
    schema = build_schema(
        df, treatment="group", treated_values=["email"], control_values=["none"], outcomes=["y"]
    )
    trained = train_model(prepare_experiment(df, schema), outcome="y", estimator="t_learner", n_boot=N_BOOT)
    later = _awkward_table(seed=12).assign(spend_before=100.0)
    experiment = prepare_experiment(later, trained.schema)
    assert "spend_before" not in experiment.schema.features  # not a feature to train on here ...
    scores = evaluate_model(trained, experiment, "y", n_boot=N_BOOT)  # ... but the model still reads it
    assert np.isfinite(scores["qini_auc_score"]["estimate"])


@pytest.mark.slow
def test_hillstrom_three_arms_mean_predictions_agree_with_each_arms_experiment():
    """Each e-mail's mean predicted visit effect on the holdout lies in its difference-in-means CI."""
    from impactiq.data.demo import load_demo
    from impactiq.data.summary import summarise

    experiment = load_demo("hillstrom", arm="separate")
    trained = train_model(experiment, outcome="visit", n_boot=50)
    effects = summarise(experiment).arm_effects
    for arm in trained.arms:
        row = effects[
            (effects["outcome"] == "visit") & (effects["arm"] == arm) & (effects["versus"] == "No E-Mail")
        ]
        mean_prediction = trained.arm_metrics[arm]["mean_uplift"]["estimate"]
        assert row["effect_lower"].item() <= mean_prediction <= row["effect_upper"].item(), arm
