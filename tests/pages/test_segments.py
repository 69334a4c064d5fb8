"""AppTest of the Segments page: a small saved Hillstrom model, every segmentation, the split screen."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from impactiq.data.demo import HILLSTROM_FEATURES, HILLSTROM_FILE
from impactiq.data.experiment import prepare_experiment
from impactiq.data.reader import read_table
from impactiq.data.schema import build_schema
from impactiq.evaluation.training import train_model
from impactiq.uplift.store import save_model
from pages import common

APP = "../../streamlit_app.py"
FAST = {"estimator": "causal_forest", "params": {"n_estimators": 20, "min_samples_leaf": 20}}


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    """A models folder holding one small model of Hillstrom visits (4,000 rows)."""
    frame = read_table(HILLSTROM_FILE, max_bytes=None).sample(4_000, random_state=0).reset_index(drop=True)
    schema = build_schema(
        frame,
        treatment="segment",
        treated_values=["Mens E-Mail", "Womens E-Mail"],
        control_values=["No E-Mail"],
        outcomes=["visit"],
        features=list(HILLSTROM_FEATURES),
    )
    experiment = prepare_experiment(frame, schema)
    trained = train_model(experiment, outcome="visit", n_boot=5, seed=0, **FAST)
    root = tmp_path_factory.mktemp("models")
    save_model(trained, "hillstrom_visit", models_dir=root)
    return root


def _open(monkeypatch, models_dir) -> AppTest:
    monkeypatch.setenv("IMPACTIQ_MODELS_DIR", str(models_dir))
    monkeypatch.setattr(common, "MODELS_DIR", str(models_dir))  # in case pages.common was imported earlier
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    at.switch_page("pages/segments.py")
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def app(monkeypatch, models_dir) -> AppTest:
    return _open(monkeypatch, models_dir)


def _column_subheaders(at: AppTest) -> list[list[str]]:
    return [[s.value for s in column.subheader] for column in at.columns]


def _use_model(at: AppTest, name: str) -> None:
    next(s for s in at.selectbox if s.label == "Model").set_value(name).run()
    assert not at.exception, at.exception


def test_split_screen_shows_both_attributions_side_by_side(app):
    _use_model(app, "hillstrom_visit")
    next(s for s in app.selectbox if s.label == "Column").set_value("channel").run()
    assert not app.exception, app.exception
    assert ["Traditional attribution"] in _column_subheaders(app)
    assert ["Causal segment attribution"] in _column_subheaders(app)
    # Seen: the doubly robust and difference columns were cut off; a static table wraps them.
    table = next(t.value for t in app.table if "observed uplift [95% CI]" in t.value.columns).reset_index()
    assert any("doubly robust" in " ".join(map(str, t.value.columns)) for t in app.table)
    assert set(table["segment"]) <= {"Web", "Phone", "Multichannel", "other (small groups)"}
    assert "observed uplift [95% CI]" in table.columns
    assert any("causal allocation gains" in s.value for s in [*app.success, *app.info])
    assert len(app.get("download_button")) == 1
    assert not app.error
    # Seen: the row 'spend' (the cost of contacts) clashed with the outcome named spend.
    plan = next(d.value for d in app.dataframe if "estimate [95% CI]" in d.value.columns)
    assert "cost of contacts" in plan.index and "spend" not in plan.index


@pytest.mark.parametrize(
    ("kind", "expect"),
    [("kmeans", "Cluster profiles"), ("uplift", "(highest)"), ("persuadability", "persuadable")],
)
def test_every_segmentation_renders(app, kind, expect):
    _use_model(app, "hillstrom_visit")
    next(r for r in app.radio if r.label == "Segment by").set_value(kind).run()
    assert not app.exception, app.exception
    shown = [e.label for e in app.expander] + list(
        next(d.value for d in app.dataframe if "segment" in d.value.columns)["segment"].astype(str)
    )
    assert any(expect in text for text in shown)
    assert ["Causal segment attribution"] in _column_subheaders(app)


def _allocations(at: AppTest):
    return next(d.value for d in at.dataframe if "contacted, causal" in d.value.columns)


def test_the_budget_slider_moves_the_allocation(app):
    _use_model(app, "hillstrom_visit")
    budget = next(s for s in app.slider if s.label == "Budget (money)")
    contacts = _allocations(app)[["contacted, traditional", "contacted, causal"]].sum()
    assert (contacts > 0).all()
    budget.set_value(0.0).run()
    assert not app.exception
    assert (_allocations(app)[["contacted, traditional", "contacted, causal"]] == 0).all().all()
    assert not any("causal allocation gains" in s.value for s in [*app.success, *app.info])


def test_without_a_saved_model_the_page_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv("IMPACTIQ_MODELS_DIR", str(tmp_path))
    monkeypatch.setattr(common, "MODELS_DIR", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/segments.py")
    at.run()
    assert not at.exception
    assert any("train one on the Train page" in i.value for i in at.info)
