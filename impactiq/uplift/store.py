"""Saving trained models to the models folder and loading them back: data only, crash-safe.

A model is a folder of data, never code:

- `model.json` and `model.npz`: the model itself (see `impactiq.uplift.portable`): its
  structure, feature encoding and LightGBM boosters as JSON text, its arrays as an `.npz` read
  with `allow_pickle=False`. Loading one never unpickles or executes anything, so a tampered
  folder can at worst be refused, not take over the machine;
- `holdout.parquet`: the holdout users' features and predictions (y, t, uplift and its
  interval, predicted outcomes, tau on synthetic data), from which every chart, segment and
  simulator preset of the model is drawn;
- `metadata.json`: the schema, outcome and treatment coding, estimator and parameters, holdout
  metrics, decile table, feature ranges, the data it was trained on, library versions, fit time
  and the sha256 of the other files (which catches accidents: a damaged or swapped file).

Each saved version lives in its own folder under `models/.store/`, and the model's name,
`models/<name>`, is a symbolic link to its current version. Saving writes the new version in
full, then swaps the link with one atomic rename, so at every instant the name gives the old
model or the new one, never neither, and a crash at any step leaves at worst an unused folder
that the next save or delete removes. Saves and deletes in one models folder take a lock, so
two of them never interleave, and an existing name is never replaced unless asked.
"""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import hashlib
import json
import math
import os
import platform
import re
import shutil
import stat
import time
import uuid
from contextlib import contextmanager
from functools import cached_property
from importlib import metadata as importlib_metadata
from pathlib import Path

import numpy as np

from impactiq.data.schema import Schema
from impactiq.errors import ImpactIQError
from impactiq.uplift.effects import FittedEffects
from impactiq.uplift.portable import ARRAYS_FILE, JSON_FILE, PortableModel
from impactiq.uplift.trained import TrainedModel

MODELS_DIR = "models"
HOLDOUT_FILE = "holdout.parquet"
METADATA_FILE = "metadata.json"
MODEL_FILES = (JSON_FILE, ARRAYS_FILE, HOLDOUT_FILE)
ARTIFACT_FILES = (*MODEL_FILES, METADATA_FILE)
# The files of the previous, pickle-based format: such a folder is listed as outdated.
LEGACY_FILES = ("model.joblib", HOLDOUT_FILE, METADATA_FILE)
# Bumped when the folder layout or the model files change incompatibly.
FORMAT_VERSION = 3
NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Where the versions live, inside the models folder, and the lock that serialises changes.
VERSIONS_DIR = ".store"
LOCK_FILE = ".lock"
STAGING_PREFIX = ".saving-"
# A staging lock file before it is locked and renamed; removed by `_clean` once this old.
_NEW_LOCK_PREFIX = ".new-lock-"
_NEW_LOCK_AGE_S = 60.0
# A version folder's name: the model's name, a UTC time stamp and eight random hex digits.
_VERSION_NAME = re.compile(r"([A-Za-z0-9_-]{1,64})\.\d{8}T\d{6}\.[0-9a-f]{8}")
# The dtypes a numeric feature is read into for scoring.
_NUMERIC_DTYPES = (
    "float16",
    "float32",
    "float64",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
)
# metadata.json is a few tens of kB; anything far larger is not one.
MAX_METADATA_BYTES = 64 << 20
LOCK_TIMEOUT_S = 30.0
# Distributions whose versions are recorded and compared on load (Python is added).
LIBRARIES = ("numpy", "pandas", "scikit-learn", "econml", "lightgbm", "pyarrow")
# Entries of metadata.json that loading and listing rely on, with their JSON types.
REQUIRED_KEYS = {
    "name": str,
    "created": str,
    "outcome": str,
    "schema": dict,
    "estimator": str,
    "metrics": dict,
    "deciles": list,
    "features": dict,
    "data": dict,
    "versions": dict,
    "files": dict,
}
_HASH_CHUNK = 1 << 20
# Every Parquet file starts and ends with these bytes: a cheap check that needs no Parquet reader.
_PARQUET_MAGIC = b"PAR1"


class ModelExistsError(ImpactIQError):
    """A save would replace an existing model without being asked to."""


class SavedModel(FittedEffects):
    """A model loaded from its folder: scores raw tables like a `TrainedModel`.

    `metadata` is the parsed metadata.json; `warnings` lists what the user should know
    (library versions that differ from the ones it was saved with). The holdout file's bytes
    are read and checked with the rest, and parsed into a table on first use of `holdout`,
    so loading stays fast.
    """

    def __init__(
        self, path: Path, metadata: dict, model: PortableModel, holdout_bytes: bytes, warnings: list[str]
    ):
        self.path = path
        self.metadata = metadata
        self.model = model
        self.warnings = warnings
        self.schema = _schema(metadata, path)
        self.feature_profile = metadata["features"]
        self._holdout_bytes = holdout_bytes

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
    def deciles(self):
        import pandas as pd

        return pd.DataFrame(self.metadata["deciles"])

    @property
    def params(self) -> dict:
        return self.metadata["params"]

    @property
    def seed(self) -> int:
        return self.metadata["seed"]

    @property
    def data(self) -> dict:
        """What the model was trained on (fingerprint, name, rows, split), as `TrainedModel.data`."""
        return self.metadata["data"]

    @property
    def fit(self) -> dict:
        return self.metadata["fit"]

    @property
    def arms(self) -> tuple[str, ...]:
        """The arms a multi-arm model compares with control, in order; empty for two arms."""
        return tuple(self.metadata.get("arms", ()))

    @property
    def arm_metrics(self) -> dict:
        return self.metadata.get("arm_metrics", {})

    @property
    def arm_deciles(self) -> dict:
        import pandas as pd

        return {arm: pd.DataFrame(rows) for arm, rows in self.metadata.get("arm_deciles", {}).items()}

    @cached_property
    def holdout(self):
        """The holdout predictions as a DataFrame, parsed on first use."""
        return read_holdout(self._holdout_bytes, self.path, self.arms)

    def __repr__(self) -> str:
        return f"SavedModel({self.name!r}, estimator={self.estimator!r}, outcome={self.outcome!r})"


def save_model(
    trained: TrainedModel, name: str, *, models_dir: str | os.PathLike = MODELS_DIR, replace: bool = False
) -> Path:
    """Write `trained` as model `name` in `models_dir` and return `models_dir/name`.

    An existing model of that name is kept unless `replace` is true (`ModelExistsError`
    otherwise); a replace keeps the previous version until the new one is complete. Only a
    model with its holdout evidence is saved, which is what makes a saved model worth trusting:
    a `TrainedModel`, or a `SavedModel` saved again under another name (a model kept in a
    visitor's workspace, `uplift.workspace`).
    """
    if not isinstance(trained, TrainedModel | SavedModel):
        raise ImpactIQError(
            f"save_model saves a TrainedModel, the result of train_model; got {type(trained).__name__}. "
            "Train with `train_model(experiment, outcome=...)` (it fits the model and judges it on a "
            "holdout), then save what it returns."
        )
    check_name(name)
    root = Path(models_dir)
    target = root / name
    if not replace:
        check_unused(target)
    store = _versions(root)
    with _staging(store) as staging:
        _write_folder(trained, name, staging)
        with _locked(store):
            if not replace:
                check_unused(target)
            _retire_legacy(target, store)
            version = store / _version_name(name)
            os.rename(staging, version)
            _fsync_dir(store)
            _link(target, version)
            _clean(root, store)
    return target


def default_model_name(trained: TrainedModel) -> str:
    """A fresh, valid name: outcome, estimator, data set, a time stamp and four random hex digits.

    Outside text (the outcome's and the data set's names) is reduced to letters, digits and
    '-', and shortened so that the time stamp always fits in the 64 characters allowed.
    """

    def slug(text: object, size: int) -> str:
        return re.sub(r"[^A-Za-z0-9]+", "-", str(text)).strip("-")[:size].strip("-") or "x"

    stamp = f"{dt.datetime.now(dt.UTC):%m%d-%H%M%S}-{uuid.uuid4().hex[:4]}"
    stem = f"{slug(trained.outcome, 16)}_{trained.estimator}_{slug(trained.data.get('name', 'data'), 16)}"
    return f"{stem[: 64 - len(stamp) - 1]}_{stamp}"


def load_model(path: str | os.PathLike) -> SavedModel:
    """The model in folder `path` (for example 'models/demo'), after checking every file.

    Each file must be a plain file of the size and sha256 recorded in metadata.json, and the
    model must parse as a model; anything else is refused with `ImpactIQError`. Nothing is
    unpickled. A model replaced while it is being read is read again once, from its new version.
    """
    folder = Path(path)
    try:
        return _load(folder)
    except OSError:
        try:
            return _load(folder)
        except OSError as error:
            raise ImpactIQError(
                f"The model '{folder.name}' changed while it was being read ({error.strerror}); try again."
            ) from error


def _load(folder: Path) -> SavedModel:
    version = _resolve(folder)
    metadata = read_metadata(version)
    _check_files(version)
    contents = {}
    for file in MODEL_FILES:
        recorded = metadata["files"][file]
        contents[file] = _read_plain_file(version / file, recorded["bytes"], folder / file)
        if hashlib.sha256(contents[file]).hexdigest() != recorded["sha256"]:
            raise ImpactIQError(
                f"The model file {folder / file} does not match the hash recorded when it was saved: it was "
                "changed or corrupted. Retrain the model or restore the file."
            )
    holdout = contents[HOLDOUT_FILE]
    if not (len(holdout) > 8 and holdout.startswith(_PARQUET_MAGIC) and holdout.endswith(_PARQUET_MAGIC)):
        raise ImpactIQError(
            f"The holdout file {folder / HOLDOUT_FILE} is not a complete Parquet file; the model folder is "
            "damaged. Retrain the model."
        )
    model = PortableModel.from_bytes(contents[JSON_FILE], contents[ARRAYS_FILE])
    arms = metadata.get("arms", [])
    if model.n_arms != max(len(arms), 1):
        raise ImpactIQError(
            f"The model in '{folder}' does not have the arms its metadata names; retrain the model."
        )
    if tuple(model.feature_names_in_) != _schema(metadata, folder).features:
        raise ImpactIQError(f"The model in '{folder}' does not match its own schema; retrain the model.")
    return SavedModel(folder, metadata, model, holdout, _version_warnings(metadata["versions"]))


def read_holdout(content: bytes, folder: Path, arms: tuple[str, ...] = ()):
    """The holdout predictions parsed from the bytes of holdout.parquet, checked for the
    columns every page reads (every arm's, for a multi-arm model)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from impactiq.uplift.arms import ARM_COLUMN, CONTROL_PREDICTION, arm_columns
    from impactiq.uplift.scoring import REQUIRED_COLUMNS

    required = list(REQUIRED_COLUMNS)
    if arms:
        per_arm = [arm_columns(a)[c] for a in arms for c in ("uplift", "uplift_upper", "y1_pred")]
        required = ["y", "t", ARM_COLUMN, CONTROL_PREDICTION, *per_arm]

    try:
        frame = pq.read_table(pa.BufferReader(content)).to_pandas()
    except (pa.ArrowException, OSError, ValueError, TypeError, KeyError) as error:
        raise ImpactIQError(
            f"The holdout file of '{folder}' cannot be read ({error}); the model folder is damaged. "
            "Retrain the model."
        ) from error
    lacking = [c for c in required if c not in frame.columns]
    if lacking or len(frame) == 0:
        raise ImpactIQError(
            f"The holdout file of '{folder}' lacks the predictions {', '.join(lacking) or '(no rows)'}; the "
            "model folder is damaged. Retrain the model."
        )
    return frame


def read_metadata(path: str | os.PathLike) -> dict:
    """The parsed and checked metadata.json of model folder `path`; the model files are not read."""
    folder = Path(path)
    if not folder.is_dir():
        raise ImpactIQError(
            f"There is no model folder '{folder}'. Train one (`python -m impactiq train ... --out "
            f"{folder}`) or pick an existing one in '{folder.parent}'."
        )
    metadata_path = folder / METADATA_FILE
    if not os.path.lexists(metadata_path):
        raise ImpactIQError(
            f"'{folder}' is not a saved ImpactIQ model: it has no {METADATA_FILE}. Point to a folder "
            "written by ImpactIQ, such as models/demo."
        )
    try:
        metadata = json.loads(_read_plain_file(metadata_path, None, metadata_path).decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise ImpactIQError(
            f"'{metadata_path}' is not valid JSON ({error}): it was changed or damaged. Retrain the model."
        ) from error
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT_VERSION:
        found = metadata.get("format") if isinstance(metadata, dict) else None
        raise ImpactIQError(
            f"'{folder}' holds a model in format {found!r}; this version of ImpactIQ reads format "
            f"{FORMAT_VERSION} (models saved as data, without pickles). Retrain the model."
        )
    wrong = [key for key, kind in REQUIRED_KEYS.items() if not isinstance(metadata.get(key), kind)]
    files = metadata.get("files")
    if isinstance(files, dict):
        wrong += [
            f"files.{file}"
            for file in MODEL_FILES
            if not (
                isinstance(files.get(file), dict)
                and isinstance(files[file].get("sha256"), str)
                and isinstance(files[file].get("bytes"), int)
            )
        ]
    if wrong:
        raise ImpactIQError(
            f"'{metadata_path}' lacks the entries {', '.join(wrong)} or they have the wrong type: it was "
            "changed or damaged. Retrain the model."
        )
    _check_profile(metadata, _schema(metadata, folder), metadata_path)
    _check_arms(metadata, metadata_path)
    return metadata


def _check_arms(metadata: dict, path: Path) -> None:
    """A multi-arm model's arms, and its metrics and deciles for each of them."""
    arms = metadata.get("arms", [])
    if not (isinstance(arms, list) and all(isinstance(a, str) for a in arms) and len(set(arms)) == len(arms)):
        raise ImpactIQError(f"'{path}' names its arms wrongly: it was changed or damaged. Retrain the model.")
    if not arms:
        return
    by_arm = [metadata.get("arm_metrics"), metadata.get("arm_deciles")]
    if not all(isinstance(table, dict) and sorted(table) == sorted(arms) for table in by_arm) or not all(
        isinstance(metadata["arm_metrics"][a], dict) and isinstance(metadata["arm_deciles"][a], list)
        for a in arms
    ):
        raise ImpactIQError(
            f"'{path}' lacks the metrics or deciles of some arm: it was changed or damaged. Retrain the model."
        )


def list_models(models_dir: str | os.PathLike = MODELS_DIR) -> list[dict]:
    """Every model under `models_dir`: usable ones newest first, then broken ones.

    Each entry has name, path, version (the folder the name leads to), arms (empty for a
    two-arm model) and arm_qini (each arm's holdout Qini AUC against control), data_set, rows (rows trained and evaluated on), outcome,
    estimator, created, qini, qini_lower and qini_upper (the holdout Qini AUC and its bootstrap
    95% interval) and error: None for a usable model, else why it cannot be used (listed so
    that it can be seen and deleted, never offered to a page). A model is usable when it loads:
    every file present, matching its hash and parsing; the verdict is computed once per saved
    version and process.
    """
    root = Path(models_dir)
    if not root.is_dir():
        return []
    good, broken = [], []
    for folder in sorted(p for p in root.iterdir() if not p.name.startswith(".")):
        if not (folder.is_dir() or folder.is_symlink()):
            continue
        entry = {"name": folder.name, "path": str(folder), "version": str(folder.resolve()), "error": None}
        entry.update(dict.fromkeys(("data_set", "rows", "outcome", "estimator", "created")))
        entry.update(dict.fromkeys(("qini", "qini_lower", "qini_upper")), arms=(), arm_qini={})
        try:
            check_name(folder.name)
            metadata = read_metadata(folder)
            entry.update(_listing(metadata))
            _check_loadable(folder)
        except ImpactIQError as error:
            entry["error"] = str(error)
            broken.append(entry)
            continue
        except OSError as error:
            entry["error"] = f"It changed while it was being read ({error.strerror}); reload the page."
            broken.append(entry)
            continue
        good.append(entry)
    good.sort(key=lambda e: e["created"], reverse=True)
    return good + broken


def usable_models(models_dir: str | os.PathLike = MODELS_DIR) -> list[dict]:
    """The `list_models` entries of the models that load, newest first: those a page may offer."""
    return [entry for entry in list_models(models_dir) if entry["error"] is None]


def delete_model(path: str | os.PathLike) -> None:
    """Delete model `path` (`models_dir/name`): its version folder, then its link.

    A broken model can be deleted too. A plain folder holding files ImpactIQ does not write is
    refused; a link whose target lies outside the models folder is removed, its target left
    alone.
    """
    folder = Path(path)
    if not os.path.lexists(folder):
        raise ImpactIQError(f"There is no model '{folder.name}' to delete; it may have been deleted already.")
    root = folder.parent
    store = _versions(root)
    with _locked(store):
        if folder.is_symlink():
            version = _resolve(folder, must_exist=False)
            if version.parent == store.resolve() and version.is_dir():
                # Moved away first: a crash now leaves a dangling link (listed broken), never a
                # deleted model that the next clean-up would bring back.
                os.rename(version, store / f".deleting-{uuid.uuid4().hex}")
            os.unlink(folder)
            _fsync_dir(root)
        elif _is_model_folder(folder, ARTIFACT_FILES) or _is_model_folder(folder, LEGACY_FILES):
            os.rename(folder, store / f".deleting-{uuid.uuid4().hex}")
        else:
            raise ImpactIQError(
                f"'{folder}' holds files that ImpactIQ does not write, so it is not deleted. Delete it by "
                "hand if you mean to."
            )
        _clean(root, store)


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


# ---------------------------------------------------------------- writing


def _write_folder(trained: TrainedModel, name: str, folder: Path) -> None:
    """The four files of a model version, metadata last since it records the others' hashes."""
    model = trained.model
    portable = model.portable_ if hasattr(model, "portable_") else model
    portable.save(folder)
    trained.holdout.to_parquet(folder / HOLDOUT_FILE, index=False)
    files = {
        f: {"sha256": file_sha256(folder / f), "bytes": (folder / f).stat().st_size} for f in MODEL_FILES
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
        "interval_method": portable.interval_method,
        "seed": trained.seed,
        "metrics": trained.metrics,
        "deciles": trained.deciles.to_dict(orient="records"),
        "arms": list(trained.arms),
        "arm_metrics": trained.arm_metrics,
        "arm_deciles": {arm: table.to_dict(orient="records") for arm, table in trained.arm_deciles.items()},
        "features": trained.feature_profile,
        "data": trained.data,
        "fit": trained.fit,
        "versions": library_versions(),
        "files": files,
    }
    text = json.dumps(json_ready(metadata), indent=2, allow_nan=False)
    (folder / METADATA_FILE).write_text(text, encoding="utf-8")
    for file in ARTIFACT_FILES:
        _fsync_file(folder / file)
    _fsync_dir(folder)


def check_unused(target: str | os.PathLike) -> None:
    """Refuse (`ModelExistsError`) a model path that is taken, before anything is trained for it."""
    target = Path(target)
    if os.path.lexists(target):
        raise ModelExistsError(
            f"A model named '{target.name}' already exists, so it was not replaced. Choose another name, "
            "or replace it on purpose (the Train page asks you to confirm; the command line takes --replace)."
        )


def _retire_legacy(target: Path, store: Path) -> None:
    """Move a plain model folder of the previous format out of the way of a link of the new one."""
    if target.is_symlink() or not os.path.lexists(target):
        return
    if not (_is_model_folder(target, LEGACY_FILES) or _is_model_folder(target, ARTIFACT_FILES)):
        raise ImpactIQError(
            f"'{target}' exists and is not an ImpactIQ model folder, so it is not replaced. Choose another "
            "name or move that folder away."
        )
    # Named as a version: a crash before the new link is in place leaves it to `_clean`, which
    # links it back under its name.
    os.rename(target, store / _version_name(target.name))


def _versions(root: Path) -> Path:
    store = root / VERSIONS_DIR
    store.mkdir(parents=True, exist_ok=True)
    return store


@contextmanager
def _locked(store: Path):
    """Hold the models folder's lock (an exclusive `flock`), waiting up to `LOCK_TIMEOUT_S`."""
    handle = os.open(store / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + LOCK_TIMEOUT_S
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise ImpactIQError(
                        f"Another save or delete has held the models folder '{store.parent}' for "
                        f"{LOCK_TIMEOUT_S:.0f} s; try again in a moment."
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(handle)


def _clean(root: Path, store: Path) -> None:
    """Tidy up after crashed or finished saves and deletes; runs under the lock.

    - a version whose name has no entry at all (a crash between moving it into place and
      linking it) gets its link back: the newest such version of each name;
    - every other version no name links to is removed, as are staging folders whose writer no
      longer holds its lock, folders set aside for deletion, link files never renamed into
      place, and the previous format's hidden staging folders.
    """
    for entry in root.iterdir():
        if re.fullmatch(r"\..+\.link-[0-9a-f]{32}", entry.name) and entry.is_symlink():
            entry.unlink(missing_ok=True)
        elif re.fullmatch(r"\..+\.(saving|replaced|deleting)-\w+", entry.name) and entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
    unlinked: dict[str, list[Path]] = {}
    for entry in sorted(store.iterdir()):
        match = _VERSION_NAME.fullmatch(entry.name)
        if match and entry.is_dir() and not os.path.lexists(root / match.group(1)):
            unlinked.setdefault(match.group(1), []).append(entry)
    for name, versions in unlinked.items():
        _link(root / name, versions[-1])  # names sort by time stamp: the last is the newest
    linked = {p.resolve() for p in root.iterdir() if p.is_symlink() and not p.name.startswith(".")}
    for entry in store.iterdir():
        if entry.name == LOCK_FILE or entry.resolve() in linked:
            continue
        if entry.name.startswith(STAGING_PREFIX) and not _abandoned(entry):
            continue
        if entry.name.startswith(_NEW_LOCK_PREFIX) and time.time() - entry.lstat().st_mtime < _NEW_LOCK_AGE_S:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


@contextmanager
def _staging(store: Path):
    """A new staging folder in `store`, removed on the way out, and a lock held while writing.

    The lock (an `flock` on `<folder>.lock`) tells `_clean` in any process that the writer is
    alive; once the writer dies, for any reason, the kernel releases it. The lock file is
    locked under a temporary name and then renamed, so it is never seen unlocked while its
    writer lives.
    """
    token = uuid.uuid4().hex
    staging = store / f"{STAGING_PREFIX}{token}"
    lock_path = store / f"{STAGING_PREFIX}{token}.lock"
    fresh = store / f"{_NEW_LOCK_PREFIX}{token}"
    handle = os.open(fresh, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        os.rename(fresh, lock_path)
        staging.mkdir()
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        lock_path.unlink(missing_ok=True)
        fresh.unlink(missing_ok=True)
        os.close(handle)


def _abandoned(entry: Path) -> bool:
    """Whether staging folder (or its lock file) `entry` belongs to a writer that is gone."""
    lock_path = entry if entry.name.endswith(".lock") else entry.with_name(entry.name + ".lock")
    try:
        handle = os.open(lock_path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return True
    try:
        fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(handle)
    return True


def _version_name(name: str) -> str:
    return f"{name}.{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}.{uuid.uuid4().hex[:8]}"


def _link(target: Path, version: Path) -> None:
    """Point name `target` at `version` with one atomic rename of a new link over it."""
    link = target.parent / f".{target.name}.link-{uuid.uuid4().hex}"
    os.symlink(os.path.join(VERSIONS_DIR, version.name), link)
    os.replace(link, target)
    _fsync_dir(target.parent)


def _read_plain_file(path: Path, size: int | None, shown: Path) -> bytes:
    """The bytes of `path`, which must be a plain file (not a link, a pipe or a device) of
    `size` bytes when given, else at most `MAX_METADATA_BYTES`."""
    try:
        handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENXIO):
            raise ImpactIQError(
                f"{shown} is not a plain file; the model folder is damaged. Retrain it."
            ) from error
        raise
    try:
        info = os.fstat(handle)
        limit = MAX_METADATA_BYTES if size is None else size
        if (
            not stat.S_ISREG(info.st_mode)
            or info.st_size > limit
            or (size is not None and info.st_size != size)
        ):
            raise ImpactIQError(
                f"{shown} is not a plain file of the size recorded when it was saved; the model folder is "
                "damaged. Retrain the model."
            )
        with os.fdopen(handle, "rb", closefd=False) as stream:
            return stream.read(limit + 1)
    finally:
        os.close(handle)


def _fsync_file(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    except OSError as error:  # some file systems cannot sync a directory
        if error.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise
    finally:
        os.close(handle)


# ---------------------------------------------------------------- reading

_LOADABLE: dict[tuple, str | None] = {}


def _check_loadable(folder: Path) -> None:
    """Raise `ImpactIQError` unless `folder` loads; the verdict is cached per version and stat."""
    version = _resolve(folder)
    key = (
        str(version),
        *((p.name, p.lstat().st_size, p.lstat().st_mtime_ns) for p in sorted(version.iterdir())),
    )
    if key not in _LOADABLE:
        try:
            model = load_model(version)
            read_holdout(model._holdout_bytes, folder, model.arms)
        except ImpactIQError as error:
            _LOADABLE[key] = str(error).replace(str(version), str(folder))
        else:
            _LOADABLE[key] = None
    if _LOADABLE[key] is not None:
        raise ImpactIQError(_LOADABLE[key])


def _check_files(version: Path) -> None:
    """Refuse a version folder holding anything but the plain files that `save_model` writes."""
    entries = sorted(version.iterdir())
    extra = [p.name for p in entries if p.name not in ARTIFACT_FILES]
    if extra:
        raise ImpactIQError(
            f"The model folder holds file(s) ImpactIQ does not write ({', '.join(repr(n) for n in extra)}), "
            "so it is not trusted. Delete the model and retrain it."
        )
    odd = [p.name for p in entries if not stat.S_ISREG(p.lstat().st_mode)]
    if odd:
        raise ImpactIQError(
            f"In the model folder, {', '.join(repr(n) for n in odd)} is not a plain file (a link, a pipe or "
            "a folder), so it is not trusted. Delete the model and retrain it."
        )


def _check_profile(metadata: dict, schema: Schema, path: Path) -> None:
    """Refuse a feature profile that the pages could not use (what each feature looked like)."""
    profile = metadata["features"]

    def number(value) -> bool:
        return value is None or (isinstance(value, int | float) and not isinstance(value, bool))

    def numeric(spec) -> bool:
        return (
            spec.get("dtype") in _NUMERIC_DTYPES
            and number(spec.get("min"))
            and number(spec.get("max"))
            and number(spec.get("missing_share"))
            and isinstance(spec.get("quantiles"), dict)
            and all(number(v) for v in spec["quantiles"].values())
        )

    def categorical(spec) -> bool:
        categories, frequencies = spec.get("categories"), spec.get("frequencies")
        return (
            isinstance(categories, list)
            and len(categories) > 0
            and all(isinstance(c, str) for c in categories)
            and isinstance(frequencies, dict)
            and all(number(v) and v is not None for v in frequencies.values())
        )

    wrong = [
        name
        for names, valid in ((schema.numeric_features, numeric), (schema.categorical_features, categorical))
        for name in names
        if not (isinstance(profile.get(name), dict) and valid(profile[name]))
    ]
    if wrong:
        raise ImpactIQError(
            f"'{path}' describes the feature(s) {', '.join(map(repr, wrong[:5]))} wrongly: it was changed or "
            "damaged. Retrain the model."
        )


def _resolve(folder: Path, *, must_exist: bool = True) -> Path:
    """The version folder a model name links to (the folder itself for a plain folder)."""
    if folder.is_symlink():
        version = folder.resolve()
        if must_exist and not version.is_dir():
            raise ImpactIQError(
                f"The model '{folder.name}' points to a version that no longer exists; delete it and retrain."
            )
        return version
    return folder


def _schema(metadata: dict, folder: Path) -> Schema:
    try:
        return Schema.from_dict(metadata["schema"])
    except (TypeError, ValueError, KeyError) as error:
        raise ImpactIQError(
            f"The schema in '{folder / METADATA_FILE}' is damaged ({error}); retrain the model."
        ) from error


def _listing(metadata: dict) -> dict:
    """What the saved-models list shows of one model, read from its metadata."""
    data = metadata["data"]
    qini = metadata["metrics"].get("qini_auc_score")
    qini = qini if isinstance(qini, dict) else {}
    arm_qini = {
        arm: metrics.get("qini_auc_score", {}) for arm, metrics in metadata.get("arm_metrics", {}).items()
    }
    return {
        "arms": tuple(metadata.get("arms", ())),
        "arm_qini": arm_qini,
        "data_set": data.get("name"),
        "rows": data.get("n_rows"),
        "outcome": metadata["outcome"],
        "estimator": metadata["estimator"],
        "created": metadata["created"],
        "qini": qini.get("estimate"),
        "qini_lower": qini.get("lower"),
        "qini_upper": qini.get("upper"),
    }


def _is_model_folder(folder: Path, files: tuple[str, ...]) -> bool:
    """Whether plain folder `folder` holds only `files`."""
    return folder.is_dir() and not folder.is_symlink() and all(p.name in files for p in folder.iterdir())


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
