"""A visitor's work kept on the server, so that a reload or a shared link loses nothing.

A browser session lives in the server's memory: a reload starts a new one, and an uploaded,
mapped data set or a model trained but not saved would be gone. A workspace is a folder that
holds that work as data only, under an id too long to guess (128 random bits) that the app keeps
in the URL (`?ws=...`):

- `experiment.parquet` (the validated table), `assignment.npz` (each row's treated flag and
  arm; read with `allow_pickle=False`) and `experiment.json` (name, schema, warnings, where the
  data came from);
- `training.json` while a model is being trained, so that a reload during training can say the
  training was interrupted instead of showing nothing;
- `models/last`: the last trained model, in the model store's own format (`uplift.store`);
- `tables/<section>/`: other pages' work as named Parquet tables and an `about.json` (the
  Journeys page keeps its linked logs there).

Nothing in a workspace is ever executed: tables are Parquet, arrays npz without pickles, the
rest JSON. Each file is written to a temporary name and renamed into place, so a reader never
sees half a file. Workspaces untouched for `MAX_AGE_DAYS` are removed when a new one is made.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from impactiq.data.experiment import Experiment
from impactiq.data.schema import Schema
from impactiq.errors import ImpactIQError
from impactiq.uplift.store import SavedModel, load_model, save_model

MAX_AGE_DAYS = 30
# secrets.token_urlsafe(16): 22 characters of the URL-safe base64 alphabet.
_ID = re.compile(r"[A-Za-z0-9_-]{22}")
_TABLE, _ASSIGNMENT, _ABOUT, _TRAINING = (
    "experiment.parquet",
    "assignment.npz",
    "experiment.json",
    "training.json",
)
_MODELS, _LAST = "models", "last"


@dataclass(frozen=True)
class Workspace:
    """One visitor's folder; `id` is what the URL carries."""

    path: Path

    @property
    def id(self) -> str:
        return self.path.name

    def save_experiment(self, experiment: Experiment, source: str) -> None:
        """Keep the data set every page works on; a new one replaces the last, and its model."""
        _replace_file(self.path / _TABLE, lambda tmp: experiment.frame.to_parquet(tmp, index=False))
        arrays = {"t": np.asarray(experiment.t)}
        if experiment.arm is not None:
            arrays["arm"] = np.asarray(experiment.arm)
        _replace_file(self.path / _ASSIGNMENT, lambda tmp: _savez(tmp, arrays))
        about = {
            "name": experiment.name,
            "source": source,
            "schema": experiment.schema.to_dict(),
            "warnings": list(experiment.warnings),
            "saved": time.time(),
        }
        _replace_file(
            self.path / _ABOUT, lambda tmp: Path(tmp).write_text(json.dumps(about), encoding="utf-8")
        )
        shutil.rmtree(self.path / _MODELS, ignore_errors=True)
        (self.path / _TRAINING).unlink(missing_ok=True)

    def load_experiment(self) -> tuple[Experiment, str] | None:
        """The data set kept here and where it came from; None when there is none."""
        if not (self.path / _ABOUT).is_file():
            return None
        try:
            about = json.loads((self.path / _ABOUT).read_text(encoding="utf-8"))
            frame = pd.read_parquet(self.path / _TABLE)
            with np.load(self.path / _ASSIGNMENT, allow_pickle=False) as arrays:
                t = arrays["t"]
                arm = arrays["arm"] if "arm" in arrays.files else None
            schema = Schema.from_dict(about["schema"])
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ImpactIQError(
                f"The data kept for this link cannot be read ({error}); load the data set again."
            ) from error
        if len(t) != len(frame) or (arm is not None and len(arm) != len(frame)):
            raise ImpactIQError("The data kept for this link is incomplete; load the data set again.")
        experiment = Experiment(
            name=str(about["name"]),
            frame=frame,
            schema=schema,
            t=t,
            warnings=list(about["warnings"]),
            arm=arm,
        )
        return experiment, str(about["source"])

    def start_training(self, outcome: str, estimator: str) -> None:
        """Mark a training as under way (`interrupted_training` reads the mark after a reload)."""
        mark = {"outcome": outcome, "estimator": estimator, "started": time.time()}
        _replace_file(
            self.path / _TRAINING, lambda tmp: Path(tmp).write_text(json.dumps(mark), encoding="utf-8")
        )

    def save_trained(self, trained) -> None:
        """Keep the model just trained (or restored) as the workspace's last model."""
        save_model(trained, _LAST, models_dir=self.path / _MODELS, replace=True)
        (self.path / _TRAINING).unlink(missing_ok=True)

    def load_trained(self) -> SavedModel | None:
        """The last model trained here; None when there is none."""
        folder = self.path / _MODELS / _LAST
        return load_model(folder) if os.path.lexists(folder) else None

    def interrupted_training(self) -> dict | None:
        """What was being trained when the session ended (outcome, estimator, started), if it never finished."""
        try:
            return json.loads((self.path / _TRAINING).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def forget_training(self) -> None:
        """Clear the mark once the user has been told."""
        (self.path / _TRAINING).unlink(missing_ok=True)

    def save_tables(self, section: str, tables: dict[str, pd.DataFrame], about: dict) -> None:
        """Keep a page's tables and a JSON-able description under `section`, replacing what was there.

        Written into a new folder that is then swapped in, so a reader sees the old set or the
        new one, never a mix."""
        folder = self._section(section)
        staging = folder.with_name(f".{section}.{secrets.token_hex(4)}")
        staging.mkdir(parents=True)
        try:
            for name, table in tables.items():
                _check_name(name)
                table.to_parquet(staging / f"{name}.parquet", index=False)
            (staging / "about.json").write_text(json.dumps(about), encoding="utf-8")
            old = folder.with_name(f".{section}.old.{secrets.token_hex(4)}")
            if folder.exists():
                os.rename(folder, old)
            os.rename(staging, folder)
            shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def load_tables(self, section: str) -> tuple[dict[str, pd.DataFrame], dict] | None:
        """The tables and description kept under `section`; None when there are none."""
        folder = self._section(section)
        if not (folder / "about.json").is_file():
            return None
        try:
            about = json.loads((folder / "about.json").read_text(encoding="utf-8"))
            tables = {path.stem: pd.read_parquet(path) for path in sorted(folder.glob("*.parquet"))}
        except (OSError, ValueError) as error:
            raise ImpactIQError(
                f"The work kept for this link cannot be read ({error}); load it again."
            ) from error
        return tables, about

    def _section(self, section: str) -> Path:
        _check_name(section)
        return self.path / "tables" / section


def new_workspace(root: str | os.PathLike) -> Workspace:
    """A fresh workspace under `root`; workspaces untouched for MAX_AGE_DAYS are removed first."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    _remove_stale(root)
    path = root / secrets.token_urlsafe(16)
    path.mkdir()
    return Workspace(path)


def open_workspace(root: str | os.PathLike, workspace_id: str) -> Workspace | None:
    """The workspace `workspace_id` names, or None: an id from a URL is checked before it names a folder."""
    if not isinstance(workspace_id, str) or not _ID.fullmatch(workspace_id):
        return None
    path = Path(root) / workspace_id
    if not path.is_dir() or path.is_symlink():
        return None
    os.utime(path)  # in use: not stale
    return Workspace(path)


def _check_name(name: str) -> None:
    """A section or table name: lower-case letters, digits and '_' (it becomes a file name)."""
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", name):
        raise ImpactIQError(f"'{name}' cannot name kept work: use lower-case letters, digits and '_'.")


def _replace_file(target: Path, write) -> None:
    """Write through `write(temporary path)`, then rename into place."""
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}")
    try:
        write(str(temporary))
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def _savez(path: str, arrays: dict) -> None:
    # Through a handle: given a name, numpy would append ".npz" to the temporary one.
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


def _remove_stale(root: Path) -> None:
    limit = time.time() - MAX_AGE_DAYS * 86_400
    for entry in root.iterdir():
        if (
            _ID.fullmatch(entry.name)
            and entry.is_dir()
            and not entry.is_symlink()
            and entry.stat().st_mtime < limit
        ):
            shutil.rmtree(entry, ignore_errors=True)
