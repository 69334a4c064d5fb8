"""The command line's `report` (a saved model as one HTML file) and the validation `evaluate` adds."""

from __future__ import annotations

import json
import re

import pytest

from impactiq import cli
from impactiq.data.multichannel import make_multichannel
from impactiq.data.synthetic import make_criteo_like

FAST_PARAMS = '{"n_estimators": 20, "min_samples_leaf": 20}'


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("cli_report")


@pytest.fixture(scope="module")
def model(workdir):
    data = workdir / "train.csv"
    make_criteo_like(3_000, seed=5).to_csv(data, index=False)
    out = workdir / "models" / "report_forest"
    assert cli.main(["train", "--data", str(data), "--params", FAST_PARAMS, "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def fresh_csv(workdir):
    path = workdir / "fresh.csv"
    make_criteo_like(2_000, seed=6).to_csv(path, index=False)
    return path


def _strict_json(text: str) -> dict:
    """JSON as `allow_nan=False` writes it: NaN or Infinity anywhere is an error."""

    def refuse(constant):
        raise ValueError(f"{constant} in the JSON")

    return json.loads(text, parse_constant=refuse)


def test_report_writes_a_self_contained_html_file(model, workdir, capsys):
    out = workdir / "report.html"
    assert cli.main(["report", "--model", str(model), "--out", str(out)]) == 0
    document = out.read_text(encoding="utf-8")
    assert document.startswith("<!DOCTYPE html>")
    assert "causal_forest" in document and "report_forest" in document
    assert document.count("window.vegaEmbed=") == 1  # the bundle, inline
    assert not re.search(r"<script[^>]*\bsrc\s*=", document)
    printed = capsys.readouterr().out
    assert f"to {out}" in printed and "KB" in printed
    assert [p.name for p in workdir.iterdir() if p.name.endswith(".partial")] == []


@pytest.mark.parametrize(
    ("model_path", "out_path", "message"),
    [
        ("models/nothing", "r.html", "no model folder"),
        ("models/report_forest", "missing/r.html", "The folder '.*missing' for --out does not exist"),
        ("models/report_forest", "models", "is a folder"),
    ],
)
def test_report_refuses_bad_paths_with_status_2_and_a_message(
    model, workdir, model_path, out_path, message, capsys
):
    out = workdir / out_path
    assert cli.main(["report", "--model", str(workdir / model_path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    assert re.search(message, err), err
    assert not (workdir / "r.html").exists()


def test_evaluate_json_adds_the_validation_and_the_stored_calibration(model, fresh_csv, capsys):
    capsys.readouterr()
    assert cli.main(["evaluate", "--model", str(model), "--data", str(fresh_csv), "--json"]) == 0
    result = _strict_json(capsys.readouterr().out)
    validation = result["validation"]
    blp = validation["best_linear_predictor"]
    assert blp["slope"]["lower"] <= blp["slope"]["estimate"] <= blp["slope"]["upper"]
    assert blp["n"] == 2_000
    assert {"group", "n", "predicted", "observed", "observed_lower", "observed_upper"} <= set(
        validation["calibration"][0]
    )
    assert sum(group["n"] for group in validation["calibration"]) == 2_000
    autoc = validation["targeting"]["autoc"]
    assert autoc["lower"] <= autoc["estimate"] <= autoc["upper"]
    assert len(validation["targeting"]["toc"]) == 20
    # What training stored: a calibrated forest, trained without comparison or refutation.
    assert len(result["interval_calibration"]["scale"]) == 1
    assert "selection" not in result and "refutation" not in result
    # The scores `evaluate` always printed are still there.
    assert result["qini_auc_score"]["lower"] <= result["qini_auc_score"]["estimate"]


def test_evaluate_prints_the_heterogeneity_verdict_and_the_autoc(model, fresh_csv, capsys):
    capsys.readouterr()
    assert cli.main(["evaluate", "--model", str(model), "--data", str(fresh_csv)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"Heterogeneity \(BLP\): .*best linear predictor slope -?\d\.\d{4} \[", out), out
    pp = r"[+-]\d+\.\d\d pp"
    assert re.search(rf"Targeting \(AUTOC\): +{pp} \[{pp}, {pp}\]", out), out


def test_evaluate_json_validates_every_arm_of_a_multi_arm_model(workdir, capsys):
    data = workdir / "channels.csv"
    make_multichannel(3_000, seed=4).to_csv(data, index=False)
    out = workdir / "models" / "channels"
    args = ["train", "--data", str(data), "--treatment", "channel", "--control", "none", "--outcome"]
    arms = ["email", "social", "display"]
    argv = [*args, "conversion", "--arms", *arms, "--estimator", "t_learner", "--out", str(out)]
    assert cli.main(argv) == 0
    capsys.readouterr()
    assert cli.main(["evaluate", "--model", str(out), "--data", str(data), "--json"]) == 0
    result = _strict_json(capsys.readouterr().out)
    assert set(result["arms"]) == set(arms)
    for scores in result["arms"].values():
        assert set(scores["validation"]) == {"best_linear_predictor", "calibration", "targeting"}
        assert "qini_auc_score" in scores
    assert len(result["interval_calibration"]["scale"]) == 3
    report = workdir / "channels.html"
    assert cli.main(["report", "--model", str(out), "--out", str(report)]) == 0
    assert report.read_text(encoding="utf-8").count("<h2>Holdout evidence") == 3


def test_help_lists_the_report_command(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert re.search(r"^    report\s+write a saved model's report", capsys.readouterr().out, re.MULTILINE)
