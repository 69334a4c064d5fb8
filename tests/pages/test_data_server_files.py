"""AppTest of the Data page's "Server files" tab: tables from IMPACTIQ_DATA_DIR, opened like uploads."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from impactiq.data.server_files import DATA_DIR_VARIABLE
from impactiq.data.synthetic import make_criteo_like
from impactiq.present.text import plain

APP = "../../streamlit_app.py"
PICKER = "File on the server"


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    folder = tmp_path / "data"
    folder.mkdir()
    make_criteo_like(500, seed=0).to_parquet(folder / "criteo_small.parquet", index=False)
    (folder / "ab.csv").write_bytes(b"group,bought,age\n" + b"A,1,30\nB,0,40\n" * 50)
    (folder / "readme.txt").write_text("not listed")
    monkeypatch.setenv(DATA_DIR_VARIABLE, str(folder))
    return folder


def _app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception
    return at


def _open(at: AppTest, name: str) -> None:
    next(s for s in at.selectbox if s.label == PICKER).set_value(name)
    at.run()
    next(b for b in at.button if b.label == "Open").click()
    at.run()


def _subheaders(at: AppTest) -> list[str]:
    return [s.value for s in at.subheader]


def test_the_tab_lists_the_folder_and_opens_a_criteo_file_at_once(data_dir):
    at = _app()
    assert [t.label for t in at.tabs] == ["Upload a file", "Demo data", "Server files"]
    listing = next(d.value for d in at.dataframe if "modified (UTC)" in d.value.columns)
    assert list(listing["name"]) == ["ab.csv", "criteo_small.parquet"]
    assert listing["size"].str.endswith(("KB", "MB")).all()
    _open(at, "criteo_small.parquet")
    assert not at.exception and not at.error
    assert f"Current data set: {plain('criteo_small.parquet')}" in _subheaders(at)
    assert any(c.value.startswith(plain("server file criteo_small.parquet")) for c in at.caption)
    assert any("Randomization check" in m.value for m in [*at.success, *at.warning])


def test_another_table_opens_the_mapping_form(data_dir):
    at = _app()
    _open(at, "ab.csv")
    assert not at.exception and not at.error
    assert f"Map the columns of {plain('ab.csv')}" in _subheaders(at)
    assert next(s for s in at.selectbox if s.label == "Treatment column").value == "group"
    next(m for m in at.multiselect if m.label == "Treated values").set_value(["B"])
    next(m for m in at.multiselect if m.label == "Control values").set_value(["A"])
    next(m for m in at.multiselect if m.label == "Outcome columns").set_value(["bought"])
    next(m for m in at.multiselect if m.label.startswith("Feature columns")).set_value(["age"])
    next(b for b in at.button if b.label == "Use this mapping").click()
    at.run()
    assert not at.exception and not at.error
    assert f"Current data set: {plain('ab.csv')}" in _subheaders(at)
    assert plain("server file ab.csv") in [c.value for c in at.caption]


def test_without_the_variable_the_tab_says_how_to_enable_it(monkeypatch):
    monkeypatch.delenv(DATA_DIR_VARIABLE, raising=False)
    at = _app()
    assert any(DATA_DIR_VARIABLE in m.value and "folder on the server" in m.value for m in at.info)
    assert not any(b.label == "Open" for b in at.button)


def test_a_missing_folder_is_explained(monkeypatch, tmp_path):
    monkeypatch.setenv(DATA_DIR_VARIABLE, str(tmp_path / "nowhere"))
    at = _app()
    assert not at.exception
    assert any("does not exist" in e.value for e in at.error)
