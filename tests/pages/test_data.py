"""AppTest of the Data page: demo on first visit, uploads, the mapping step and bad files."""

from __future__ import annotations

import gzip
import io

import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from impactiq.data.demo import HILLSTROM_FILE
from impactiq.data.mapping import MAX_LISTED_TREATMENT_VALUES
from impactiq.data.synthetic import make_criteo_like
from impactiq.present.text import plain

APP = "../../streamlit_app.py"


@pytest.fixture
def app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception
    return at


UPLOAD = "Upload an experiment (CSV, CSV.gz or Parquet, up to 1 GB)"


def _labelled(elements, label: str):
    """The one widget with this label: tests find widgets by what the user reads, not position."""
    return next(e for e in elements if e.label == label)


def _table_with(at: AppTest, column: str):
    """The shown table that has this column."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def _subheaders(at: AppTest) -> list[str]:
    return [s.value for s in at.subheader]


def test_first_visit_shows_the_demo_summary(app):
    assert any("Synthetic" in s for s in _subheaders(app))
    effects = _table_with(app, "effect [95% CI]")
    assert list(effects["outcome"]) == ["visit", "conversion"]
    assert any("Randomization check" in s.value for s in app.success)
    assert any("exposure" in w.value for w in app.warning)


def test_criteo_upload_is_used_without_questions(app):
    buffer = io.StringIO()
    make_criteo_like(5_000, seed=3).to_csv(buffer, index=False)
    _labelled(app.file_uploader, UPLOAD).upload("criteo.csv", buffer.getvalue().encode(), "text/csv")
    app.run()
    assert not app.exception and not app.error
    assert f"Current data set: {plain('criteo.csv')}" in _subheaders(app)
    assert _table_with(app, "effect [95% CI]").shape[0] == 2


def test_hillstrom_upload_goes_through_the_mapping(app):
    _labelled(app.file_uploader, UPLOAD).upload(
        "hillstrom.csv", gzip.decompress(HILLSTROM_FILE.read_bytes()), "text/csv"
    )
    app.run()
    assert f"Map the columns of {plain('hillstrom.csv')}" in _subheaders(app)
    assert _labelled(app.multiselect, "Treated values").value == ["Mens E-Mail", "Womens E-Mail"]
    next(b for b in app.button if b.label == "Use this mapping").click()
    app.run()
    assert not app.exception and not app.error
    visit = _table_with(app, "effect [95% CI]").set_index("outcome").loc["visit"]
    assert visit["effect [95% CI]"] == "+6.09 pp [+5.54 pp, +6.63 pp]"


def test_a_bad_upload_shows_an_error_and_keeps_the_data(app):
    before = _subheaders(app)
    _labelled(app.file_uploader, UPLOAD).upload("broken.csv", b"treatment,visit\n1,1\n0", "text/csv")
    app.run()
    assert not app.exception
    assert app.error, "a bad file must explain itself"
    assert _subheaders(app) == before


@pytest.mark.parametrize(
    ("name", "content"),
    [("book.xlsx", b"PK\x03\x04\x14\x00\x06\x00rest of a workbook"), ("notes.txt", b"\x00\x01binary\xff")],
)
def test_a_wrong_file_type_gets_words_naming_the_types_that_work(app, name, content):
    """Seen: an .xlsx or .txt upload was only marked by a red chip with no words."""
    before = _subheaders(app)
    uploader = _labelled(app.file_uploader, UPLOAD)
    assert uploader.proto.type == []  # any file reaches the reader, which says what it is
    uploader.upload(name, content, "application/octet-stream")
    app.run()
    assert not app.exception
    message = app.error[0].value
    assert "CSV" in message and "Parquet" in message and plain(name) in message
    assert _subheaders(app) == before


def test_a_csv_named_txt_is_read(app):
    buffer = io.StringIO()
    make_criteo_like(2_000, seed=4).to_csv(buffer, index=False)
    _labelled(app.file_uploader, UPLOAD).upload("export.txt", buffer.getvalue().encode(), "text/plain")
    app.run()
    assert not app.exception and not app.error
    assert f"Current data set: {plain('export.txt')}" in _subheaders(app)


def test_a_mapping_mistake_is_explained(app):
    _labelled(app.file_uploader, UPLOAD).upload(
        "ab.csv", b"group,bought,age\n" + b"A,1,30\nB,0,40\n" * 50, "text/csv"
    )
    app.run()
    next(b for b in app.button if b.label == "Use this mapping").click()
    app.run()
    assert not app.exception
    assert any("outcome" in e.value for e in app.error)
    assert any("Synthetic" in s for s in _subheaders(app)), "the previous data stays loaded"


def test_demo_picker_loads_hillstrom(app):
    _labelled(app.selectbox, "Demo data set").set_value("hillstrom")
    app.run()
    next(b for b in app.button if b.label == "Load demo data").click()
    app.run()
    assert not app.exception
    assert any("Hillstrom" in s for s in _subheaders(app))


def test_synthetic_data_shows_the_truth_beside_the_estimate(app):
    truth = _table_with(app, "true effect").set_index("outcome")
    assert list(truth.columns) == ["true effect", "naive estimate [95% CI]", "truth inside the CI"]
    assert truth.loc["visit", "true effect"].endswith(" pp")
    assert truth.loc["visit", "truth inside the CI"] in {"yes", "no"}


def _criteo_csv(n_rows: int = 2_000, seed: int = 3) -> bytes:
    return (
        make_criteo_like(n_rows, seed=seed)
        .drop(columns=["tau_visit", "tau_conversion"])
        .to_csv(index=False)
        .encode()
    )


def test_a_latin1_upload_is_read_with_a_warning(app):
    frame = make_criteo_like(2_000, seed=3).drop(columns=["tau_visit", "tau_conversion"])
    frame["réponse"] = "oui"
    _labelled(app.file_uploader, UPLOAD).upload(
        "latin.csv", frame.to_csv(index=False).encode("latin-1"), "text/csv"
    )
    app.run()
    assert not app.exception and not app.error
    assert f"Current data set: {plain('latin.csv')}" in _subheaders(app)
    assert any("is not UTF" in w.value and "Windows" in w.value for w in app.warning)


def test_a_latin1_table_to_map_warns_before_the_mapping(app):
    raw = "groupe,réponse,âge\n".encode("latin-1") + b"A,1,30\nB,0,40\n" * 50
    _labelled(app.file_uploader, UPLOAD).upload("ab.csv", raw, "text/csv")
    app.run()
    assert not app.exception and not app.error
    assert f"Map the columns of {plain('ab.csv')}" in _subheaders(app)
    assert any("is not UTF" in w.value for w in app.warning)
    assert (
        "réponse"
        in _labelled(app.multiselect, "Outcome columns").options
        + _labelled(app.multiselect, "Feature columns (measured before treatment)").options
    )


@pytest.mark.parametrize("cut", [0.3, 0.8])
def test_a_truncated_gzip_upload_is_explained_and_keeps_the_data(app, cut):
    before = _subheaders(app)
    raw = gzip.compress(_criteo_csv())
    _labelled(app.file_uploader, UPLOAD).upload("data.csv.gz", raw[: int(len(raw) * cut)], "application/gzip")
    app.run()
    assert not app.exception
    assert any("truncated gzip" in e.value for e in app.error)
    assert _subheaders(app) == before


def test_a_corrupt_parquet_upload_is_explained(app):
    _labelled(app.file_uploader, UPLOAD).upload(
        "data.parquet", b"PAR1" + bytes(200) + b"PAR1", "application/octet-stream"
    )
    app.run()
    assert not app.exception
    assert any("Parquet" in e.value for e in app.error)


def test_unusable_values_and_constant_features_are_shown_as_warnings(app):
    frame = make_criteo_like(2_000, seed=3).drop(columns=["tau_visit", "tau_conversion"])
    frame["f3"] = frame["f3"].astype(float)
    frame.loc[[1, 2], "f3"] = [float("inf"), 1e39]
    frame["f7"] = 1.0
    _labelled(app.file_uploader, UPLOAD).upload("odd.csv", frame.to_csv(index=False).encode(), "text/csv")
    app.run()
    assert not app.exception and not app.error
    shown = [w.value for w in app.warning]
    assert any(plain("'f3' holds 1e+39 and inf in 2 rows", None) in w for w in shown)
    assert any(plain("'f7'", None) in w and "same value in every" in w for w in shown)


def test_text_from_the_file_is_never_markdown(app):
    link = "[click](http://example.com/x)"
    header = f"group,bought,age,{link}\n".encode()
    _labelled(app.file_uploader, UPLOAD).upload(
        "**bold**.csv", header + b"A,1,30,1\nB,0,40,1\n" * 50, "text/csv"
    )
    app.run()
    assert f"Map the columns of {plain('**bold**.csv')}" in _subheaders(app)
    _labelled(app.multiselect, "Treated values").set_value(["A"])
    _labelled(app.multiselect, "Control values").set_value(["B"])
    _labelled(app.multiselect, "Outcome columns").set_value(["bought"])
    _labelled(app.multiselect, "Feature columns (measured before treatment)").set_value(["age", link])
    next(b for b in app.button if b.label == "Use this mapping").click()
    app.run()
    assert not app.exception and not app.error
    assert f"Current data set: {plain('**bold**.csv')}" in _subheaders(app)
    warned = [w.value for w in app.warning if "same value in every" in w.value]
    assert warned and plain(link) in warned[0] and link not in warned[0]
    assert f"uploaded file {plain('**bold**.csv')}" in [c.value for c in app.caption]


def test_the_balance_chart_agrees_with_the_randomization_verdict(app):
    """Seen: red balance bars beside a green "consistent with randomization" (small samples)."""
    buffer = io.StringIO()
    make_criteo_like(300, seed=5).to_csv(buffer, index=False)
    _labelled(app.file_uploader, UPLOAD).upload("small.csv", buffer.getvalue().encode(), "text/csv")
    app.run()
    assert not app.exception
    assert any(s.value.startswith("Randomization check") for s in app.success)
    chart = next(c.proto for c in app.get("vega_lite_chart") if "Covariate balance" in c.proto.spec)
    tables = [pa.ipc.open_stream(d.data.data).read_all() for d in chart.datasets]
    status = {v for table in tables if "status" in table.column_names for v in table["status"].to_pylist()}
    # 300 rows: some differences exceed 0.1 by chance, and the chart says so without alarm.
    assert "large, within chance" in status and "imbalanced" not in status


def test_numbered_treatment_groups_are_offered_in_numeric_order(app):
    """Seen: treatment values sorted as text (1, 10, 11, 2)."""
    groups = [1, 2, 10, 11] * 30
    table = "cell,bought,age\n" + "".join(f"{g},{i % 2},{20 + i % 30}\n" for i, g in enumerate(groups))
    _labelled(app.file_uploader, UPLOAD).upload("cells.csv", table.encode(), "text/csv")
    app.run()
    _labelled(app.selectbox, "Treatment column").set_value("cell").run()
    assert [str(v) for v in _labelled(app.multiselect, "Treated values").options] == ["1", "2", "10", "11"]


def test_a_lift_over_a_control_of_zero_says_why_it_is_missing(app):
    """Seen: '+nan%' relative lift when a control rate is 0."""
    rows = [(1, i % 3 == 0, 20 + i % 40) for i in range(200)] + [(0, 0, 20 + i % 40) for i in range(200)]
    table = "treatment,conversion,age\n" + "".join(f"{t},{int(y)},{a}\n" for t, y, a in rows)
    _labelled(app.file_uploader, UPLOAD).upload("zero.csv", table.encode(), "text/csv")
    app.run()
    _labelled(app.button, "Use this mapping").click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    effects = next(
        d.value for d in [*app.dataframe, *app.table] if "relative lift [95% CI]" in d.value.columns
    )
    shown = " ".join(map(str, effects["relative lift [95% CI]"]))
    assert "nan" not in shown.lower() and "control is 0" in shown


def test_a_treatment_column_with_many_values_lists_only_the_first_ones(app):
    """A column of identifiers chosen as the treatment: a warning that says what to pick, and a
    list short enough to use, not thousands of values."""
    table = "user,group,bought\n" + "".join(f"u{i},{i % 2},{i % 3 == 0:d}\n" for i in range(400))
    _labelled(app.file_uploader, UPLOAD).upload("users.csv", table.encode(), "text/csv")
    app.run()
    _labelled(app.selectbox, "Treatment column").set_value("user").run()
    assert not app.exception
    assert any(plain("'user' has 400 distinct values") in w.value for w in app.warning)
    assert len(_labelled(app.multiselect, "Treated values").options) == MAX_LISTED_TREATMENT_VALUES


def test_a_demo_that_fails_to_load_keeps_the_table_being_mapped(app, monkeypatch):
    """Seen: the uploaded table waiting for its mapping was dropped when a demo failed to load,
    and the uploader would not read the same file again."""
    from impactiq.errors import ImpactIQError
    from pages import common

    table = "group,bought,age\n" + "".join(f"{i % 2},{i % 3 == 0:d},{20 + i % 40}\n" for i in range(200))
    _labelled(app.file_uploader, UPLOAD).upload("groups.csv", table.encode(), "text/csv")
    app.run()
    assert _labelled(app.selectbox, "Treatment column")

    def refuse(*args, **kwargs):
        raise ImpactIQError("The demo file is missing; run make setup.")

    monkeypatch.setattr(common, "use_demo", refuse)
    _labelled(app.button, "Load demo data").click().run()
    assert not app.exception
    assert any("demo file is missing" in e.value for e in app.error)
    app.run()  # the next interaction: the table is still there to map
    assert any(plain("Map the columns of groups.csv") == s for s in _subheaders(app))
