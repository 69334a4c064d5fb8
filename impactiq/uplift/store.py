"""Saving trained models to the models folder and loading them back, safely.

One folder per model, `models/<name>/`, holding:

- `model.joblib`: the fitted `UpliftModel`, pickled by joblib;
- `holdout.parquet`: the holdout users' features and predictions (y, t, uplift and its
  interval, predicted outcomes, tau on synthetic data), from which every chart, segment and
  simulator preset of the model is drawn;
- `metadata.json`: what is needed to trust and use the model without unpickling it: the
  schema, outcome and treatment coding, estimator and parameters, holdout metrics, decile
  table, feature ranges, a fingerprint of the training data, the library versions, fit time
  and memory, and the sha256 of the two other files.

A folder is written under a hidden temporary name inside the models folder and renamed into
place only when complete, so a crash never leaves a half-written model and readers see either
the old model or the new one. Unpickling runs code from the file, so `load_model` loads only
folders that ImpactIQ wrote (it checks the recorded hash before unpickling and refuses a file
that changed since); the app never loads a model file a user uploads.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import pickle
import platform
import re
import shutil
import tempfile
import uuid
from functools import cached_property
from importlib import metadata as importlib_metadata
from pathlib import Path

import joblib
import numpy as np
import pandas as pd

from impactiq.data.schema import Schema
from impactiq.errors import ImpactIQError
from impactiq.uplift.scoring import FittedEffects
from impactiq.uplift.trained import TrainedModel

MODELS_DIR = "models"
MODEL_FILE = "model.joblib"
HOLDOUT_FILE = "holdout.parquet"
METADATA_FILE = "metadata.json"
ARTIFACT_FILES = (MODEL_FILE, HOLDOUT_FILE, METADATA_FILE)
# Bumped when the folder layout or the pickled model's attributes change incompatibly.
FORMAT_VERSION = 2
NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Distributions whose versions are recorded and compared on load (Python is added).
LIBRARIES = ("numpy", "pandas", "scikit-learn", "econml", "lightgbm", "joblib", "pyarrow")
# Entries of metadata.json that loading and listing rely on.
REQUIRED_KEYS = (
    "name",
    "created",
    "outcome",
    "schema",
    "estimator",
    "metrics",
    "deciles",
    "features",
    "data",
    "versions",
    "files",
)
_HASH_CHUNK = 1 << 20


class SavedModel(FittedEffects):
    """A model loaded from its folder: scores raw tables like a `TrainedModel`.

    `metadata` is the parsed metadata.json; `warnings` lists what the user should know
    (library versions that differ from the ones it was saved with). The holdout predictions
    are read on first use of `holdout`, so loading stays fast.
    """

    def __init__(self, path: Path, metadata: dict, model, warnings: list[str]):
        self.path = path
        self.metadata = metadata
        self.model = model
        self.warnings = warnings
        self.schema = Schema.from_dict(metadata["schema"])
        self.feature_profile = metadata["features"]

    @property
    def name(self) -> str:
        return self.metadata["name"]

    @property
    def outcome(self) -> str:
        return self.metadata["outcome"]

    @property
    def estimator(self) -> str:
        return self.metadata["estimator"]

    @property
    def metrics(self) -> dict:
        return self.metadata["metrics"]

    @property
    def deciles(self) -> pd.DataFrame:
        return pd.DataFrame(self.metadata["deciles"])

    @cached_property
    def holdout(self) -> pd.DataFrame:
        """The holdout predictions, read (after checking their hash) on first use."""
        _verify(self.path / HOLDOUT_FILE, self.metadata["files"][HOLDOUT_FILE]["sha256"], "holdout file")
        return pd.read_parquet(self.path / HOLDOUT_FILE)

    def __repr__(self) -> str:
        return f"SavedModel({self.name!r}, estimator={self.estimator!r}, outcome={self.outcome!r})"


def save_model(trained: TrainedModel, name: str, *, models_dir: str | os.PathLike = MODELS_DIR) -> Path:
    """Write `trained` to `models_dir/name/` atomically and return that folder.

    An existing model of the same name is replaced: the new folder is complete before the old
    one is moved aside, and the old one is deleted only after the new one is in place. Only a
    `TrainedModel` is saved: its holdout evidence is what makes a saved model worth trusting.
    """
    if not isinstance(trained, TrainedModel):
        raise ImpactIQError(
            f"save_model saves a TrainedModel, the result of train_model; got {type(trained).__name__}. "
            "Train with `train_model(experiment, outcome=...)` (it fits the model and judges it on a "
            "holdout), then save what it returns."
        )
    check_name(name)
    root = Path(models_dir)
    root.mkdir(parents=True, exist_ok=True)
    target = root / name
    if target.exists() and not _is_model_folder(target):
        raise ImpactIQError(
            f"'{target}' exists and is not an ImpactIQ model folder, so it is not replaced. "
            "Choose another name or move that folder away."
        )
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.saving-", dir=root))
    try:
        _write_folder(trained, name, staging)
        _move_into_place(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def load_model(path: str | os.PathLike) -> SavedModel:
    """The model in folder `path` (for example 'models/demo'), after checking its hash.

    Only folders written by `save_model` are loaded. The model file's sha256 must equal the
    one recorded in metadata.json before anything is unpickled; a mismatch is refused.
    """
    folder = Path(path)
    metadata = read_metadata(folder)
    model_path = folder / MODEL_FILE
    _verify(model_path, metadata["files"][MODEL_FILE]["sha256"], "model file")
    warnings = _version_warnings(metadata["versions"])
    try:
        model = joblib.load(model_path)
    except (ImportError, AttributeError, pickle.UnpicklingError) as error:
        if not warnings:
            raise
        raise ImpactIQError(
            f"The model in '{folder}' cannot be loaded with the libraries installed here ({error}). "
            f"{' '.join(warnings)}"
        ) from error
    return SavedModel(folder, metadata, model, warnings)


def read_metadata(path: str | os.PathLike) -> dict:
    """The parsed metadata.json of model folder `path`; no model file is touched."""
    folder = Path(path)
    if not folder.is_dir():
        raise ImpactIQError(
            f"There is no model folder '{folder}'. Train one (`python -m impactiq train ... --out "
            f"{folder}`) or pick an existing one (`list_models`)."
        )
    metadata_path = folder / METADATA_FILE
    if not metadata_path.is_file():
        raise ImpactIQError(
            f"'{folder}' is not a saved ImpactIQ model: it has no {METADATA_FILE}. Point to a folder "
            "written by ImpactIQ, such as models/demo."
        )
    try:
        metadata = json.loads(metadata_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ImpactIQError(
            f"'{metadata_path}' is not valid JSON ({error}): it was changed or damaged. Retrain the model."
        ) from error
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT_VERSION:
        found = metadata.get("format") if isinstance(metadata, dict) else None
        raise ImpactIQError(
            f"'{metadata_path}' has format {found!r}; this version of ImpactIQ reads format "
            f"{FORMAT_VERSION}. Retrain the model."
        )
    lacking = [key for key in REQUIRED_KEYS if key not in metadata]
    if lacking:
        raise ImpactIQError(
            f"'{metadata_path}' lacks the entries {', '.join(lacking)}: it was changed or damaged. Retrain the model."
        )
    return metadata


def list_models(models_dir: str | os.PathLike = MODELS_DIR) -> list[dict]:
    """Every model folder under `models_dir`: good ones newest first, then broken ones.

    Each entry has name, path, estimator, outcome, created, qini, qini_lower and qini_upper
    (the holdout Qini AUC and its bootstrap 95% interval), rows (rows trained and evaluated
    on) and error: None for a usable model, else why the folder
    cannot be used (it is listed so that it can be seen and deleted, never loaded). Only
    metadata is read, so listing is fast.
    """
    root = Path(models_dir)
    if not root.is_dir():
        return []
    good, broken = [], []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        entry = {"name": folder.name, "path": str(folder)}
        try:
            metadata = read_metadata(folder)
        except ImpactIQError as error:
            entry.update(
                estimator=None,
                outcome=None,
                created=None,
                qini=None,
                qini_lower=None,
                qini_upper=None,
                rows=None,
                error=str(error),
            )
            broken.append(entry)
            continue
        qini = metadata["metrics"].get("qini_auc_score", {})
        entry.update(
            estimator=metadata["estimator"],
            outcome=metadata["outcome"],
            created=metadata["created"],
            qini=qini.get("estimate"),
            qini_lower=qini.get("lower"),
            qini_upper=qini.get("upper"),
            rows=metadata["data"].get("n_rows"),
            error=None,
        )
        good.append(entry)
    good.sort(key=lambda e: e["created"], reverse=True)
    return good + broken


def delete_model(path: str | os.PathLike) -> None:
    """Delete a model folder; refuse any folder holding files ImpactIQ does not write."""
    folder = Path(path)
    if not folder.is_dir():
        raise ImpactIQError(f"There is no model folder '{folder}' to delete.")
    if not _is_model_folder(folder):
        raise ImpactIQError(
            f"'{folder}' holds files other than {', '.join(ARTIFACT_FILES)}, so it is not deleted: "
            "it does not look like an ImpactIQ model folder. Delete it by hand if you mean to."
        )
    # Rename first, so the model disappears at once even if deleting its files takes a while.
    doomed = folder.parent / f".{folder.name}.deleting-{uuid.uuid4().hex}"
    os.replace(folder, doomed)
    shutil.rmtree(doomed)


def check_name(name: str) -> None:
    """Refuse a model name that is not 1 to 64 letters, digits, '_' or '-'."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise ImpactIQError(
            f"The model name {name!r} is not allowed: use 1 to 64 letters, digits, '_' or '-' "
            "(for example 'visit_forest')."
        )


def library_versions() -> dict[str, str]:
    """The installed versions of Python and the libraries a saved model depends on."""
    versions = {"python": platform.python_version()}
    for library in LIBRARIES:
        try:
            versions[library] = importlib_metadata.version(library)
        except importlib_metadata.PackageNotFoundError:
            versions[library] = None
    return versions


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def json_ready(value):
    """`value` with numpy scalars as Python numbers, tuples as lists and NaN/inf as None."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def _write_folder(trained: TrainedModel, name: str, folder: Path) -> None:
    """The three files of a model folder, metadata last since it records the others' hashes."""
    joblib.dump(trained.model, folder / MODEL_FILE)
    trained.holdout.to_parquet(folder / HOLDOUT_FILE, index=False)
    files = {
        f: {"sha256": file_sha256(folder / f), "bytes": (folder / f).stat().st_size}
        for f in ARTIFACT_FILES[:2]
    }
    schema = trained.schema
    metadata = {
        "format": FORMAT_VERSION,
        "name": name,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "outcome": trained.outcome,
        "outcome_kind": "binary" if schema.is_binary(trained.outcome) else "amount",
        "schema": schema.to_dict(),
        "treatment": {
            "column": schema.treatment,
            "treated_values": list(schema.treated_values),
            "control_values": list(schema.control_values),
            "coding": "t = 1 for the treated values, 0 for the control values",
        },
        "estimator": trained.estimator,
        "params": trained.params,
        "interval_method": trained.model.interval_method,
        "seed": trained.seed,
        "metrics": trained.metrics,
        "deciles": trained.deciles.to_dict(orient="records"),
        "features": trained.feature_profile,
        "data": trained.data,
        "fit": trained.fit,
        "versions": library_versions(),
        "files": files,
    }
    text = json.dumps(json_ready(metadata), indent=2, allow_nan=False)
    (folder / METADATA_FILE).write_text(text, encoding="utf-8")


def _move_into_place(staging: Path, target: Path) -> None:
    """Rename the finished `staging` folder to `target`, replacing an old model safely."""
    old = None
    if target.exists():
        old = target.parent / f".{target.name}.replaced-{uuid.uuid4().hex}"
        os.replace(target, old)
    try:
        os.replace(staging, target)
    except OSError:
        if old is not None:
            os.replace(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _is_model_folder(folder: Path) -> bool:
    """Whether `folder` holds only files that `save_model` writes."""
    return folder.is_dir() and all(p.name in ARTIFACT_FILES for p in folder.iterdir())


def _verify(path: Path, expected: str, what: str) -> None:
    if not path.is_file():
        raise ImpactIQError(
            f"The {what} {path} is missing: the model folder is incomplete. Retrain the model."
        )
    if file_sha256(path) != expected:
        raise ImpactIQError(
            f"The {what} {path} does not match the hash recorded when it was saved: it was changed or "
            "corrupted. Retrain the model or restore the file."
        )


def _version_warnings(saved: dict) -> list[str]:
    installed = library_versions()
    changed = [
        f"{library} {saved.get(library)} (installed: {version})"
        for library, version in installed.items()
        if saved.get(library) != version
    ]
    if not changed:
        return []
    return [
        f"This model was saved with {', '.join(changed)}. Its predictions may differ slightly; "
        "retrain it to be sure."
    ]
