"""Tests for `python -m impactiq segments`: JSON and markdown output, allocation, errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from impactiq import cli
from impactiq.data.demo import HILLSTROM_FILE
from impactiq.data.reader import read_table

FAST_PARAMS = '{"n_estimators": 20, "min_samples_leaf": 20}'


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("cli_segments")


@pytest.fixture(scope="module")
def tables(workdir):
    """Two disjoint 3,000-row samples of the real Hillstrom file: one to train on, one to segment."""
    frame = read_table(HILLSTROM_FILE, max_bytes=None).sample(6_000, random_state=1).reset_index(drop=True)
    paths = workdir / "train.csv", workdir / "fresh.csv"
    frame.iloc[:3_000].to_csv(paths[0], index=False)
    frame.iloc[3_000:].to_csv(paths[1], index=False)
    return paths


@pytest.fixture(scope="module")
def model(workdir, tables):
    out = workdir / "models" / "visit"
    args = ["train", "--data", str(tables[0]), "--treatment", "segment", "--outcome", "visit"]
    args += ["--control", "No E-Mail", "--treated", "Mens E-Mail", "Womens E-Mail"]
    args += ["--features", "recency", "history", "newbie", "zip_code", "channel", "--params", FAST_PARAMS]
    assert cli.main([*args, "--out", str(out)]) == 0
    return out


def _segments_json(capsys, model, data, *extra) -> dict:
    status = cli.main(["segments", "--model", str(model), "--data", str(data), *extra, "--json"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    return json.loads(captured.out)


def test_segments_json_parses_and_matches_the_data(capsys, model, tables):
    result = _segments_json(capsys, model, tables[1], "--by", "channel", "--cost", "0.5", "--value", "12")
    fresh = pd.read_csv(tables[1])
    assert result["rows"] == len(fresh) and result["outcome"] == "visit"
    table = pd.DataFrame(result["segments"]).set_index("segment")
    assert table["users"].sum() == len(fresh)
    web = fresh[fresh["channel"] == "Web"]
    treated = web.loc[web["segment"] != "No E-Mail", "visit"]
    control = web.loc[web["segment"] == "No E-Mail", "visit"]
    assert table.loc["Web", "observed_uplift"] == pytest.approx(treated.mean() - control.mean())
    assert table.loc["Web", "credited"] == treated.sum()
    # Default budget: 30% of the rows at the given cost.
    assert result["budget"] == pytest.approx(0.3 * len(fresh) * 0.5)
    assert result["contacts"] == 900
    plans = pd.DataFrame(result["allocation"]["plans"]).set_index("plan")
    assert (plans.loc[["traditional", "causal"], "contacts"] <= result["contacts"]).all()
    assert [s["strategy"] for s in result["strategies"]] == ["random", "response", "uplift"]
    assert "observed_uplift" in result["definitions"]


@pytest.mark.parametrize(("by", "count"), [("kmeans:3", 3), ("uplift:4", 4), ("newbie", 2)])
def test_segments_json_for_each_segmentation(capsys, model, tables, by, count):
    result = _segments_json(capsys, model, tables[1], "--by", by, "--budget", "50")
    assert len(result["segments"]) == count
    assert result["contacts"] == 500  # 50 at the default cost of 0.1 per contact
    assert (result["profiles"] is not None) == by.startswith("kmeans")


def test_persuadability_uses_the_models_thresholds(capsys, model, tables):
    result = _segments_json(capsys, model, tables[1], "--by", "persuadability")
    classes = {s["segment"] for s in result["segments"]}
    assert classes <= {"persuadable", "sure thing", "lost cause", "do-not-disturb"}
    assert sum(s["users"] for s in result["segments"]) == 3_000


def test_segments_prints_markdown_without_json(capsys, model, tables):
    assert cli.main(["segments", "--model", str(model), "--data", str(tables[1]), "--by", "zip_code"]) == 0
    out = capsys.readouterr().out
    assert "## Segments by zip_code" in out
    assert "| segment | users |" in out
    assert "| Surburban |" in out
    assert "## Targeting strategies" in out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--by", "kmeans:99"], "kmeans"),
        (["--by", "segment"], "not a feature"),
        (["--by", "channel", "--cost", "0"], "cost per contact"),
        (["--by", "channel", "--budget", "-5"], "budget"),
    ],
)
def test_segments_user_errors_exit_with_status_2(capsys, model, tables, extra, message):
    status = cli.main(["segments", "--model", str(model), "--data", str(tables[1]), *extra])
    assert status == cli.EXIT_USER_ERROR
    assert message in capsys.readouterr().err


def test_segments_needs_the_models_outcome(capsys, model, workdir, tables):
    path = workdir / "no_visit.csv"
    pd.read_csv(tables[1]).drop(columns="visit").to_csv(path, index=False)
    assert cli.main(["segments", "--model", str(model), "--data", str(path), "--by", "channel"]) == 2
    assert "visit" in capsys.readouterr().err
