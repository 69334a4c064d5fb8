"""Data files on the server: the tables in the folder named by `IMPACTIQ_DATA_DIR`.

A 3 GB Criteo file does not belong in a browser upload; the server's operator puts it in a folder
and points `IMPACTIQ_DATA_DIR` at it, and the Data page lists and opens what is there (read by
`data.reader.read_table` without the upload's size limit).

Only the top level of the folder is listed, not its subfolders: the folder is what the operator
chose to expose, a walk through a mount of a whole data lake would be slow on every page run, and
a flat listing lets a name be a bare file name, so that no name a visitor picks can hold a folder,
a `..` or an absolute path. Hidden files (a leading dot) and files the server cannot read are
left out; so is a link whose target lies outside the folder.

Nothing from a URL or a form chooses a path: `open_data_file` returns a path only for a name
that is in `list_data_files`'s listing, resolved (links followed) inside the folder.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from impactiq.errors import ImpactIQError

# The environment variable that names the folder.
DATA_DIR_VARIABLE = "IMPACTIQ_DATA_DIR"
# Names of the files listed: what `read_table` reads (it recognises the format from the content;
# these are the names such files carry). Tab-separated text is CSV to the reader.
DATA_FILE_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".parquet", ".pq")


@dataclass(frozen=True)
class DataFile:
    """One table in the data folder: its name there, its resolved path, size and modification time."""

    name: str
    path: Path
    size: int
    modified: dt.datetime  # UTC


def data_folder() -> Path | None:
    """The folder named by `IMPACTIQ_DATA_DIR`, or None when the variable is unset or empty."""
    value = os.environ.get(DATA_DIR_VARIABLE, "").strip()
    return Path(value).expanduser() if value else None


def list_data_files(folder: str | os.PathLike) -> list[DataFile]:
    """The readable CSV and Parquet files at the top of `folder`, sorted by name.

    Raises ImpactIQError when the folder does not exist, is not a folder or cannot be read.
    """
    root = _resolved_folder(folder)
    try:
        entries = list(os.scandir(root))
    except OSError as error:
        raise ImpactIQError(
            f"The data folder '{root}' ({DATA_DIR_VARIABLE}) cannot be read ({error.strerror or error}). "
            "Give the server's user permission to read it, or point the variable to another folder."
        ) from error
    found = []
    for entry in entries:
        name = entry.name
        if name.startswith(".") or not name.lower().endswith(DATA_FILE_SUFFIXES):
            continue
        path = _inside(root, name)
        if path is None or not path.is_file() or not os.access(path, os.R_OK):
            continue
        stat = path.stat()
        modified = dt.datetime.fromtimestamp(stat.st_mtime, tz=dt.UTC)
        found.append(DataFile(name=name, path=path, size=stat.st_size, modified=modified))
    return sorted(found, key=lambda f: (f.name.lower(), f.name))


def open_data_file(folder: str | os.PathLike, name: str) -> Path:
    """The path of the file `name` in `folder`, only if `list_data_files(folder)` lists it.

    A name with a folder in it, `..`, an absolute path or a link leading outside the folder is
    refused with an ImpactIQError, as is a name that is not listed.
    """
    root = _resolved_folder(folder)
    if not name or name != Path(name).name or name in (".", "..") or "\\" in name or "\0" in name:
        raise ImpactIQError(
            f"'{name}' is not the name of a file in the data folder: give the bare name of one of the "
            "listed files, without a folder, '..' or an absolute path."
        )
    if (root / name).is_symlink() and _inside(root, name) is None:
        raise ImpactIQError(
            f"'{name}' is a link to a file outside the data folder '{root}'; only files inside "
            f"{DATA_DIR_VARIABLE} are opened. Copy or move the file into the folder."
        )
    for listed in list_data_files(root):
        if listed.name == name:
            return listed.path
    raise ImpactIQError(
        f"There is no readable CSV or Parquet file named '{name}' in the data folder '{root}'. Choose "
        f"one of the listed files, or put the file there ({', '.join(DATA_FILE_SUFFIXES)})."
    )


def _resolved_folder(folder: str | os.PathLike) -> Path:
    path = Path(folder).expanduser()
    if not path.is_dir():
        what = "is not a folder" if path.exists() else "does not exist"
        raise ImpactIQError(
            f"The data folder '{path}' ({DATA_DIR_VARIABLE}) {what}. Create it, or point "
            f"{DATA_DIR_VARIABLE} to the folder on the server that holds the data files."
        )
    return path.resolve()


def _inside(root: Path, name: str) -> Path | None:
    """`root / name` with links followed, or None when that leads outside `root` (or nowhere)."""
    try:
        path = (root / name).resolve(strict=True)
    except (OSError, RuntimeError):  # a dangling link, a loop of links
        return None
    return path if path.is_relative_to(root) and path != root else None
