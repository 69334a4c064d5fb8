"""Multi-arm trained models: the wide holdout, one arm seen as a two-arm model, saving and loading."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from impactiq.data.demo import load_demo
from impactiq.errors import ImpactIQError
from impactiq.evaluation.holdout import evaluate_arms, holdout_metrics
from impactiq.evaluation.training import train_model
from impactiq.uplift.arms import ArmView, arm_columns, arm_view_frame, best_arm, score_arm_experiment
from impactiq.uplift.store import list_models, load_model, save_model

ARMS = ("email", "social", "display")


@pytest.fixture(scope="module")
def experiment():
    return load_demo("multichannel", n_rows=9_000, seed=5)


@pytest.fixture(scope="module")
def trained(experiment):
    return train_model(experiment, outcome="conversion", n_boot=20, params={"n_estimators": 40})


def test_the_holdout_keeps_every_arm_side_by_side(trained):
    holdout = trained.holdout
    assert trained.arms == ARMS
    assert set(np.unique(holdout["arm"])) == {0, 1, 2, 3}
    np.testing.assert_array_equal(holdout["t"], holdout["arm"] > 0)
    for arm in ARMS:
        names = arm_columns(arm)
        assert set(names.values()) <= set(holdout.columns)
        assert (holdout[names["uplift_lower"]] <= holdout[names["uplift"]]).all()


def test_an_arm_view_is_that_arm_against_control(trained, experiment):
    view = ArmView(trained, "social")
    rows = view.holdout
    assert set(rows.columns) >= {
        "y",
        "t",
        "uplift",
        "uplift_lower",
        "uplift_upper",
        "y0_pred",
        "y1_pred",
        "tau",
    }
    assert not any(c.startswith(("uplift_email", "uplift_display")) for c in rows.columns)
    assert len(rows) == int(np.isin(trained.holdout["arm"], [0, 2]).sum())
    np.testing.assert_array_equal(
        rows["t"], (trained.holdout["arm"][np.isin(trained.holdout["arm"], [0, 2])] == 2)
    )
    sample = experiment.frame.head(30)
    np.testing.assert_array_equal(view.effect(sample), trained.effect_by_arm(sample)[:, 1])
    y0, y1 = view.predict_outcomes(sample)
    outcomes = trained.predict_arm_outcomes(sample)
    np.testing.assert_array_equal(y0, outcomes[:, 0])
    np.testing.assert_array_equal(y1, outcomes[:, 2])
    assert view.metrics == trained.arm_metrics["social"] and view.label == "social vs none"
    assert view.metrics == holdout_metrics(rows, binary=True, n_boot=20, seed=0)
    with pytest.raises(ImpactIQError, match="no arm 'sms'"):
        ArmView(trained, "sms")


def test_every_arm_is_judged_against_the_truth(trained, experiment):
    for arm in ARMS:
        metrics = trained.arm_metrics[arm]
        truth = experiment.arm_tau("conversion", arm).mean()
        assert metrics["true_ate"] == pytest.approx(ArmView(trained, arm).holdout["tau"].mean())
        assert abs(metrics["true_ate"] - truth) < 0.01
        assert 0.5 < metrics["interval_coverage"] <= 1.0


def test_saved_and_loaded_every_arm_scores_the_same(trained, experiment, tmp_path):
    save_model(trained, "channels", models_dir=tmp_path)
    saved = load_model(tmp_path / "channels")
    assert saved.arms == ARMS
    sample = experiment.frame.head(200)
    for got, expected in zip(
        saved.effect_by_arm_with_interval(sample), trained.effect_by_arm_with_interval(sample), strict=True
    ):
        np.testing.assert_array_equal(got, expected)
    pd.testing.assert_frame_equal(saved.holdout, trained.holdout)
    pd.testing.assert_frame_equal(
        ArmView(saved, "email").deciles, trained.arm_deciles["email"], check_dtype=False
    )
    (entry,) = list_models(tmp_path)
    assert entry["arms"] == ARMS and set(entry["arm_qini"]) == set(ARMS)


def test_evaluating_a_saved_model_on_its_holdout_rows_repeats_training(trained, experiment):
    rows = score_arm_experiment(trained, experiment, "conversion")
    assert len(rows) == experiment.n_rows
    by_arm = evaluate_arms(trained, experiment, "conversion", n_boot=20)
    assert set(by_arm) == set(ARMS)
    view = arm_view_frame(rows, ARMS, "email")
    assert by_arm["email"]["n_rows"] == len(view)


def test_the_best_arm_is_the_largest_positive_uplift():
    uplift = np.array([[0.01, 0.03, -0.01], [-0.02, -0.01, -0.03], [0.0, 0.0, 0.002]])
    np.testing.assert_array_equal(best_arm(uplift, ARMS, "none"), ["social", "none", "display"])


def test_a_two_arm_table_cannot_be_scored_as_arms(trained):
    with pytest.raises(ImpactIQError, match="keeps those arms apart"):
        score_arm_experiment(trained, load_demo("hillstrom"), "visit")


def test_arms_whose_columns_would_collide_are_refused():
    from impactiq.uplift.arms import check_arm_names

    check_arm_names(("email", "social"))
    with pytest.raises(ImpactIQError, match="'email' and 'email_lower' would share"):
        check_arm_names(("email", "email_lower"))
