"""Tests for impactiq.uplift.store: data-only models, crash-safe saving, listing and deleting."""

from __future__ import annotations

import json
import os
import pickle
import re
import subprocess
import sys
import threading
from pathlib import Path

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
    MODEL_FILES,
    VERSIONS_DIR,
    ModelExistsError,
    default_model_name,
    delete_model,
    library_versions,
    list_models,
    load_model,
    save_model,
    usable_models,
)

FAST = {"estimator": "causal_forest", "params": {"n_estimators": 20, "min_samples_leaf": 20}}
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def raw():
    return make_criteo_like(3_000, seed=4)


@pytest.fixture(scope="module")
def trained(raw):
    return train_model(
        prepare_experiment(raw, name="criteo-like"), outcome="visit", seed=2, n_boot=20, **FAST
    )


@pytest.fixture
def models_dir(tmp_path):
    return tmp_path / "models"


@pytest.fixture
def saved(trained, models_dir):
    return save_model(trained, "forest", models_dir=models_dir)


def _rewrite_metadata(folder: Path, **changes) -> None:
    path = folder / "metadata.json"
    metadata = json.loads(path.read_text())
    metadata.update(changes)
    path.write_text(json.dumps(metadata))


def _rehash(folder: Path) -> None:
    """Record every file's current hash and size, as an attacker who can write the folder would."""
    files = {
        name: {"sha256": store.file_sha256(folder / name), "bytes": (folder / name).stat().st_size}
        for name in MODEL_FILES
    }
    _rewrite_metadata(folder, files=files)


def test_round_trip_gives_identical_effects_intervals_outcomes_and_holdout(trained, saved, raw):
    model = load_model(saved)
    np.testing.assert_array_equal(model.effect(raw), trained.effect(raw))
    for got, expected in zip(
        model.effect_interval(raw, alpha=0.1), trained.effect_interval(raw, alpha=0.1), strict=True
    ):
        np.testing.assert_array_equal(got, expected)
    for got, expected in zip(model.predict_outcomes(raw), trained.predict_outcomes(raw), strict=True):
        np.testing.assert_array_equal(got, expected)
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


def test_a_model_is_a_link_to_a_complete_version_folder(saved, models_dir):
    assert saved.is_symlink()
    version = saved.resolve()
    assert version.parent == (models_dir / VERSIONS_DIR).resolve()
    assert sorted(p.name for p in version.iterdir()) == sorted(ARTIFACT_FILES)


def test_metadata_records_what_is_needed_to_trust_the_model(saved, trained):
    metadata = json.loads((saved / "metadata.json").read_text())
    for key in ("schema", "outcome", "treatment", "estimator", "params", "interval_method", "metrics"):
        assert key in metadata
    for key in ("features", "data", "versions", "fit", "seed", "created", "files"):
        assert key in metadata
    assert metadata["format"] == FORMAT_VERSION
    assert metadata["versions"] == library_versions()
    assert metadata["data"]["fingerprint"] == trained.data["fingerprint"]
    assert metadata["data"]["name"] == "criteo-like"
    assert metadata["treatment"]["treated_values"] == [1]
    assert metadata["fit"]["seconds"] > 0 and metadata["fit"]["peak_rss_mb"] > 0
    assert metadata["created"].endswith("+00:00")
    for name in MODEL_FILES:
        assert metadata["files"][name]["sha256"] == store.file_sha256(saved / name)


def test_no_file_of_a_model_is_a_pickle(saved):
    """The arrays load with pickles refused, and the structure is plain JSON."""
    with np.load(saved / "model.npz", allow_pickle=False) as arrays:
        assert all(arrays[name].dtype != object for name in arrays.files)
    structure = json.loads((saved / "model.json").read_text())
    assert structure["estimator"] == "causal_forest"
    assert all(text.startswith("tree\n") for text in structure["boosters"]["outcome"])


def test_scoring_picks_features_by_name_and_names_missing_ones(saved, raw):
    model = load_model(saved)
    shuffled = raw[["visit", *reversed([f"f{i}" for i in range(12)])]]
    np.testing.assert_array_equal(model.effect(shuffled), model.effect(raw))
    with pytest.raises(ImpactIQError, match="lacks the feature column.*'f3', 'f7'"):
        model.effect(raw.drop(columns=["f3", "f7"]))


# ---------------------------------------------------------------- hostile folders


class _Payload:
    """Unpickling this creates the marker file: proof that code ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _object_npz(path: Path, marker: Path) -> None:
    """An .npz whose array is an object array, i.e. a pickle that runs code when loaded."""
    np.savez(path, **{"forest.roots": np.array([_Payload(marker)], dtype=object)})


@pytest.mark.parametrize("target", [*MODEL_FILES, "metadata.json"])
def test_a_code_running_payload_in_any_file_never_runs(saved, models_dir, tmp_path, target):
    marker = tmp_path / "pwned"
    version = saved.resolve()
    if target == "model.npz":
        _object_npz(version / target, marker)
    else:
        (version / target).write_bytes(pickle.dumps(_Payload(marker)))
    if target != "metadata.json":
        _rehash(saved)
    with pytest.raises(ImpactIQError):
        _ = load_model(saved).holdout
    listed = list_models(models_dir)
    assert listed[0]["error"] is not None
    delete_model(saved)
    assert not marker.exists()


def test_a_pickled_model_of_the_old_format_is_never_unpickled(models_dir, tmp_path):
    marker = tmp_path / "pwned"
    folder = models_dir / "old"
    folder.mkdir(parents=True)
    (folder / "model.joblib").write_bytes(pickle.dumps(_Payload(marker)))
    (folder / "holdout.parquet").write_bytes(b"")
    digest = store.file_sha256(folder / "model.joblib")
    (folder / "metadata.json").write_text(
        json.dumps({"format": 2, "files": {"model.joblib": {"sha256": digest}}})
    )
    with pytest.raises(ImpactIQError, match="format 2.*Retrain"):
        load_model(folder)
    assert "format 2" in list_models(models_dir)[0]["error"]
    assert not marker.exists()


def test_a_tampered_model_file_is_refused_by_its_hash(saved):
    path = saved / "model.npz"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ImpactIQError, match="model.npz does not match the hash recorded when it was saved"):
        load_model(saved)


def test_a_corrupt_holdout_with_its_hash_rewritten_is_a_clear_error(saved, models_dir):
    path = saved / "holdout.parquet"
    whole = path.read_bytes()
    path.write_bytes(whole[:1000])
    _rehash(saved)
    with pytest.raises(ImpactIQError, match="not a complete Parquet file"):
        load_model(saved)
    path.write_bytes(b"PAR1" + b"\x00" * 500 + b"PAR1")  # looks whole, cannot be parsed
    _rehash(saved)
    model = load_model(saved)
    with pytest.raises(ImpactIQError, match="holdout file of .* cannot be read"):
        _ = model.holdout
    (entry,) = list_models(models_dir)
    assert "holdout file" in entry["error"]


def test_a_folder_holding_an_extra_file_is_refused_listed_broken_and_deletable(saved, models_dir):
    (saved / "notes.txt").write_text("hello")
    with pytest.raises(ImpactIQError, match="does not write.*'notes.txt'"):
        load_model(saved)
    (entry,) = list_models(models_dir)
    assert "'notes.txt'" in entry["error"]
    delete_model(saved)
    assert list_models(models_dir) == []


def test_changed_library_versions_give_a_warning(saved):
    metadata = json.loads((saved / "metadata.json").read_text())
    _rewrite_metadata(saved, versions={**metadata["versions"], "scikit-learn": "0.0.1"})
    model = load_model(saved)
    assert len(model.warnings) == 1 and "scikit-learn 0.0.1 (installed: " in model.warnings[0]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda m: m.pop("files"), "lacks the entries files"),
        (lambda m: m["files"].pop("model.npz"), r"files\.model\.npz"),
        (lambda m: m["files"]["holdout.parquet"].update(sha256=5), r"files\.holdout\.parquet"),
        (lambda m: m.update(metrics=[1, 2]), "metrics"),
        (lambda m: m.update(name=None), "name"),
        (lambda m: m.update(schema={"treatment": "t"}), "schema .* is damaged"),
    ],
)
def test_damaged_metadata_is_a_clear_error_and_listed_broken(saved, models_dir, damage, message):
    metadata = json.loads((saved / "metadata.json").read_text())
    damage(metadata)
    (saved / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(ImpactIQError, match=message):
        load_model(saved)
    (entry,) = list_models(models_dir)
    assert entry["error"] is not None


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda d: None, "There is no model folder"),
        (lambda d: d.mkdir(parents=True), "has no metadata.json"),
        (lambda d: (d.mkdir(parents=True), (d / "metadata.json").write_text("{oops")), "not valid JSON"),
        (lambda d: (d.mkdir(parents=True), (d / "metadata.json").write_text('{"format": 99}')), "format 99"),
        (lambda d: (d.mkdir(parents=True), (d / "metadata.json").write_text("[3]")), "format None"),
    ],
)
def test_load_model_refuses_folders_that_are_not_saved_models(models_dir, setup, message):
    folder = models_dir / "broken"
    setup(folder)
    with pytest.raises(ImpactIQError, match=message):
        load_model(folder)


# ---------------------------------------------------------------- saving


@pytest.mark.parametrize("name", ["", "a/b", "../up", "x" * 65, "with space", ".hidden", "né", None])
def test_save_model_refuses_bad_names(trained, models_dir, name):
    with pytest.raises(ImpactIQError, match="model name .* is not allowed"):
        save_model(trained, name, models_dir=models_dir)
    assert not models_dir.exists() or not any(models_dir.iterdir())


@pytest.mark.parametrize("name", ["a", "Visit_forest-2", "x" * 64])
def test_save_model_accepts_good_names(trained, models_dir, name):
    assert save_model(trained, name, models_dir=models_dir) == models_dir / name


def test_an_existing_name_is_never_replaced_silently(trained, saved, models_dir):
    before = (saved / "metadata.json").read_text()
    with pytest.raises(ModelExistsError, match="already exists.*--replace"):
        save_model(trained, "forest", models_dir=models_dir)
    assert (saved / "metadata.json").read_text() == before
    with pytest.raises(ModelExistsError):
        store.check_unused(saved)


def test_replacing_on_purpose_swaps_in_the_new_version_and_drops_the_old(trained, saved, models_dir):
    old_version = saved.resolve()
    save_model(trained, "forest", models_dir=models_dir, replace=True)
    assert saved.resolve() != old_version and not old_version.exists()
    load_model(saved)
    assert [p.name for p in (models_dir / VERSIONS_DIR).iterdir() if p.name != ".lock"] == [
        saved.resolve().name
    ]


def test_a_failing_save_leaves_nothing_and_keeps_the_old_model(trained, saved, models_dir, monkeypatch):
    def failing_to_parquet(frame, path, **kwargs):
        raise OSError("disk full")

    before = (saved / "metadata.json").read_text()
    monkeypatch.setattr(pd.DataFrame, "to_parquet", failing_to_parquet)
    with pytest.raises(OSError, match="disk full"):
        save_model(trained, "forest", models_dir=models_dir, replace=True)
    with pytest.raises(OSError, match="disk full"):
        save_model(trained, "other", models_dir=models_dir)
    assert (saved / "metadata.json").read_text() == before
    load_model(saved)
    assert sorted(p.name for p in models_dir.iterdir()) == [VERSIONS_DIR, "forest"]
    assert len([p for p in (models_dir / VERSIONS_DIR).iterdir() if p.is_dir()]) == 1


def test_save_model_does_not_replace_a_folder_it_did_not_write(trained, models_dir):
    (models_dir / "notes").mkdir(parents=True)
    (models_dir / "notes" / "todo.txt").write_text("keep me")
    with pytest.raises(ImpactIQError, match="not an ImpactIQ model folder"):
        save_model(trained, "notes", models_dir=models_dir, replace=True)
    assert (models_dir / "notes" / "todo.txt").read_text() == "keep me"


def test_a_model_folder_of_the_old_format_is_replaced_by_a_link(trained, models_dir):
    legacy = models_dir / "demo"
    legacy.mkdir(parents=True)
    for name in ("model.joblib", "holdout.parquet", "metadata.json"):
        (legacy / name).write_bytes(b"old")
    save_model(trained, "demo", models_dir=models_dir, replace=True)
    assert legacy.is_symlink()
    load_model(legacy)


def test_stale_staging_folders_and_orphan_versions_are_cleaned_up(trained, saved, models_dir):
    versions = models_dir / VERSIONS_DIR
    dead = versions / ".saving-0123"  # its writer's lock is not held: the writer is gone
    (versions / ".saving-0123.lock").write_text("")
    no_lock = versions / ".saving-4567"
    orphan = versions / "forest.20200101T000000.deadbeef"  # a version no name links to
    old_format = models_dir / ".forest.replaced-0123abcd"
    for folder in (dead, no_lock, orphan, old_format):
        folder.mkdir()
        (folder / "model.json").write_text("{}")
    stale_lock = versions / ".new-lock-89ab"
    stale_lock.write_text("")
    os.utime(stale_lock, (0, 0))
    save_model(trained, "second", models_dir=models_dir)
    for leftover in (dead, no_lock, orphan, old_format, stale_lock, versions / ".saving-0123.lock"):
        assert not os.path.lexists(leftover), leftover
    load_model(saved)


def test_a_live_writers_staging_folder_is_left_alone(trained, saved, models_dir):
    import fcntl

    versions = models_dir / VERSIONS_DIR
    live = versions / ".saving-live"
    live.mkdir()
    with open(versions / ".saving-live.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        save_model(trained, "second", models_dir=models_dir)
        assert live.exists()


def test_a_version_left_without_its_link_gets_it_back(trained, saved, models_dir):
    """A crash between moving a version into place and linking it: the next save relinks it."""
    version = saved.resolve()
    saved.unlink()
    save_model(trained, "second", models_dir=models_dir)
    assert saved.resolve() == version
    load_model(saved)


def test_concurrent_saves_of_one_name_are_serialised(trained, models_dir):
    """Without replace exactly one save wins and the rest are told; with it, all succeed in turn."""
    outcomes: list[str] = []

    def save(replace: bool) -> None:
        try:
            save_model(trained, "shared", models_dir=models_dir, replace=replace)
            outcomes.append("saved")
        except ModelExistsError:
            outcomes.append("refused")

    for replace, expected in ((False, ["refused"] * 3 + ["saved"]), (True, ["saved"] * 4)):
        outcomes.clear()
        threads = [threading.Thread(target=save, args=(replace,)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes) == sorted(expected)
        load_model(models_dir / "shared")
    linked = [p for p in (models_dir / VERSIONS_DIR).iterdir() if p.is_dir()]
    assert len(linked) == 1


def test_a_held_lock_gives_a_clear_message(trained, saved, models_dir, monkeypatch):
    import fcntl

    monkeypatch.setattr(store, "LOCK_TIMEOUT_S", 0.2)
    with open(models_dir / VERSIONS_DIR / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        with pytest.raises(ImpactIQError, match="Another save or delete .* try again"):
            save_model(trained, "forest", models_dir=models_dir, replace=True)
    load_model(saved)


# A child process that replaces model `forest` and kills itself (SIGKILL: no cleanup, no
# finally) just before its Nth file-system step; the parent checks what is left after each.
_KILLED_SAVE = """
import os, shutil, signal, sys
from pathlib import Path
from impactiq.uplift.store import load_model, save_model
from impactiq.uplift.trained import TrainedModel

models, step = Path(sys.argv[1]), int(sys.argv[2])
saved = load_model(models / "forest")
trained = TrainedModel(
    model=saved.model, schema=saved.schema, outcome=saved.outcome, estimator=saved.estimator,
    params=saved.metadata["params"], seed=12345, holdout=saved.holdout, metrics=saved.metrics,
    deciles=saved.deciles, feature_profile=saved.feature_profile, data=saved.metadata["data"],
    fit=saved.metadata["fit"],
)
calls = 0

def killing(function):
    def wrapper(*args, **kwargs):
        global calls
        calls += 1
        if calls == step:
            os.kill(os.getpid(), signal.SIGKILL)
        return function(*args, **kwargs)
    return wrapper

for module, name in ((os, "fsync"), (os, "rename"), (os, "replace"), (os, "symlink"), (os, "unlink"),
                     (os, "mkdir"), (shutil, "rmtree")):
    setattr(module, name, killing(getattr(module, name)))
save_model(trained, "forest", models_dir=models, replace=True)
print("completed after", calls, "steps")
"""


@pytest.mark.slow
def test_a_kill_at_any_step_of_a_replace_leaves_the_old_or_the_new_model(saved, models_dir):
    seeds = set()
    for step in range(1, 60):
        result = subprocess.run(
            [sys.executable, "-c", _KILLED_SAVE, str(models_dir), str(step)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        model = load_model(saved)  # never neither
        _ = model.holdout
        seeds.add(model.metadata["seed"])
        if result.returncode == 0:
            break
        assert result.returncode == -9, result.stderr
    else:
        pytest.fail("the save never completed")
    assert step > 10 and "completed" in result.stdout
    assert seeds == {2, 12345}
    # A lock file that a killed writer had just created is kept for a minute (it could be a
    # live writer's, about to lock it); everything else it left is gone.
    leftovers = [p for p in (models_dir / VERSIONS_DIR).iterdir() if p.name != ".lock"]
    assert [p for p in leftovers if not p.name.startswith(".new-lock-")] == [saved.resolve()]
    assert sorted(p.name for p in models_dir.iterdir()) == [VERSIONS_DIR, "forest"]


def test_default_names_are_valid_unique_and_say_what_the_model_is(trained):
    import dataclasses

    name = default_model_name(trained)
    store.check_name(name)
    assert name.startswith("visit_causal_forest_criteo-like_")
    assert len({default_model_name(trained) for _ in range(20)}) == 20
    odd = dataclasses.replace(
        trained, outcome="Revenue (USD) " + "x" * 80, data={"name": "![i](http://h/x).csv"}
    )
    name = default_model_name(odd)
    store.check_name(name)
    assert re.search(r"_\d{4}-\d{6}-[0-9a-f]{4}$", name)  # the time stamp always fits


# ---------------------------------------------------------------- listing and deleting


def test_list_models_lists_newest_first_then_broken_ones(trained, models_dir):
    for name, created in (("older", "2026-01-01T00:00:00+00:00"), ("newer", "2026-02-01T00:00:00+00:00")):
        _rewrite_metadata(save_model(trained, name, models_dir=models_dir), created=created)
    (models_dir / "broken").mkdir()
    (models_dir / "dangling").symlink_to(".store/gone")
    listed = list_models(models_dir)
    assert [m["name"] for m in listed] == ["newer", "older", "broken", "dangling"]
    first = listed[0]
    assert first["qini"] == trained.metrics["qini_auc_score"]["estimate"]
    assert (first["estimator"], first["outcome"], first["rows"], first["data_set"], first["error"]) == (
        "causal_forest",
        "visit",
        3_000,
        "criteo-like",
        None,
    )
    assert "has no metadata.json" in listed[2]["error"]
    assert listed[3]["error"] is not None
    assert usable_models(models_dir) == listed[:2]


def test_list_models_of_a_missing_folder_is_empty(tmp_path):
    assert list_models(tmp_path / "nothing") == [] == usable_models(tmp_path / "nothing")


def test_delete_model_removes_the_link_and_its_version(saved, models_dir):
    delete_model(saved)
    assert not os.path.lexists(saved)
    assert [p.name for p in (models_dir / VERSIONS_DIR).iterdir()] == [".lock"]


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda d: None, "no model 'other'"),
        (lambda d: (d.mkdir(parents=True), (d / "thesis.docx").write_text("x")), "does not write"),
    ],
)
def test_delete_model_refuses_what_is_not_a_model(models_dir, setup, message):
    folder = models_dir / "other"
    setup(folder)
    with pytest.raises(ImpactIQError, match=message):
        delete_model(folder)


def test_a_cold_load_needs_neither_econml_nor_scikit_learn_nor_pandas(saved):
    code = (
        "import sys\n"
        "from impactiq.uplift.store import load_model\n"
        f"model = load_model({str(saved)!r})\n"
        "heavy = {'econml', 'sklearn', 'lightgbm', 'scipy', 'pandas', 'joblib', 'streamlit'}\n"
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))\n"
    )
    assert _run_python(code) == "[]"


def test_import_impactiq_stays_light_and_loads_models_lazily(saved):
    code = (
        "import sys, impactiq\n"
        "assert not any(m.startswith(('econml', 'lightgbm', 'sklearn', 'streamlit')) for m in sys.modules)\n"
        "from impactiq import load_model\n"
        f"model = load_model({str(saved)!r})\n"
        "print(type(model).__name__)\n"
    )
    assert _run_python(code) == "SavedModel"


def _npz_claiming_a_huge_array(path: Path) -> None:
    """A valid .npz whose one array's header claims 2**47 floats it does not hold."""
    import io
    import zipfile

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (2**47,)})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("forest.roots.npy", header.getvalue() + b"\0" * 64)


def _nested_json(path: Path) -> None:
    path.write_text("[" * 100_000 + "]" * 100_000)


def _huge_number_json(path: Path) -> None:
    path.write_text('{"format": 1, "estimator": ' + "9" * 5_000 + "}")


def _one_column_holdout(path: Path) -> None:
    pd.DataFrame({"y": [0.0, 1.0]}).to_parquet(path)


def _holdout_with_broken_pandas_metadata(path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"y": [0.0]}).replace_schema_metadata({b"pandas": b'{"columns": 5, "index_columns": 3}'})
    pq.write_table(table, path)


@pytest.mark.parametrize(
    ("target", "craft"),
    [
        ("model.npz", _npz_claiming_a_huge_array),
        ("model.json", _nested_json),
        ("model.json", _huge_number_json),
        ("holdout.parquet", _one_column_holdout),
        ("holdout.parquet", _holdout_with_broken_pandas_metadata),
    ],
    ids=["huge-npz-header", "nested-json", "huge-number", "holdout-one-column", "holdout-bad-metadata"],
)
def test_crafted_files_with_rewritten_hashes_are_refused_cleanly(saved, models_dir, target, craft):
    craft(saved.resolve() / target)
    _rehash(saved)
    with pytest.raises(ImpactIQError):
        _ = load_model(saved).holdout
    (entry,) = list_models(models_dir)
    assert entry["error"]


@pytest.mark.parametrize("kind", ["fifo", "link-to-dev-zero", "dangling-link", "folder"])
def test_a_model_file_that_is_not_a_plain_file_is_refused_without_reading_it(saved, models_dir, kind):
    path = saved.resolve() / "model.json"
    path.unlink()
    if kind == "fifo":
        os.mkfifo(path)  # reading it would wait for ever
    elif kind == "link-to-dev-zero":
        path.symlink_to("/dev/zero")  # reading it would never end
    elif kind == "dangling-link":
        path.symlink_to("/nonexistent")
    else:
        path.mkdir()
    with pytest.raises(ImpactIQError, match="not a plain file"):
        load_model(saved)
    (entry,) = list_models(models_dir)
    assert "not a plain file" in entry["error"]


def test_a_feature_profile_the_pages_could_not_use_is_refused(saved):
    metadata = json.loads((saved / "metadata.json").read_text())
    metadata["features"]["f0"]["dtype"] = "zzz"
    (saved / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(ImpactIQError, match="describes the feature.*'f0'"):
        load_model(saved)


def _run_python(code: str) -> str:
    """What `code` prints in a fresh Python process run from the project's root."""
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()
