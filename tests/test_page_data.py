"""AppTest of the Data page: demo on first visit, uploads, the mapping step and bad files."""

from __future__ import annotations

import io

import pytest
from streamlit.testing.v1 import AppTest

from impactiq.demo import HILLSTROM_FILE
from impactiq.synthetic import make_criteo_like

APP = "../streamlit_app.py"


@pytest.fixture
def app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception
    return at


def _subheaders(at: AppTest) -> list[str]:
    return [s.value for s in at.subheader]


def test_first_visit_shows_the_demo_summary(app):
    assert any("Synthetic" in s for s in _subheaders(app))
    effects = app.dataframe[0].value
    assert list(effects["outcome"]) == ["visit", "conversion"]
    assert any("Randomization check" in s.value for s in app.success)
    assert any("exposure" in w.value for w in app.warning)


def test_criteo_upload_is_used_without_questions(app):
    buffer = io.StringIO()
    make_criteo_like(5_000, seed=3).to_csv(buffer, index=False)
    app.file_uploader[0].upload("criteo.csv", buffer.getvalue().encode(), "text/csv")
    app.run()
    assert not app.exception and not app.error
    assert "Current data set: criteo.csv" in _subheaders(app)
    assert app.dataframe[0].value.shape[0] == 2


def test_hillstrom_upload_goes_through_the_mapping(app):
    import gzip

    app.file_uploader[0].upload("hillstrom.csv", gzip.decompress(HILLSTROM_FILE.read_bytes()), "text/csv")
    app.run()
    assert "Map the columns of hillstrom.csv" in _subheaders(app)
    assert app.multiselect[0].value == ["Mens E-Mail", "Womens E-Mail"]
    next(b for b in app.button if b.label == "Use this mapping").click()
    app.run()
    assert not app.exception and not app.error
    visit = app.dataframe[0].value.set_index("outcome").loc["visit"]
    assert visit["effect"] == "+6.088 pp"
    assert visit["95% CI"] == "[+5.544 pp, +6.633 pp]"


def test_a_bad_upload_shows_an_error_and_keeps_the_data(app):
    before = _subheaders(app)
    app.file_uploader[0].upload("broken.csv", b"treatment,visit\n1,1\n0", "text/csv")
    app.run()
    assert not app.exception
    assert app.error, "a bad file must explain itself"
    assert _subheaders(app) == before


def test_a_mapping_mistake_is_explained(app):
    app.file_uploader[0].upload("ab.csv", b"group,bought,age\n" + b"A,1,30\nB,0,40\n" * 50, "text/csv")
    app.run()
    next(b for b in app.button if b.label == "Use this mapping").click()
    app.run()
    assert not app.exception
    assert any("outcome" in e.value for e in app.error)
    assert any("Synthetic" in s for s in _subheaders(app)), "the previous data stays loaded"


def test_demo_picker_loads_hillstrom(app):
    app.selectbox[0].set_value("hillstrom")
    app.run()
    next(b for b in app.button if b.label == "Load demo data").click()
    app.run()
    assert not app.exception
    assert any("Hillstrom" in s for s in _subheaders(app))


def test_synthetic_data_shows_the_truth_beside_the_estimate(app):
    truth = app.dataframe[1].value.set_index("outcome")
    assert list(truth.columns) == ["true effect", "naive estimate", "95% CI", "truth inside the CI"]
    assert truth.loc["visit", "true effect"].endswith(" pp")
    assert truth.loc["visit", "truth inside the CI"] in {"yes", "no"}
