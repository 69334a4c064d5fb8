"""Workspaces: a visitor's data set and last model kept on the server, data only, under an unguessable id."""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd
import pytest

from impactiq.data.demo import load_demo
from impactiq.errors import ImpactIQError
from impactiq.evaluation.training import train_model
from impactiq.uplift import workspace
from impactiq.uplift.store import list_models, save_model
from impactiq.uplift.workspace import new_workspace, open_workspace


@pytest.fixture(scope="module")
def experiment():
    return load_demo("hillstrom", arm="separate", n_rows=3_000)


def test_the_data_set_comes_back_as_it_was(tmp_path, experiment):
    space = new_workspace(tmp_path)
    space.save_experiment(experiment, "uploaded file hillstrom.csv")
    restored, source = open_workspace(tmp_path, space.id).load_experiment()
    assert source == "uploaded file hillstrom.csv"
    pd.testing.assert_frame_equal(restored.frame, experiment.frame)
    np.testing.assert_array_equal(restored.t, experiment.t)
    np.testing.assert_array_equal(restored.arm, experiment.arm)
    assert restored.schema == experiment.schema and restored.arm_names == experiment.arm_names
    assert restored.name == experiment.name and restored.warnings == experiment.warnings


def test_the_last_model_comes_back_and_can_be_saved_under_a_name(tmp_path):
    data = load_demo("synthetic", n_rows=4_000)
    trained = train_model(data, outcome="visit", n_boot=20, params={"n_estimators": 40})
    space = new_workspace(tmp_path / "spaces")
    space.save_experiment(data, "demo")
    space.start_training("visit", "causal_forest")
    assert space.interrupted_training()["outcome"] == "visit"
    space.save_trained(trained)
    assert space.interrupted_training() is None
    kept = open_workspace(tmp_path / "spaces", space.id).load_trained()
    np.testing.assert_array_equal(kept.effect(data.X.head(50)), trained.effect(data.X.head(50)))
    save_model(kept, "from_workspace", models_dir=tmp_path / "models")
    assert [m["name"] for m in list_models(tmp_path / "models")] == ["from_workspace"]
    # A new data set replaces the last model: it belonged to the old data.
    space.save_experiment(data, "demo again")
    assert space.load_trained() is None


@pytest.mark.parametrize("bad", ["", "../../etc", "a" * 21, "a" * 23, "abc/defghijklmnopqrstuv", None])
def test_an_id_from_a_url_is_checked_before_it_names_a_folder(tmp_path, bad):
    new_workspace(tmp_path)
    assert open_workspace(tmp_path, bad) is None


def test_an_unknown_id_is_no_workspace(tmp_path):
    assert open_workspace(tmp_path, "A" * 22) is None


def test_stale_workspaces_are_removed_when_a_new_one_is_made(tmp_path):
    old = new_workspace(tmp_path)
    past = time.time() - (workspace.MAX_AGE_DAYS + 1) * 86_400
    os.utime(old.path, (past, past))
    fresh = new_workspace(tmp_path)
    assert not old.path.exists() and fresh.path.exists()


def test_a_damaged_workspace_says_so(tmp_path, experiment):
    space = new_workspace(tmp_path)
    space.save_experiment(experiment, "x")
    (space.path / "experiment.parquet").write_bytes(b"not parquet")
    with pytest.raises(ImpactIQError, match="cannot be read"):
        space.load_experiment()


def test_the_ids_are_long_and_random(tmp_path):
    ids = {new_workspace(tmp_path).id for _ in range(20)}
    assert len(ids) == 20 and all(len(i) == 22 for i in ids)


def test_a_pages_tables_come_back_and_replace_the_last_set(tmp_path):
    space = new_workspace(tmp_path)
    when = pd.to_datetime(["2024-01-01 10:00", "2024-01-02 11:00"]).tz_localize("Europe/Paris")
    first = {"touches": pd.DataFrame({"person": [1, 2], "timestamp": when, "channel": ["a", "b"]})}
    space.save_tables("journeys", first, {"source": "upload", "warnings": ["w"]})
    tables, about = space.load_tables("journeys")
    pd.testing.assert_frame_equal(tables["touches"], first["touches"])
    assert about == {"source": "upload", "warnings": ["w"]}
    space.save_tables("journeys", {"other": pd.DataFrame({"x": [1]})}, {"source": "demo"})
    tables, about = space.load_tables("journeys")
    assert list(tables) == ["other"] and about == {"source": "demo"}
    assert space.load_tables("nothing_here") is None


@pytest.mark.parametrize("name", ["../up", "Journeys", "a b", ""])
def test_section_and_table_names_are_file_names(tmp_path, name):
    space = new_workspace(tmp_path)
    with pytest.raises(ImpactIQError, match="cannot name kept work"):
        space.save_tables(name, {}, {})
    with pytest.raises(ImpactIQError, match="cannot name kept work"):
        space.save_tables("ok", {name: pd.DataFrame()}, {})
