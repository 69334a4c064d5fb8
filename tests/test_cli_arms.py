"""The command line with a multi-arm experiment: train --arms, then score, evaluate and segments per arm."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from impactiq import cli
from impactiq.data.multichannel import make_multichannel
from impactiq.uplift.store import load_model

FAST = '{"n_estimators": 40}'
ARMS = ["email", "social", "display"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("cli_arms")


@pytest.fixture(scope="module")
def channels_csv(workdir):
    path = workdir / "channels.csv"
    make_multichannel(8_000, seed=4).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def model(workdir, channels_csv):
    out = workdir / "models" / "channels"
    args = ["train", "--data", str(channels_csv), "--treatment", "channel", "--control", "none", "--outcome"]
    assert cli.main([*args, "conversion", "--arms", *ARMS, "--params", FAST, "--out", str(out)]) == 0
    return out


def test_train_with_arms_saves_a_multi_arm_model_and_reports_each_arm(model, capsys):
    saved = load_model(model)
    assert saved.arms == tuple(ARMS)
    assert set(saved.arm_metrics) == set(ARMS)


def test_score_writes_every_arm_and_the_best_one(model, channels_csv, workdir):
    out = workdir / "scored.csv"
    assert cli.main(["score", "--model", str(model), "--data", str(channels_csv), "--out", str(out)]) == 0
    scored = pd.read_csv(out)
    for arm in ARMS:
        for suffix in ("", "_lower", "_upper"):
            assert f"uplift_{arm}{suffix}" in scored.columns
        assert (scored[f"uplift_{arm}_lower"] <= scored[f"uplift_{arm}"]).all()
    uplift = scored[[f"uplift_{arm}" for arm in ARMS]].to_numpy()
    expected = np.where(uplift.max(axis=1) > 0, np.array(ARMS, dtype=object)[uplift.argmax(axis=1)], "none")
    np.testing.assert_array_equal(scored["best_arm"].to_numpy(), expected)


def test_evaluate_json_reports_every_arm_against_control(model, channels_csv, capsys):
    capsys.readouterr()
    assert cli.main(["evaluate", "--model", str(model), "--data", str(channels_csv), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["arms"]) == set(ARMS)
    for scores in result["arms"].values():
        assert {"estimate", "lower", "upper"} <= set(scores["qini_auc_score"])
        assert "true_ate" in scores  # the synthetic truth of that arm


def test_train_auto_with_arms_compares_the_estimators_of_several_arms(workdir, channels_csv, capsys):
    out = workdir / "models" / "auto"
    args = ["train", "--data", str(channels_csv), "--treatment", "channel", "--control", "none", "--outcome"]
    argv = [
        *args,
        "conversion",
        "--arms",
        *ARMS,
        "--estimator",
        "auto",
        "--no-calibration",
        "--out",
        str(out),
    ]
    assert cli.main(argv) == 0
    assert "Chosen by 'auto' from 4 estimators" in capsys.readouterr().out
    assert cli.main(["evaluate", "--model", str(out), "--data", str(channels_csv), "--json"]) == 0
    selection = json.loads(capsys.readouterr().out)["selection"]
    fitted = [c for c in selection["candidates"] if c["arms"]]
    assert {c["estimator"] for c in fitted} == {"causal_forest", "dr", "t_learner", "s_learner"}
    assert all(set(c["arms"]) == set(ARMS) for c in fitted)
    assert load_model(out).estimator == selection["chosen"]


def test_segments_json_reports_every_arm(model, channels_csv, capsys):
    capsys.readouterr()
    argv = ["segments", "--model", str(model), "--data", str(channels_csv), "--by", "device", "--json"]
    assert cli.main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["arms"]) == set(ARMS)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--arms", "email", "social"], "--arms needs --control"),
        (["--arms", "email", "--control", "none"], "two or more treated values"),
        (["--arms", "email", "social", "--treated", "display", "--control", "none"], "replaces --treated"),
        (["--arms", "email", "email", "--control", "none"], "named once"),
    ],
)
def test_arm_flags_that_do_not_fit_are_explained(channels_csv, workdir, extra, message, capsys):
    argv = ["train", "--data", str(channels_csv), "--treatment", "channel", "--outcome", "conversion", *extra]
    assert cli.main([*argv, "--out", str(workdir / "models" / "bad")]) == 2
    assert message in capsys.readouterr().err


def test_arms_without_a_treatment_column_are_refused(workdir, capsys):
    from impactiq.data.synthetic import make_criteo_like

    criteo = workdir / "criteo.csv"
    make_criteo_like(2_000, seed=1).to_csv(criteo, index=False)
    argv = ["train", "--data", str(criteo), "--arms", "1", "2", "--out", str(workdir / "models" / "x")]
    assert cli.main(argv) == 2
    assert "--arms need --treatment" in capsys.readouterr().err
