"""Tampered and damaged model folders: opening a page or the command line never runs their code.

Each folder below has its hashes rewritten to match, as someone who can write the models folder
would do. The pages list them apart as broken, never load them, and show no exception; a
marker file that the payload would create stays absent.
"""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from impactiq import cli
from impactiq.uplift import store
from pages import common

APP = "../../streamlit_app.py"


class _Payload:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _rehash(folder: Path) -> None:
    path = folder / "metadata.json"
    metadata = json.loads(path.read_text())
    metadata["files"] = {
        name: {"sha256": store.file_sha256(folder / name), "bytes": (folder / name).stat().st_size}
        for name in store.MODEL_FILES
    }
    path.write_text(json.dumps(metadata))


@pytest.fixture(scope="module")
def hostile_dir(tmp_path_factory, models_dir, saved_model_name) -> tuple[Path, Path]:
    """A models folder with one good model and four hostile ones, and the payloads' marker."""
    root = tmp_path_factory.mktemp("hostile") / "models"
    marker = root.parent / "payload-ran"
    good = store.load_model(models_dir / saved_model_name)
    root.mkdir()
    shutil.copytree(good.path.resolve(), root / "good")

    def copy(name: str) -> Path:
        return Path(shutil.copytree(good.path.resolve(), root / name))

    folder = copy("pickled_arrays")
    np.savez(folder / "model.npz", **{"forest.roots": np.array([_Payload(marker)], dtype=object)})
    _rehash(folder)
    folder = copy("pickled_holdout")
    (folder / "holdout.parquet").write_bytes(pickle.dumps(_Payload(marker)))
    _rehash(folder)
    folder = copy("extra_file")
    (folder / "model.joblib").write_bytes(pickle.dumps(_Payload(marker)))
    legacy = root / "old_pickle"
    legacy.mkdir()
    (legacy / "model.joblib").write_bytes(pickle.dumps(_Payload(marker)))
    (legacy / "holdout.parquet").write_bytes(b"")
    digest = store.file_sha256(legacy / "model.joblib")
    (legacy / "metadata.json").write_text(
        json.dumps({"format": 2, "files": {"model.joblib": {"sha256": digest}}})
    )
    return root, marker


HOSTILE = ["pickled_arrays", "pickled_holdout", "extra_file", "old_pickle"]


def test_hostile_models_are_listed_broken(hostile_dir):
    root, marker = hostile_dir
    listed = {m["name"]: m["error"] for m in store.list_models(root)}
    assert listed["good"] is None
    assert all(listed[name] for name in HOSTILE)
    assert not marker.exists()


@pytest.mark.parametrize("page", ["pages/simulator.py", "pages/segments.py", "pages/train.py"])
@pytest.mark.parametrize("linked", [None, *HOSTILE])
def test_opening_a_page_never_loads_a_hostile_model(hostile_dir, monkeypatch, page, linked):
    root, marker = hostile_dir
    monkeypatch.setenv("IMPACTIQ_MODELS_DIR", str(root))
    monkeypatch.setattr(common, "MODELS_DIR", str(root))
    at = AppTest.from_file(APP, default_timeout=180)
    at.switch_page(page)
    if linked is not None:
        at.query_params["model"] = linked
    at.run()
    assert not at.exception, at.exception
    model_boxes = [box for box in at.selectbox if box.label == "Model"]
    if page != "pages/train.py":
        assert model_boxes[0].value == "good" and model_boxes[0].options == ["good"]
    assert not marker.exists()


@pytest.mark.parametrize("name", HOSTILE)
def test_the_command_line_refuses_a_hostile_model(hostile_dir, tmp_path, name, capsys):
    root, marker = hostile_dir
    data = tmp_path / "rows.csv"
    store.load_model(root / "good").holdout.head(20).to_csv(data, index=False)
    status = cli.main(
        ["score", "--model", str(root / name), "--data", str(data), "--out", str(tmp_path / "s.csv")]
    )
    err = capsys.readouterr().err
    assert status == 2 and err.startswith("error: ") and "Traceback" not in err
    assert not marker.exists()
