"""AppTest of the Train page: train a small model, see its evaluation, save, inspect, delete."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from impactiq.artifacts import list_models

APP = "../streamlit_app.py"


def _button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


@pytest.fixture
def train_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    at.switch_page("pages/train.py")
    at.run()
    assert not at.exception
    return at


def test_train_small_model_shows_qini_chart_and_metrics(train_page, models_dir):
    at = train_page
    at.number_input[0].set_value(6_000)  # rows to use
    at.number_input[2].set_value(50)  # bootstrap replicates
    _button(at, "Train").click()
    at.run()
    assert not at.exception and not at.error
    assert any("causal_forest on visit" in s.value for s in at.subheader)
    table = at.dataframe[0].value.set_index("metric")
    assert table.loc["Qini coefficient (normalised, scikit-uplift)", "95% CI"].startswith("[")
    assert "Coverage of the 95% intervals of the true effect" in table.index
    titles = [chart.proto.spec for chart in at.get("vega_lite_chart")]
    assert any("Qini curve (holdout)" in spec for spec in titles)

    at.text_input[0].set_value("page_test_model")
    _button(at, "Save model").click()
    at.run()
    assert not at.exception
    assert "page_test_model" in [m["name"] for m in list_models(models_dir)]
    assert any("Saved as" in s.value for s in at.success)


def test_a_bad_model_name_is_refused(train_page):
    at = train_page
    at.number_input[0].set_value(3_000)
    at.number_input[2].set_value(50)
    _button(at, "Train").click()
    at.run()
    at.text_input[0].set_value("no spaces/allowed")
    _button(at, "Save model").click()
    at.run()
    assert not at.exception
    assert any("name" in e.value for e in at.error)


def test_saved_model_can_be_inspected_and_deleted(train_page, saved_model_name, models_dir):
    at = train_page
    at.run()
    at.selectbox[-1].set_value(saved_model_name)
    at.toggle[0].set_value(True)
    at.run()
    assert not at.exception
    assert any(f"Saved model {saved_model_name}" == s.value for s in at.subheader)
    _button(at, "Delete").click()
    at.run()
    assert not at.exception
    assert saved_model_name not in [m["name"] for m in list_models(models_dir)]
