import os

import pytest

from impactiq.data.server_files import (
    DATA_DIR_VARIABLE,
    data_folder,
    list_data_files,
    open_data_file,
)
from impactiq.errors import ImpactIQError


@pytest.fixture
def folder(tmp_path):
    """A data folder with two tables, files of other kinds, a hidden file and a subfolder."""
    root = tmp_path / "data"
    root.mkdir()
    (root / "b.parquet").write_bytes(b"PAR1" + b"\0" * 96)
    (root / "a.csv").write_text("treatment,visit\n1,0\n")
    (root / "c.csv.gz").write_bytes(b"\x1f\x8b" + b"\0" * 10)
    (root / "notes.txt").write_text("not a table")
    (root / "model.json").write_text("{}")
    (root / ".hidden.csv").write_text("x\n1\n")
    (root / "sub").mkdir()
    (root / "sub" / "deep.csv").write_text("x\n1\n")
    return root


def test_data_folder_reads_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv(DATA_DIR_VARIABLE, raising=False)
    assert data_folder() is None
    monkeypatch.setenv(DATA_DIR_VARIABLE, "  ")
    assert data_folder() is None
    monkeypatch.setenv(DATA_DIR_VARIABLE, str(tmp_path))
    assert data_folder() == tmp_path


def test_lists_tables_at_the_top_sorted_by_name_with_size_and_time(folder):
    files = list_data_files(folder)
    assert [f.name for f in files] == ["a.csv", "b.parquet", "c.csv.gz"]
    assert [f.size for f in files] == [20, 100, 12]
    assert all(f.path.parent == folder.resolve() for f in files)
    assert all(f.modified.tzinfo is not None for f in files)


def test_unreadable_files_are_not_listed(folder):
    if os.geteuid() == 0:
        pytest.skip("root reads every file")
    (folder / "a.csv").chmod(0)
    assert "a.csv" not in [f.name for f in list_data_files(folder)]


def test_open_returns_the_path_of_a_listed_file(folder):
    assert open_data_file(folder, "b.parquet") == (folder / "b.parquet").resolve()


@pytest.mark.parametrize(
    "name", ["../x", "..", ".", "sub/deep.csv", "/etc/passwd", "", "a.csv/..", "..\\a.csv"]
)
def test_open_refuses_names_that_are_not_bare_file_names(folder, name):
    with pytest.raises(ImpactIQError, match="bare name"):
        open_data_file(folder, name)


def test_open_refuses_an_absolute_path_even_to_a_listed_file(folder):
    with pytest.raises(ImpactIQError, match="bare name"):
        open_data_file(folder, str(folder / "a.csv"))


@pytest.mark.parametrize("name", ["notes.txt", "missing.csv", ".hidden.csv"])
def test_open_refuses_files_that_are_not_listed(folder, name):
    with pytest.raises(ImpactIQError, match="no readable CSV or Parquet file"):
        open_data_file(folder, name)


def test_a_link_leading_outside_the_folder_is_neither_listed_nor_opened(folder, tmp_path):
    secret = tmp_path / "secret.csv"
    secret.write_text("password\nhunter2\n")
    (folder / "escape.csv").symlink_to(secret)
    (folder / "up.csv").symlink_to(folder / ".." / "secret.csv")
    assert {"escape.csv", "up.csv"}.isdisjoint(f.name for f in list_data_files(folder))
    for name in ("escape.csv", "up.csv"):
        with pytest.raises(ImpactIQError, match="link to a file outside"):
            open_data_file(folder, name)


def test_a_link_inside_the_folder_is_followed(folder):
    (folder / "latest.csv").symlink_to(folder / "a.csv")
    assert open_data_file(folder, "latest.csv") == (folder / "a.csv").resolve()


def test_a_dangling_link_is_not_listed(folder):
    (folder / "gone.csv").symlink_to(folder / "nothing.csv")
    assert "gone.csv" not in [f.name for f in list_data_files(folder)]


def test_a_folder_reached_through_a_link_still_contains_its_files(tmp_path, folder):
    link = tmp_path / "link"
    link.symlink_to(folder)
    assert [f.name for f in list_data_files(link)] == ["a.csv", "b.parquet", "c.csv.gz"]
    assert open_data_file(link, "a.csv") == (folder / "a.csv").resolve()


def test_a_missing_folder_says_how_to_fix_it(tmp_path):
    with pytest.raises(ImpactIQError, match=f"does not exist.*{DATA_DIR_VARIABLE}"):
        list_data_files(tmp_path / "nowhere")
    with pytest.raises(ImpactIQError, match="does not exist"):
        open_data_file(tmp_path / "nowhere", "a.csv")


def test_a_file_in_place_of_the_folder_is_refused(folder):
    with pytest.raises(ImpactIQError, match="is not a folder"):
        list_data_files(folder / "a.csv")
