"""Tests for impactiq.uplift.store: atomic saving, hash-checked loading, listing and deleting."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from impactiq.data.experiment import prepare_experiment
from impactiq.data.synthetic import make_criteo_like
from impactiq.errors import ImpactIQError
from impactiq.evaluation.training import train_model
from impactiq.uplift import store
from impactiq.uplift.store import (
    ARTIFACT_FILES,
    FORMAT_VERSION,
    delete_model,
    library_versions,
    list_models,
    load_model,
    save_model,
)

FAST = {"estimator": "causal_forest", "params": {"n_estimators": 20, "min_samples_leaf": 20}}
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def raw():
    return make_criteo_like(3_000, seed=4)


@pytest.fixture(scope="module")
def trained(raw):
    return train_model(prepare_experiment(raw), outcome="visit", seed=2, n_boot=20, **FAST)


@pytest.fixture
def models_dir(tmp_path):
    return tmp_path / "models"


@pytest.fixture
def saved(trained, models_dir):
    return save_model(trained, "forest", models_dir=models_dir)


def _leftovers(models_dir: Path) -> list[str]:
    return sorted(p.name for p in models_dir.iterdir() if p.name.startswith("."))


def test_round_trip_gives_the_same_effects_intervals_and_holdout(trained, saved, raw):
    """Prediction equality is checked to 1e-12 rather than bit for bit: a forest predicting on
    several threads sums its trees in an order that can differ between runs (about 1e-16)."""
    model = load_model(saved)
    np.testing.assert_allclose(model.effect(raw), trained.effect(raw), rtol=0, atol=1e-12)
    for got, expected in zip(
        model.effect_interval(raw, alpha=0.1), trained.effect_interval(raw, alpha=0.1), strict=True
    ):
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    for got, expected in zip(model.predict_outcomes(raw), trained.predict_outcomes(raw), strict=True):
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    pd.testing.assert_frame_equal(model.holdout, trained.holdout)
    assert model.schema == trained.schema
    assert (model.name, model.outcome, model.estimator, model.has_intervals) == (
        "forest",
        "visit",
        "causal_forest",
        True,
    )
    assert model.metrics == json.loads(json.dumps(store.json_ready(trained.metrics)))
    pd.testing.assert_frame_equal(model.deciles, trained.deciles, check_dtype=False)
    assert model.warnings == []


def test_metadata_records_what_is_needed_to_trust_the_model(saved, trained):
    metadata = json.loads((saved / "metadata.json").read_text())
    for key in (
        "schema",
        "outcome",
        "treatment",
        "estimator",
        "params",
        "interval_method",
        "metrics",
        "features",
        "data",
        "versions",
        "fit",
        "seed",
        "created",
        "files",
    ):
        assert key in metadata
    assert metadata["versions"] == library_versions()
    assert metadata["data"]["fingerprint"] == trained.data["fingerprint"]
    assert metadata["treatment"]["treated_values"] == [1]
    assert metadata["fit"]["seconds"] > 0 and metadata["fit"]["peak_rss_mb"] > 0
    assert metadata["created"].endswith("+00:00")
    for name in ("model.joblib", "holdout.parquet"):
        assert metadata["files"][name]["sha256"] == store.file_sha256(saved / name)
    assert sorted(p.name for p in saved.iterdir()) == sorted(ARTIFACT_FILES)


def test_scoring_picks_features_by_name_and_names_missing_ones(saved, raw):
    model = load_model(saved)
    shuffled = raw[["visit", *reversed([f"f{i}" for i in range(12)])]]
    np.testing.assert_allclose(model.effect(shuffled), model.effect(raw), rtol=0, atol=1e-12)
    with pytest.raises(ImpactIQError, match="lacks the feature column.*'f3', 'f7'"):
        model.effect(raw.drop(columns=["f3", "f7"]))


def test_a_tampered_model_file_is_refused_before_unpickling(saved, monkeypatch):
    path = saved / "model.joblib"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    monkeypatch.setattr(joblib, "load", lambda *a, **k: pytest.fail("unpickled a tampered file"))
    with pytest.raises(
        ImpactIQError, match="model.joblib does not match the hash recorded when it was saved"
    ):
        load_model(saved)


def test_a_tampered_holdout_is_refused_when_first_read(saved):
    model = load_model(saved)
    with (saved / "holdout.parquet").open("ab") as handle:
        handle.write(b"x")
    with pytest.raises(ImpactIQError, match="holdout.parquet does not match the hash"):
        _ = model.holdout


def test_changed_library_versions_give_a_warning(saved):
    metadata_path = saved / "metadata.json"
    metadata = json.loads(metadata_path.read_text())
    metadata["versions"]["scikit-learn"] = "0.0.1"
    metadata_path.write_text(json.dumps(metadata))
    model = load_model(saved)
    assert len(model.warnings) == 1 and "scikit-learn 0.0.1 (installed: " in model.warnings[0]


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda d: None, "There is no model folder"),
        (lambda d: d.mkdir(parents=True), "has no metadata.json"),
        (lambda d: (d.mkdir(parents=True), (d / "metadata.json").write_text("{oops")), "not valid JSON"),
        (lambda d: (d.mkdir(parents=True), (d / "metadata.json").write_text('{"format": 99}')), "format 99"),
        (
            lambda d: (d.mkdir(parents=True), (d / "metadata.json").write_text('{"format": 2}')),
            "lacks the entries name",
        ),
    ],
)
def test_load_model_refuses_folders_that_are_not_saved_models(models_dir, setup, message):
    folder = models_dir / "broken"
    setup(folder)
    with pytest.raises(ImpactIQError, match=message):
        load_model(folder)


@pytest.mark.parametrize("name", ["", "a/b", "../up", "x" * 65, "with space", ".hidden", "né", None])
def test_save_model_refuses_bad_names(trained, models_dir, name):
    with pytest.raises(ImpactIQError, match="model name .* is not allowed"):
        save_model(trained, name, models_dir=models_dir)
    assert not models_dir.exists() or not any(models_dir.iterdir())


@pytest.mark.parametrize("name", ["a", "Visit_forest-2", "x" * 64])
def test_save_model_accepts_good_names(trained, models_dir, name):
    assert save_model(trained, name, models_dir=models_dir) == models_dir / name


def test_a_failing_save_leaves_no_folder_behind(trained, models_dir, monkeypatch):
    def failing_dump(value, filename):
        Path(filename).write_bytes(b"half a pickle")
        raise OSError("disk full")

    monkeypatch.setattr(joblib, "dump", failing_dump)
    with pytest.raises(OSError, match="disk full"):
        save_model(trained, "forest", models_dir=models_dir)
    assert list(models_dir.iterdir()) == []


def test_a_failing_replacement_keeps_the_old_model(trained, saved, models_dir, monkeypatch):
    def failing_to_parquet(frame, path, **kwargs):
        raise OSError("disk full")

    before = (saved / "metadata.json").read_text()
    monkeypatch.setattr(pd.DataFrame, "to_parquet", failing_to_parquet)
    with pytest.raises(OSError, match="disk full"):
        save_model(trained, "forest", models_dir=models_dir)
    assert (saved / "metadata.json").read_text() == before
    load_model(saved)
    assert _leftovers(models_dir) == []


def test_saving_again_replaces_the_model_completely(trained, saved, models_dir):
    (saved / "metadata.json").write_text(json.dumps({"format": 2, "stale": True}))
    save_model(trained, "forest", models_dir=models_dir)
    assert "stale" not in json.loads((saved / "metadata.json").read_text())
    load_model(saved)
    assert _leftovers(models_dir) == []


def test_save_model_does_not_replace_a_folder_it_did_not_write(trained, models_dir):
    (models_dir / "notes").mkdir(parents=True)
    (models_dir / "notes" / "todo.txt").write_text("keep me")
    with pytest.raises(ImpactIQError, match="not an ImpactIQ model folder"):
        save_model(trained, "notes", models_dir=models_dir)
    assert (models_dir / "notes" / "todo.txt").read_text() == "keep me"


def _set_created(folder: Path, created: str) -> None:
    path = folder / "metadata.json"
    metadata = json.loads(path.read_text())
    metadata["created"] = created
    path.write_text(json.dumps(metadata))


def test_list_models_lists_newest_first_then_broken_folders(trained, models_dir):
    for name, created in (("older", "2026-01-01T00:00:00+00:00"), ("newer", "2026-02-01T00:00:00+00:00")):
        _set_created(save_model(trained, name, models_dir=models_dir), created)
    (models_dir / "broken").mkdir()
    (models_dir / ".newer.saving-123").mkdir()  # an unfinished save is not a model
    listed = list_models(models_dir)
    assert [m["name"] for m in listed] == ["newer", "older", "broken"]
    assert listed[0]["qini"] == trained.metrics["qini_auc_score"]["estimate"]
    assert (listed[0]["estimator"], listed[0]["outcome"], listed[0]["rows"], listed[0]["error"]) == (
        "causal_forest",
        "visit",
        3_000,
        None,
    )
    assert "has no metadata.json" in listed[2]["error"]


def test_list_models_of_a_missing_folder_is_empty(tmp_path):
    assert list_models(tmp_path / "nothing") == []


def test_delete_model_removes_the_folder(saved, models_dir):
    delete_model(saved)
    assert not saved.exists()
    assert list(models_dir.iterdir()) == []


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda d: None, "no model folder"),
        (lambda d: (d.mkdir(parents=True), (d / "thesis.docx").write_text("x")), "holds files other than"),
    ],
)
def test_delete_model_refuses_what_is_not_a_model_folder(models_dir, setup, message):
    folder = models_dir / "other"
    setup(folder)
    with pytest.raises(ImpactIQError, match=message):
        delete_model(folder)


def test_import_impactiq_stays_light_and_loads_models_lazily(saved):
    code = (
        "import sys, impactiq\n"
        "assert not any(m.startswith(('econml', 'lightgbm', 'sklearn', 'streamlit')) for m in sys.modules)\n"
        "from impactiq import load_model\n"
        f"model = load_model({str(saved)!r})\n"
        "print(type(model).__name__)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "SavedModel"


def test_a_model_saved_in_an_older_format_is_refused_with_a_fix(saved):
    metadata = json.loads((saved / "metadata.json").read_text())
    (saved / "metadata.json").write_text(json.dumps({**metadata, "format": FORMAT_VERSION - 1}))
    with pytest.raises(ImpactIQError, match="Retrain the model"):
        load_model(saved)
