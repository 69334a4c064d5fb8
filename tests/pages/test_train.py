"""AppTest of the Train page: train a small model, see its evaluation, save, inspect, delete."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from streamlit.testing.v1 import AppTest

from impactiq.present.text import plain
from impactiq.uplift.store import delete_model, list_models

APP = "../../streamlit_app.py"


ROWS = "Rows to use (a seeded, stratified sample; all rows by default)"
REPLICATES = "Bootstrap replicates for metric intervals"
SAVE_AS = "Save as (letters, digits, - and _)"


def _labelled(elements, label: str):
    """The one widget with this label: tests find widgets by what the user reads, not position."""
    return next(e for e in elements if e.label == label)


def _button(at: AppTest, label: str):
    return _labelled(at.button, label)


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
    _labelled(at.number_input, ROWS).set_value(6_000)
    _labelled(at.number_input, REPLICATES).set_value(50)
    _button(at, "Train").click()
    at.run()
    assert not at.exception and not at.error
    assert any("causal_forest on visit" in s.value for s in at.subheader)
    # The ranking's quality in words, from the Qini's interval.
    assert any("ranks users" in m.value for m in [*at.success, *at.info, *at.warning])
    # Heterogeneity and calibration in words (the best linear predictor test).
    assert any("best linear predictor slope" in m.value for m in [*at.success, *at.info, *at.warning])
    # Seen: the metrics' notes were cut off; a static table wraps them.
    table = next(t.value for t in at.table if t.value.index.name == "metric")
    assert table.loc["Qini coefficient (normalised, scikit-uplift)", "estimate [95% CI]"].count("[") == 1
    assert "Coverage of the 95% intervals of the true effect" in table.index
    titles = [chart.proto.spec for chart in at.get("vega_lite_chart")]
    assert any("Qini curve (holdout)" in spec for spec in titles)
    # Seen: percent on chart axes where tables say pp; the perfect curve setting the Qini's scale.
    histogram = json.loads(next(spec for spec in titles if "Predicted uplift on the holdout" in spec))
    assert histogram["encoding"]["x"]["title"] == "uplift (pp)"
    qini = json.loads(next(spec for spec in titles if "Qini curve (holdout)" in spec))
    assert "domain" in qini["encoding"]["y"]["scale"] and qini["mark"]["clip"] is True

    default = _labelled(at.text_input, SAVE_AS).value
    assert default.startswith("visit_causal_forest_")  # unique: data set and time stamp follow
    _button(at, "Save model").click()
    at.run()
    assert not at.exception
    assert default in [m["name"] for m in list_models(models_dir)]
    assert any("Saved as" in s.value for s in at.success)
    first_version = (models_dir / default).resolve()

    # Saving under a taken name asks first; nothing is replaced until the user confirms.
    _button(at, "Save model").click()
    at.run()
    assert not at.exception
    assert any("already exists" in w.value for w in at.warning)
    assert (models_dir / default).resolve() == first_version
    _button(at, f"Replace '{plain(default)}'").click()
    at.run()
    assert not at.exception
    assert any("Saved as" in s.value for s in at.success)
    assert (models_dir / default).resolve() != first_version
    delete_model(models_dir / default)


def test_training_shows_its_progress_line_in_the_status(train_page):
    at = train_page
    _labelled(at.number_input, ROWS).set_value(2_000)
    _labelled(at.number_input, REPLICATES).set_value(50)
    _button(at, "Train").click().run()
    assert not at.exception and not at.error
    status = next(s for s in at.status if s.label.startswith("Trained in"))
    assert status.state == "complete" and re.fullmatch(r"Trained in (\d+s|\d+m\d\ds)", status.label)
    # The line redrawn while the stages ran ("fitting ... · 12s elapsed · about 20s left") ends as:
    assert [c.value for c in status.caption] == [f"done · {status.label.removeprefix('Trained in ')} elapsed"]


def test_a_bad_model_name_is_refused(train_page):
    at = train_page
    _labelled(at.number_input, ROWS).set_value(3_000)
    _labelled(at.number_input, REPLICATES).set_value(50)
    _button(at, "Train").click()
    at.run()
    suggested = _labelled(at.text_input, SAVE_AS).value
    at.switch_page("pages/data.py")
    at.run()
    at.switch_page("pages/train.py")
    at.run()
    assert _labelled(at.text_input, SAVE_AS).value == suggested  # a visit elsewhere loses nothing
    _labelled(at.text_input, SAVE_AS).set_value("no spaces/allowed")
    _button(at, "Save model").click()
    at.run()
    assert not at.exception
    assert any("name" in e.value for e in at.error)


@pytest.fixture
def disposable_model(saved_model_name, models_dir) -> str:
    """A copy of the session's saved model, for a test that deletes it: the original stays for others."""
    shutil.copytree(models_dir / saved_model_name, models_dir / "disposable_model")
    return "disposable_model"


def test_saved_model_can_be_inspected_and_deleted(train_page, disposable_model, saved_model_name, models_dir):
    at = train_page
    at.run()
    _labelled(at.selectbox, "Model").set_value(disposable_model)
    _labelled(at.toggle, "Inspect").set_value(True)
    at.run()
    assert not at.exception
    assert any(f"Saved model {plain(disposable_model)}" == s.value for s in at.subheader)
    _button(at, "Delete…").click()
    at.run()
    assert any("cannot be undone" in w.value for w in at.warning)
    _button(at, "Keep it").click()
    at.run()
    assert disposable_model in [m["name"] for m in list_models(models_dir)]
    _button(at, "Delete…").click()
    at.run()
    _button(at, f"Delete '{plain(disposable_model)}'").click()
    at.run()
    assert not at.exception
    names = [m["name"] for m in list_models(models_dir)]
    assert disposable_model not in names and saved_model_name in names


def test_broken_models_are_listed_apart_with_the_reason(train_page, saved_model_name, models_dir):
    broken = models_dir / "broken_model"
    broken.mkdir()
    (broken / "metadata.json").write_text("{not json")
    try:
        at = train_page
        at.run()
        assert not at.exception
        assert any("cannot be used" in w.value for w in at.warning)
        problems = next(d.value for d in at.dataframe if "problem" in d.value.columns)
        assert list(problems["name"]) == ["broken_model"] and "not valid JSON" in problems.loc[0, "problem"]
        usable = next(d.value for d in at.dataframe if "estimator" in d.value.columns)
        assert "broken_model" not in list(usable["name"])
        _labelled(at.selectbox, "Model").set_value("broken_model")
        at.run()
        assert _button(at, "Use this model").disabled
        _button(at, "Delete…").click()
        at.run()
        _button(at, f"Delete '{plain('broken_model')}'").click()
        at.run()
        assert not at.exception
        assert not broken.exists()
    finally:
        shutil.rmtree(broken, ignore_errors=True)


def test_a_model_trained_on_other_data_is_not_shown_as_current(train_page):
    """Seen: after loading another data set, Train still showed the previous model's result as current."""
    at = train_page
    _labelled(at.number_input, ROWS).set_value(3_000)
    _labelled(at.number_input, REPLICATES).set_value(50)
    _button(at, "Train").click().run()
    assert any("causal_forest on visit" in s.value for s in at.subheader)
    at.switch_page("pages/data.py").run()
    at.tabs[1].selectbox[0].set_value("hillstrom").run()
    _button(at, "Load demo data").click().run()
    at.switch_page("pages/train.py").run()
    assert not at.exception
    assert any("trained on another data set" in w.value for w in at.warning)
    earlier = next(e for e in at.expander if e.label.startswith("Earlier model, trained on"))
    inside = [s.value for s in earlier.subheader if "causal_forest on visit" in s.value]
    # The result is shown only inside the folded "earlier model", never as the page's current result.
    assert inside and [s.value for s in at.subheader if "causal_forest on visit" in s.value] == inside


def test_validation_refutation_and_report_are_on_the_page(train_page):
    """Calibration and targeting charts with their verdicts, refutation on demand, a report to download."""
    at = train_page
    _labelled(at.number_input, ROWS).set_value(3_000)
    _labelled(at.number_input, REPLICATES).set_value(50)
    _button(at, "Train").click().run()
    assert not at.exception
    specs = [chart.proto.spec for chart in at.get("vega_lite_chart")]
    assert any("Calibration: observed against predicted uplift" in spec for spec in specs)
    assert any("Targeting operator characteristic" in spec for spec in specs)
    captions = [c.value for c in at.caption]
    assert any("groups the mean prediction lies inside" in c for c in captions)
    assert any("AUTOC" in c for c in captions)
    assert any(c.startswith("Intervals:") and "simulated twin" in c for c in captions)
    assert at.get("download_button"), "the report is offered for download"
    _button(at, "Run the refutation checks").click().run()
    assert not at.exception and not at.error
    verdicts = [m.value for m in [*at.success, *at.error, *at.warning]]
    assert any("refutation checks" in v for v in verdicts)
    table = next(t.value for t in at.table if "what was done" in t.value.columns)
    assert list(table.index) == ["placebo treatment", "random common cause", "data subsets"]
    assert all(value.endswith("pp") for value in table["mean effect"])
    assert _button(at, "Run them again")


def test_auto_compares_estimators_and_shows_why_it_chose(train_page):
    at = train_page
    _labelled(at.number_input, ROWS).set_value(3_000)
    _labelled(at.number_input, REPLICATES).set_value(50)
    _labelled(at.selectbox, "Estimator").set_value("auto")
    _button(at, "Train").click().run()
    assert not at.exception and not at.error
    assert any(s.value == "Model comparison" for s in at.subheader)
    table = next(t.value for t in at.table if "loss above the chosen [95% CI]" in t.value.columns)
    assert len(table) == 7  # six estimators and the average effect alone
    assert list(table["chosen"]).count("yes") == 1
    sentence = next(
        m.value for m in at.markdown if "the estimator with the smallest doubly robust loss" in m.value
    )
    # Seen: the sentence cut at 80 characters, before its verdict against the average effect.
    assert "average effect" in sentence and "…" not in sentence


def _arrow_table(data: bytes):
    """A chart's data set, as Streamlit sends it to the browser (Arrow IPC)."""
    import pyarrow as pa

    return pa.ipc.open_stream(data).read_all().to_pandas()


def _axes(spec: dict):
    """Every axis definition in a vega-lite spec, layers and concatenations included."""
    if isinstance(spec, dict):
        for key, value in spec.items():
            if key == "axis" and isinstance(value, dict):
                yield value
            else:
                yield from _axes(value)
    elif isinstance(spec, list):
        for item in spec:
            yield from _axes(item)


def test_a_spend_model_draws_dollars_and_no_axis_repeats_its_ticks(train_page):
    """Seen: a spend model's histogram read -100% to 300%; tick labels repeated ("0.3%, 0.3%")."""
    at = train_page
    at.switch_page("pages/data.py").run()
    at.tabs[1].selectbox[0].set_value("hillstrom").run()
    _button(at, "Load demo data").click().run()
    at.switch_page("pages/train.py").run()
    _labelled(at.selectbox, "Outcome").set_value("spend")
    _labelled(at.number_input, ROWS).set_value(4_000)
    _labelled(at.number_input, REPLICATES).set_value(50)
    _button(at, "Train").click().run()
    assert not at.exception and not at.error
    specs = [json.loads(chart.proto.spec) for chart in at.get("vega_lite_chart")]
    histogram = next(s for s in specs if "Predicted uplift on the holdout" in json.dumps(s))
    x = histogram["encoding"]["x"]
    assert x["title"] == "uplift" and "format" not in x.get("axis", {})
    bins = next(
        _arrow_table(data.data.data)
        for chart in at.get("vega_lite_chart")
        if "Predicted uplift on the holdout" in chart.proto.spec
        for data in chart.proto.datasets
    )
    assert max(abs(bins["start"])) > 1.0, "bins in dollars, not fractions drawn as percent"
    # A tick format with a fixed precision (".1%") printed the same label twice; an axis format
    # either is absent or leaves the precision to vega, which takes it from the tick step.
    formats = [axis["format"] for spec in specs for axis in _axes(spec) if "format" in axis]
    assert specs and not [f for f in formats if re.search(r"\.\d", f)], formats


def test_a_data_set_smaller_than_the_smallest_sample_opens_the_page(models_dir):
    """Seen: a valid 150-row experiment made the rows input's minimum (200) exceed its maximum,
    and the page stopped with a traceback."""
    at = AppTest.from_file(APP, default_timeout=300)
    at.run()
    rows = [(i % 2, int(i % 3 == 0), 20 + i % 40) for i in range(150)]
    table = "treatment,conversion,age\n" + "".join(f"{t},{y},{a}\n" for t, y, a in rows)
    upload = "Upload an experiment (CSV, CSV.gz or Parquet, up to 1 GB)"
    _labelled(at.file_uploader, upload).upload("small.csv", table.encode(), "text/csv")
    at.run()
    _button(at, "Use this mapping").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    at.switch_page("pages/train.py").run()
    assert not at.exception
    assert _labelled(at.number_input, ROWS).value == 150


def test_without_the_chart_renderer_the_page_says_why_there_is_no_report(train_page, monkeypatch):
    from impactiq.present import report

    monkeypatch.setattr(report, "report_unavailable", lambda: "No renderer here; install the requirements.")
    at = train_page
    _labelled(at.number_input, ROWS).set_value(3_000)
    _labelled(at.number_input, REPLICATES).set_value(50)
    _button(at, "Train").click().run()
    assert not at.exception
    assert any(w.value == "No renderer here; install the requirements." for w in at.warning)
    assert not at.get("download_button")
