"""Tests for the command line: train, score, evaluate and demo-model, end to end."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from impactiq import cli
from impactiq.data.synthetic import make_criteo_like
from impactiq.errors import ImpactIQError
from impactiq.uplift.store import delete_model, load_model

ROOT = Path(__file__).resolve().parent.parent
FAST_PARAMS = '{"n_estimators": 20, "min_samples_leaf": 20}'


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="module")
def criteo_csv(workdir):
    path = workdir / "train.csv"
    make_criteo_like(3_000, seed=5).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def trained_model(workdir, criteo_csv):
    out = workdir / "models" / "cli_forest"
    status = cli.main(
        ["train", "--data", str(criteo_csv), "--params", FAST_PARAMS, "--seed", "1", "--out", str(out)]
    )
    assert status == 0
    return out


@pytest.fixture(scope="module")
def fresh_csv(workdir):
    """Rows the model never saw, with the truth columns of synthetic data."""
    path = workdir / "fresh.csv"
    make_criteo_like(2_000, seed=6).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def mapped_csv(workdir):
    """A Hillstrom-like table: text treatment with an obvious control, a categorical feature."""
    rng = np.random.default_rng(3)
    n = 1_200
    treated = rng.random(n) < 0.5
    df = pd.DataFrame(
        {
            "segment": np.where(treated, "Mens E-Mail", "No E-Mail"),
            "recency": rng.integers(1, 13, n),
            "channel": rng.choice(["Web", "Phone", "Multichannel"], n),
            "visit": (rng.random(n) < 0.1 + 0.05 * treated).astype(int),
        }
    )
    path = workdir / "mapped.csv"
    df.to_csv(path, index=False)
    return path


def test_help_lists_every_command():
    result = subprocess.run(
        [sys.executable, "-m", "impactiq", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0
    for command in ("train", "score", "evaluate", "demo-model"):
        assert re.search(rf"^    {command}\s+(train|add|score) ", result.stdout, re.MULTILINE), result.stdout


def test_train_on_the_criteo_layout_needs_no_column_flags(trained_model, capsys):
    model = load_model(trained_model)
    assert (model.outcome, model.estimator, model.metadata["seed"]) == ("visit", "causal_forest", 1)
    assert model.metadata["params"]["n_estimators"] == 20


def test_train_prints_fit_time_and_holdout_qini_with_its_interval(workdir, criteo_csv, capsys):
    out = workdir / "models" / "seed2"
    args = ["train", "--data", str(criteo_csv), "--seed", "2", "--params", FAST_PARAMS, "--out", str(out)]
    assert cli.main(args) == 0
    printed = capsys.readouterr()
    qini = load_model(out).metrics["qini_auc_score"]
    assert (
        f"Holdout Qini AUC (scikit-uplift, 95% CI): {qini['estimate']:.4f} [{qini['lower']:.4f}, {qini['upper']:.4f}]"
        in printed.out
    )
    assert "fitting nuisance and effect models" in printed.err
    factor = load_model(out).data["interval_calibration"]["scale"][0]
    assert f"Interval width calibrated on a simulated twin: factor {factor:.2f}." in printed.out


def test_train_reports_each_stage_with_elapsed_time_and_repeats_a_long_one(
    workdir, criteo_csv, capsys, monkeypatch
):
    monkeypatch.setattr(cli, "PROGRESS_SECONDS", 0.1)
    out = workdir / "models" / "progress"
    args = ["train", "--data", str(criteo_csv), "--params", FAST_PARAMS, "--out", str(out)]
    assert cli.main(args) == 0
    lines = capsys.readouterr().err.splitlines()
    stages = [line for line in lines if not line.startswith(("warning", "still "))]
    assert [line.split(" · ")[0] for line in stages] == [
        "splitting holdout",
        "fitting nuisance and effect models",
        "calibrating intervals",
        "scoring holdout",
        "evaluating",
    ]
    assert all(
        re.search(r" · \d+s elapsed( · (about .+ left|almost done|longer than forecast))?$", line)
        for line in stages
    )
    assert any(re.match(r"still [a-z ]+ · \d+s elapsed", line) for line in lines)
    time.sleep(0.3)
    assert capsys.readouterr().err == "", "nothing is written after the command returns"


def test_train_auto_chooses_by_validation_loss_and_can_skip_calibration(workdir, criteo_csv, capsys):
    out = workdir / "models" / "auto"
    args = ["train", "--data", str(criteo_csv), "--estimator", "auto", "--no-calibration", "--out", str(out)]
    assert cli.main(args) == 0
    printed = capsys.readouterr().out
    model = load_model(out)
    selection = model.data["selection"]
    losses = {
        c["estimator"]: c["loss"] for c in selection["candidates"] if c["estimator"] != "average effect"
    }
    assert model.estimator == selection["chosen"] == min(losses, key=losses.get)
    assert "Chosen by 'auto' from 6 estimators" in printed
    assert "interval_calibration" not in model.data
    assert "The interval width is not calibrated: the model was trained with calibration off" in printed


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_score_adds_uplift_and_its_interval_to_every_row(trained_model, fresh_csv, workdir, suffix):
    out = workdir / f"scored{suffix}"
    assert (
        cli.main(["score", "--model", str(trained_model), "--data", str(fresh_csv), "--out", str(out)]) == 0
    )
    scored = pd.read_parquet(out) if suffix == ".parquet" else pd.read_csv(out)
    original = pd.read_csv(fresh_csv)
    assert list(scored.columns) == [*original.columns, "uplift", "uplift_lower", "uplift_upper"]
    model = load_model(trained_model)
    np.testing.assert_allclose(
        scored["uplift"], model.effect(original), rtol=1e-12 if suffix == ".parquet" else 1e-9
    )
    assert (scored["uplift_lower"] <= scored["uplift"]).all() and (
        scored["uplift"] <= scored["uplift_upper"]
    ).all()
    assert not any(p.name.endswith(".partial") for p in workdir.iterdir())


def test_score_scores_in_chunks_like_all_at_once(trained_model, fresh_csv, workdir, monkeypatch):
    monkeypatch.setattr(cli, "SCORE_CHUNK_ROWS", 300)
    out = workdir / "chunked.csv"
    assert (
        cli.main(["score", "--model", str(trained_model), "--data", str(fresh_csv), "--out", str(out)]) == 0
    )
    scored = pd.read_csv(out)
    assert len(scored) == 2_000
    np.testing.assert_allclose(
        scored["uplift"], load_model(trained_model).effect(pd.read_csv(fresh_csv)), rtol=1e-9
    )


def test_a_bad_value_far_down_is_named_by_its_row_in_the_file(
    trained_model, fresh_csv, workdir, monkeypatch, capsys
):
    """Seen: with chunks of 100 rows, a bad value in row 251 was reported as row 51 of its chunk."""
    monkeypatch.setattr(cli, "SCORE_CHUNK_ROWS", 100)
    table = pd.read_csv(fresh_csv)
    table["f0"] = table["f0"].astype(object)
    table.loc[250, "f0"] = "abc"
    bad = workdir / "bad_far_down.csv"
    table.to_csv(bad, index=False)
    out = workdir / "bad_far_down_scored.csv"
    assert cli.main(["score", "--model", str(trained_model), "--data", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "row 251 holds 'abc' (1 such rows)" in err, err
    assert not out.exists()


@pytest.mark.parametrize("command", ["evaluate", "segments"])
def test_a_file_coded_unlike_the_training_data_says_how_to_recode(
    command, trained_model, fresh_csv, workdir, capsys
):
    """Seen: "choose the treated values among these", advice for the app's mapping step, which
    the command line does not have."""
    table = pd.read_csv(fresh_csv)
    table["treatment"] = table["treatment"].map({1: "yes", 0: "no"})
    recoded = workdir / "yes_no.csv"
    table.to_csv(recoded, index=False)
    extra = ["--by", "persuadability"] if command == "segments" else []
    assert cli.main([command, "--model", str(trained_model), "--data", str(recoded), *extra]) == 2
    err = capsys.readouterr().err
    assert "No row of 'yes_no.csv' is in the treated arm: its 'treatment' holds 'no' and 'yes'" in err, err
    assert "The model reads 1 as treated and 0 as control; recode the column that way." in err
    assert "choose the" not in err


def test_evaluate_json_holds_every_score_with_its_interval(trained_model, fresh_csv, capsys):
    assert cli.main(["evaluate", "--model", str(trained_model), "--data", str(fresh_csv), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n_rows"] == 2_000
    for key in ("qini_auc_score", "uplift_auc_score", "ate", "naive_ate", "mean_uplift"):
        assert result[key]["lower"] <= result[key]["estimate"] <= result[key]["upper"]
    for strategy in ("overall", "by_group"):
        assert set(result["uplift_at_k"][strategy]["0.3"]) == {"estimate", "lower", "upper"}
    truth = make_criteo_like(2_000, seed=6)["tau_visit"].to_numpy(np.float64)
    assert result["true_ate"] == pytest.approx(truth.mean())
    assert 0 <= result["interval_coverage"] <= 1 and result["pehe"] > 0


def test_evaluate_prints_a_readable_summary(trained_model, fresh_csv, capsys):
    assert cli.main(["evaluate", "--model", str(trained_model), "--data", str(fresh_csv)]) == 0
    out = capsys.readouterr().out
    assert "Qini AUC:" in out and "95% CI" in out and "interval coverage" in out


def test_train_and_score_a_mapped_table_with_text_treatment_and_categories(workdir, mapped_csv, capsys):
    out = workdir / "models" / "mapped"
    args = [
        "train",
        "--data",
        str(mapped_csv),
        "--treatment",
        "segment",
        "--outcome",
        "visit",
        "--params",
        FAST_PARAMS,
    ]
    assert cli.main([*args, "--out", str(out)]) == 0
    assert "control: No E-Mail" in capsys.readouterr().err
    model = load_model(out)
    assert model.schema.categorical_features == ("channel",)
    profiles = pd.DataFrame({"recency": [3, 3], "channel": ["Web", "Phone"]})
    assert np.isfinite(model.effect(profiles)).all()
    with pytest.raises(ImpactIQError, match="'Fax' that the model never saw"):
        model.effect(pd.DataFrame({"recency": [3], "channel": ["Fax"]}))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--data", "{missing}", "--out", "{models}/m"], "There is no file"),
        (["train", "--data", "{mapped}", "--out", "{models}/m"], "not in the Criteo layout.*--treatment COL"),
        (
            ["train", "--data", "{mapped}", "--treatment", "segment", "--out", "{models}/m"],
            "--outcome is required",
        ),
        (
            [
                "train",
                "--data",
                "{mapped}",
                "--treatment",
                "segment",
                "--treated",
                "x",
                "--outcome",
                "visit",
                "--out",
                "{models}/m",
            ],
            "both --treated and --control",
        ),
        (
            ["train", "--data", "{criteo}", "--out", "{models}/bad name"],
            "model name 'bad name' is not allowed",
        ),
        (
            ["train", "--data", "{criteo}", "--outcome", "spend", "--out", "{models}/m"],
            "--outcome spend is not an outcome",
        ),
        (
            ["train", "--data", "{criteo}", "--out", "{models}/cli_forest"],
            "'cli_forest' already exists, so it was not replaced.*--replace",
        ),
        (
            ["score", "--model", "{models}/nothing", "--data", "{criteo}", "--out", "{models}/s.csv"],
            "no model folder",
        ),
        (
            ["score", "--model", "{models}/cli_forest", "--data", "{criteo}", "--out", "{models}/no/s.csv"],
            "does not exist",
        ),
        (
            ["evaluate", "--model", "{models}/cli_forest", "--data", "{mapped}"],
            "treatment column 'treatment' is not in",
        ),
        # Seen: the scored table replaced the input, and a file written into a model's folder
        # made the model refused as changed.
        (
            ["score", "--model", "{models}/cli_forest", "--data", "{criteo}", "--out", "{criteo}"],
            "is the input table itself",
        ),
        (
            [
                "score",
                "--model",
                "{models}/cli_forest",
                "--data",
                "{criteo}",
                "--out",
                "{models}/cli_forest/s.csv",
            ],
            "inside the saved model folder",
        ),
        # Seen: '.csv.gz' and '.xlsx' got plain CSV under their names.
        (
            ["score", "--model", "{models}/cli_forest", "--data", "{criteo}", "--out", "{models}/s.csv.gz"],
            "must end in .csv or .parquet",
        ),
    ],
)
def test_bad_input_exits_with_status_2_and_a_clear_message(
    args, message, workdir, criteo_csv, mapped_csv, trained_model, capsys
):
    paths = {
        "missing": workdir / "missing.csv",
        "mapped": mapped_csv,
        "criteo": criteo_csv,
        "models": workdir / "models",
    }
    argv = [a.format(**paths) for a in args]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    assert re.search(message, err), err


def test_demo_model_is_skipped_when_up_to_date(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "DEMO_ROWS", 2_000)
    monkeypatch.setattr(cli, "DEMO_PARAMS", {"n_estimators": 20, "min_samples_leaf": 20})
    out = tmp_path / "models" / "demo"
    assert cli.main(["demo-model", "--out", str(out)]) == 0
    first = (out / "metadata.json").read_text()
    assert "Saved to" in capsys.readouterr().out
    assert cli.main(["demo-model", "--out", str(out)]) == 0
    assert "up to date" in capsys.readouterr().out
    assert (out / "metadata.json").read_text() == first


def test_an_existing_model_is_replaced_only_with_replace(workdir, criteo_csv, capsys):
    out = workdir / "models" / "replaced"
    args = ["train", "--data", str(criteo_csv), "--params", FAST_PARAMS, "--out", str(out)]
    assert cli.main([*args, "--seed", "1"]) == 0
    first = out.resolve()
    assert cli.main([*args, "--seed", "2"]) == 2
    assert "already exists" in capsys.readouterr().err and out.resolve() == first
    assert cli.main([*args, "--seed", "2", "--replace"]) == 0
    assert out.resolve() != first and not first.exists()
    assert load_model(out).metadata["seed"] == 2


def test_demo_model_never_replaces_a_model_of_other_data(workdir, trained_model, monkeypatch, capsys):
    """Seen: demo-model pointed at a user's model retrained it on the demo data and replaced it."""
    monkeypatch.setattr(cli, "DEMO_ROWS", 2_000)
    monkeypatch.setattr(cli, "DEMO_PARAMS", {"n_estimators": 20, "min_samples_leaf": 20})
    before = (trained_model / "metadata.json").read_text()
    assert cli.main(["demo-model", "--out", str(trained_model)]) == 2
    err = capsys.readouterr().err
    assert "not the demo data, so it is not replaced" in err
    assert (trained_model / "metadata.json").read_text() == before


@pytest.mark.parametrize("command", ["train", "demo-model"])
def test_a_model_path_inside_a_file_is_refused_before_training(command, criteo_csv, capsys):
    """Seen: train ran to the end, then failed with NotADirectoryError on 'train.csv/.store'."""
    args = [command, "--out", f"{criteo_csv}/m"]
    if command == "train":
        args += ["--data", str(criteo_csv)]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert "is a file, not a folder" in err and "Traceback" not in err


def test_demo_model_comes_back_after_it_was_deleted(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "DEMO_ROWS", 2_000)
    monkeypatch.setattr(cli, "DEMO_PARAMS", {"n_estimators": 20, "min_samples_leaf": 20})
    out = tmp_path / "models" / "demo"
    assert cli.main(["demo-model", "--out", str(out)]) == 0
    delete_model(out)
    assert cli.main(["demo-model", "--out", str(out)]) == 0
    assert "Saved to" in capsys.readouterr().out
    load_model(out)


@pytest.mark.slow
def test_demo_model_recovers_the_true_effects_of_the_synthetic_data(tmp_path, capsys):
    """The real demo model (default estimator, 50,000 rows): its holdout estimates against tau."""
    out = tmp_path / "models" / "demo"
    assert cli.main(["demo-model", "--out", str(out)]) == 0
    model = load_model(out)
    scores, holdout = model.metrics, model.holdout
    assert scores["ate"]["lower"] <= scores["true_ate"] <= scores["ate"]["upper"]
    assert abs(scores["ate_error"]) < 0.002
    # Better than giving everyone the average effect, and ranked in the right direction.
    assert scores["pehe"] < holdout["tau"].std(ddof=0)
    assert np.corrcoef(holdout["uplift"], holdout["tau"])[0, 1] > 0.3
    assert scores["qini_auc_score"]["estimate"] > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--data", "x.csv", "--seed", "-1", "--out", "m"], "--seed: must be from 0 to 4294967295"),
        (["segments", "--model", "m", "--data", "x.csv", "--seed", "4294967296"], "--seed: must be from 0"),
        (["train", "--data", "x.csv", "--test-size", "nan", "--out", "m"], "--test-size: must lie strictly"),
        (
            ["attribute", "--touchpoints", "t.csv", "--conversions", "c.csv", "--lookback", "inf"],
            "--lookback: must be a finite number above 0",
        ),
    ],
)
def test_numbers_out_of_range_are_refused_before_any_work(args, message, capsys):
    """Seen: tracebacks from NumPy, scikit-learn and an integer overflow for these values."""
    with pytest.raises(SystemExit) as stopped:
        cli.main(args)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_file_that_cannot_be_written_is_named_without_a_traceback(trained_model, fresh_csv, capsys):
    """Seen: PermissionError tracebacks for an output folder that cannot be written. /proc takes
    no new files, even from root."""
    args = ["score", "--model", str(trained_model), "--data", str(fresh_csv), "--out", "/proc/scored.csv"]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    assert "/proc" in err and ("cannot read or write" in err or "cannot be written" in err)


def test_a_score_log_that_cannot_be_written_is_one_line(monkeypatch, capsys):
    """Seen: a sqlite3.OperationalError traceback (a locked or full log) from the stream command."""
    import sqlite3

    def locked(args):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(cli, "build_parser", _parser_running(locked))
    assert cli.main(["stream", "--model", "m", "--kafka", "k:9092", "--in", "a", "--out", "b"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the score log could not be written (database is locked)")


def _parser_running(command):
    """The real parser, with every subcommand running `command` instead."""
    real = cli.build_parser

    def build():
        parser = real()
        for action in parser._subparsers._group_actions:
            for sub in action.choices.values():
                sub.set_defaults(command=command)
        return parser

    return build
