"""Outside text on every page shows as plain text, and the pages' CSV downloads cannot run formulas.

A model is trained on a table whose column names, outcome name and category values are markdown
links and images, and whose categories hold a spreadsheet formula. Every string that Streamlit
renders as markdown (messages, captions, headers, widget labels and `help`, radio options,
metrics, expander and tab labels) must hold the escaped text and no working `![` or `](`.
Select boxes, tables and chart titles show plain text and are left out of that check.
"""

from __future__ import annotations

import io
import re

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from impactiq.data.experiment import prepare_experiment
from impactiq.data.schema import build_schema
from impactiq.data.synthetic import make_criteo_like
from impactiq.evaluation.training import train_model
from impactiq.present import export
from impactiq.present.text import MAX_CHARS, plain
from impactiq.uplift.store import save_model
from pages import common

APP = "../../streamlit_app.py"
MODEL = "hostile"
NUMERIC = "![n](http://127.0.0.1:9/numeric)"
CATEGORICAL = "[Session expired: sign in again](http://host.com/phish)"
OUTCOME = "visit ![o](http://127.0.0.1:9/outcome)"
CATEGORY = "![c](http://127.0.0.1:9/category)"
FORMULA = "=cmd|' /C calc'!A0"
IMAGE = "![i](http://127.0.0.1:9/x)"
PHISH = "[Session expired: sign in again](http://host.com/phish)"
LONG = "A" * 100_000
# Markdown that would render: an image or link opener not preceded by a backslash.
LIVE_MARKDOWN = re.compile(r"(?<!\\)!\[|(?<!\\)\]\(")
MARKDOWN_VALUES = {
    "markdown",
    "caption",
    "error",
    "warning",
    "info",
    "success",
    "title",
    "header",
    "subheader",
}


def _frame(n: int = 6_000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = make_criteo_like(n, seed=seed)[["f0", "f1", "treatment", "visit"]]
    frame = frame.rename(columns={"f0": NUMERIC, "visit": OUTCOME})
    frame[CATEGORICAL] = rng.choice([CATEGORY, FORMULA, "Web"], n)
    return frame


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    """A models folder holding one small model of the hostile table."""
    frame = _frame()
    schema = build_schema(
        frame,
        treatment="treatment",
        treated_values=[1],
        control_values=[0],
        outcomes=[OUTCOME],
        features=[NUMERIC, "f1", CATEGORICAL],
    )
    experiment = prepare_experiment(frame, schema, name=f"{IMAGE}.csv")
    trained = train_model(
        experiment, outcome=OUTCOME, n_boot=5, seed=0, params={"n_estimators": 20, "min_samples_leaf": 20}
    )
    root = tmp_path_factory.mktemp("models")
    save_model(trained, MODEL, models_dir=root)
    return root


@pytest.fixture
def open_page(models_dir, monkeypatch):
    """A function that opens a page of the app on the hostile model, with optional query parameters."""
    monkeypatch.setenv("IMPACTIQ_MODELS_DIR", str(models_dir))
    monkeypatch.setattr(common, "MODELS_DIR", str(models_dir))

    def run(page: str, params: dict | None = None) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=180)
        at.switch_page(page)
        at.query_params.update(params or {})
        at.run()
        assert not at.exception, at.exception
        return at

    return run


def _markdown_texts(at: AppTest) -> list[str]:
    """Every string on the page that Streamlit renders as markdown."""
    texts: list[str] = []

    def walk(node) -> None:
        kind = getattr(node, "type", None)
        for attribute in ("label", "help"):
            try:
                text = getattr(node, attribute, None)
            except (AttributeError, KeyError):
                text = None
            if isinstance(text, str) and text:
                texts.append(text)
        if kind in MARKDOWN_VALUES or kind == "metric":
            texts.append(str(node.value))
        if kind == "radio":
            texts.extend(str(o) for o in node.options)
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at.main)
    walk(at.sidebar)
    return texts


def _assert_nothing_renders(at: AppTest) -> list[str]:
    texts = _markdown_texts(at)
    live = [t for t in texts if LIVE_MARKDOWN.search(t.replace("\\\\", ""))]
    assert not live, live
    return texts


def _shows(texts: list[str], value: str) -> bool:
    return any(plain(value) in t for t in texts)


def test_simulator_shows_column_names_and_categories_as_text(open_page):
    at = open_page("pages/simulator.py")
    texts = _assert_nothing_renders(at)
    assert any(n.label == plain(NUMERIC) for n in at.number_input)
    assert any(s.label == plain(CATEGORICAL) for s in at.selectbox)
    assert any(s.label == f"{plain(CATEGORICAL)} set to" for s in at.selectbox) or any(
        n.label == f"{plain(NUMERIC)} set to" for n in at.number_input
    )
    # The categories are listed in the select box's help, which is markdown.
    assert _shows(texts, CATEGORY) and _shows(texts, OUTCOME)
    # A select box shows its options as plain text: they stay as they are.
    assert CATEGORY in next(s for s in at.selectbox if s.label == plain(CATEGORICAL)).options


@pytest.mark.parametrize(
    "params",
    [
        {"model": IMAGE},
        {"model": PHISH},
        {"whatif": IMAGE},
        {"cost": PHISH},
        {"value": IMAGE},
        {f"x.{NUMERIC}": PHISH},
        {f"x.{CATEGORICAL}": IMAGE},
        {f"x.{IMAGE}": "3"},
    ],
    ids=["model-image", "model-link", "whatif", "cost", "value", "numeric", "category", "unknown-feature"],
)
def test_every_query_parameter_shows_as_text(open_page, params):
    at = open_page("pages/simulator.py", params)
    texts = _assert_nothing_renders(at)
    (value,) = [v if k != f"x.{IMAGE}" else IMAGE for k, v in params.items()]
    assert any(plain(value) in w.value for w in at.warning), [w.value for w in at.warning]
    assert _shows(texts, value)


@pytest.mark.parametrize(
    "params",
    [{"model": LONG}, {"whatif": LONG}, {"cost": LONG}, {f"x.{CATEGORICAL}": LONG}, {f"x.{LONG}": "1"}],
    ids=["model", "whatif", "cost", "feature", "unknown-feature"],
)
def test_a_long_query_value_is_cut(open_page, params):
    at = open_page("pages/simulator.py", params)
    assert at.warning, "an invalid link value is warned about"
    longest = max(len(run) for t in _markdown_texts(at) for run in re.findall("A+", t) or [""])
    assert longest < MAX_CHARS
    assert any("…" in w.value for w in at.warning)


def _recording(function, calls: list):
    """`function`, noting each result in `calls`: shows which bytes a page offered for download."""

    def recorded(frame):
        data = function(frame)
        calls.append(data)
        return data

    return recorded


def test_simulator_batch_download_neutralises_formulas(open_page, monkeypatch):
    written = []
    monkeypatch.setattr(export, "csv_bytes", _recording(export.csv_bytes, written))
    at = open_page("pages/simulator.py")
    rows = _frame(40, seed=3)[[NUMERIC, "f1", CATEGORICAL]]
    rows[CATEGORICAL] = FORMULA
    upload = next(u for u in at.file_uploader if u.label == "Profiles (CSV, CSV.gz or Parquet)")
    upload.upload(f"{IMAGE}.csv", rows.to_csv(index=False).encode(), "text/csv")
    at.run()
    assert not at.exception and not at.error
    data = at.session_state[common.SIMULATOR_BATCH][1]
    assert written and data == written[-1]
    table = pd.read_csv(io.BytesIO(data))
    assert (table[CATEGORICAL] == "'" + FORMULA).all()
    assert table["uplift"].dtype == np.float64 and (table["uplift_lower"] < 0).any()  # numbers stay numbers


def test_a_file_name_in_an_error_shows_as_text(open_page):
    at = open_page("pages/simulator.py")
    upload = next(u for u in at.file_uploader if u.label == "Profiles (CSV, CSV.gz or Parquet)")
    upload.upload(f"{PHISH}.csv", b"\x89PNG\r\n\x1a\n\x00binary", "text/csv")
    at.run()
    assert not at.exception and at.error
    _assert_nothing_renders(at)
    assert any(plain(PHISH) in e.value for e in at.error), [e.value for e in at.error]


def test_segments_show_names_as_text_and_download_without_formulas(open_page, monkeypatch):
    written = []
    monkeypatch.setattr(export, "csv_bytes", _recording(export.csv_bytes, written))
    at = open_page("pages/segments.py")
    next(s for s in at.selectbox if s.label == "Column").set_value(CATEGORICAL).run()
    assert not at.exception, at.exception
    texts = _assert_nothing_renders(at)
    assert any(plain(CATEGORICAL) in s.value and plain(OUTCOME) in s.value for s in at.subheader)
    assert any(plain(CATEGORICAL) in c.value for c in at.caption)  # "one segment per value of '...'"
    assert any(plain(OUTCOME) in t for t in texts if t.startswith("For the same budget"))
    table = pd.read_csv(io.BytesIO(written[-1]))
    assert "'" + FORMULA in set(table["segment"]) and FORMULA not in set(table["segment"])
    assert CATEGORY in set(table["segment"])


def test_train_page_shows_the_data_set_name_as_text(open_page):
    # `open_page` points the app at the hostile model's folder; this test opens the page itself
    # to seed the session with an uploaded data set first.
    at = AppTest.from_file(APP, default_timeout=180)
    frame = _frame(2_000)
    schema = build_schema(
        frame,
        treatment="treatment",
        treated_values=[1],
        control_values=[0],
        outcomes=[OUTCOME],
        features=["f1"],
    )
    at.session_state[common.EXPERIMENT] = prepare_experiment(frame, schema, name=f"{PHISH}.csv")
    at.switch_page("pages/train.py")
    at.run()
    assert not at.exception, at.exception
    texts = _assert_nothing_renders(at)
    assert _shows(texts, f"{PHISH}.csv")


def test_data_page_shows_an_uploaded_table_as_text():
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    frame = _frame(2_000).rename(columns={"treatment": IMAGE})
    upload = next(u for u in at.file_uploader if u.label.startswith("Upload an experiment"))
    upload.upload(f"{PHISH}.csv", frame.to_csv(index=False).encode(), "text/csv")
    at.run()
    assert not at.exception, at.exception
    texts = _assert_nothing_renders(at)
    assert _shows(texts, f"{PHISH}.csv")
    # Map the table (treatment, outcome and feature columns all named from outside) and use it.
    assert next(s for s in at.selectbox if s.label == "Treatment column").value == IMAGE
    next(m for m in at.multiselect if m.label == "Outcome columns").set_value([OUTCOME])
    features = next(m for m in at.multiselect if m.label.startswith("Feature columns"))
    features.set_value([NUMERIC, "f1", CATEGORICAL])
    next(b for b in at.button if b.label == "Use this mapping").click()
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    texts = _assert_nothing_renders(at)
    assert any(s.value == f"Current data set: {plain(f'{PHISH}.csv')}" for s in at.subheader)
    assert next(s for s in at.selectbox if s.label == "Outcome to chart").options == [OUTCOME]


def test_a_multi_arm_models_control_value_shows_as_text(tmp_path, monkeypatch):
    """The arm picker's label names the control group, a value from the user's treatment column."""
    frame = _frame(3_000)
    rng = np.random.default_rng(1)
    frame["treatment"] = rng.choice([PHISH, "email", "social"], len(frame))
    schema = build_schema(
        frame,
        treatment="treatment",
        treated_values=["email", "social"],
        control_values=[PHISH],
        outcomes=[OUTCOME],
        features=["f1"],
        separate_arms=True,
    )
    trained = train_model(
        prepare_experiment(frame, schema, name="arms.csv"),
        outcome=OUTCOME,
        estimator="t_learner",
        n_boot=5,
        calibrate=False,
    )
    save_model(trained, "arms", models_dir=tmp_path)
    monkeypatch.setattr(common, "MODELS_DIR", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=180)
    at.switch_page("pages/simulator.py").run()
    assert not at.exception, at.exception
    texts = _assert_nothing_renders(at)
    assert any(t.startswith("Arm, against") and plain(PHISH) in t for t in texts)
