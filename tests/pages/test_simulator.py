"""AppTest of the Simulator page on a small saved Hillstrom model (numeric and categorical features)."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from impactiq.data.demo import load_demo
from impactiq.decisions import economics, persuadability, profiles, scenario
from impactiq.evaluation.training import train_model
from impactiq.present.text import plain
from impactiq.uplift.estimators import UpliftModel
from impactiq.uplift.store import load_model, save_model

APP = "../../streamlit_app.py"
PAGE = "pages/simulator.py"
MODEL = "demo"


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    """A models folder holding one quickly trained model named like the demo model."""
    root = tmp_path_factory.mktemp("models")
    trained = train_model(
        load_demo("hillstrom"), outcome="visit", sample=4_000, n_boot=20, params={"n_estimators": 40}
    )
    save_model(trained, MODEL, models_dir=root)
    return root


@pytest.fixture(scope="module")
def saved(models_dir):
    return load_model(models_dir / MODEL)


@pytest.fixture
def app(models_dir, monkeypatch):
    """The app pointed at the test's models folder (pages.common reads the variable on import)."""
    monkeypatch.setenv("IMPACTIQ_MODELS_DIR", str(models_dir))
    from pages import common

    monkeypatch.setattr(common, "MODELS_DIR", str(models_dir))
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page(PAGE)
    return at


def _holdout_thresholds(model):
    return persuadability.default_thresholds(model.holdout)


def _number(at: AppTest, label: str):
    """The number input labelled `label` (labels are markdown: feature names in them are escaped)."""
    return next(n for n in at.number_input if n.label == plain(label))


def _select(at: AppTest, label: str):
    return next(s for s in at.selectbox if s.label == plain(label))


def _shown_uplift(at: AppTest) -> float:
    """The uplift metric of profile A, read back from its text ('+1.234 pp')."""
    text = next(m for m in at.metric if m.label == "Uplift").value
    return float(text.removesuffix(" pp")) / 100


def _shown_profile(at: AppTest, model) -> dict:
    profile = {}
    for name in model.schema.numeric_features:
        profile[name] = float(_number(at, name).value)
    for name in model.schema.categorical_features:
        profile[name] = _select(at, name).value
    return profile


def test_the_form_follows_the_schema(app, saved):
    app.run()
    assert not app.exception and not app.error
    for name in saved.schema.numeric_features:
        spec, widget = saved.feature_profile[name], _number(app, name)
        assert (widget.min, widget.max) == (spec["min"], spec["max"])
        assert widget.value == spec["quantiles"]["50"]
        assert "Training range" in widget.help
    for name in saved.schema.categorical_features:
        widget = _select(app, name)
        assert widget.options == saved.feature_profile[name]["categories"]
        frequencies = saved.feature_profile[name]["frequencies"]
        assert widget.value == max(frequencies, key=frequencies.get)


def test_the_uplift_shown_is_the_models(app, saved):
    app.run()
    typical = profiles.default_profile(saved.feature_profile, saved.schema)
    expected = saved.effect(profiles.profile_frame(typical, saved.schema))[0]
    assert _shown_uplift(app) == pytest.approx(expected, abs=5.1e-5)  # shown to 0.01 pp
    _number(app, "recency").set_value(11)
    _select(app, "channel").set_value("Phone")
    app.run()
    assert not app.exception
    changed = saved.effect(
        profiles.profile_frame({**typical, "recency": 11.0, "channel": "Phone"}, saved.schema)
    )[0]
    assert _shown_uplift(app) == pytest.approx(changed, abs=5.1e-5)
    rank = profiles.percentile_rank(changed, saved.holdout["uplift"])
    assert next(m for m in app.metric if m.label.startswith("Uplift percentile")).value == f"{rank:.0f}%"
    # Seen: class labels without their certainty ("persuadable" with an interval spanning zero).
    shown = next(m for m in app.metric if m.label == "Class")
    score = profiles.score_profiles(
        saved, [{**typical, "recency": 11.0, "channel": "Phone"}], _holdout_thresholds(saved)
    )
    row = score.iloc[0]
    sure = persuadability.settled(
        row["class"], row["uplift_lower"], row["uplift_upper"], _holdout_thresholds(saved)
    )
    assert shown.value == (row["class"] if sure else f"likely {row['class']}")
    assert any(
        "Expected incremental profit per contact" in e.value for e in [*app.success, *app.warning, *app.error]
    )
    assert any(c.value.startswith("Method: baseline Shapley") for c in app.caption)
    # Every result says which model, and which data, it belongs to.
    assert any(
        c.value.startswith(plain(f"Results of model {MODEL}: causal_forest on visit, trained on"))
        for c in app.caption
    )


def test_the_scenario_lives_in_the_url(app, saved):
    app.query_params.update(
        {"model": MODEL, "x.recency": "3", "x.channel": "Multichannel", "whatif": "history", "cost": "0.5"}
    )
    app.run()
    assert not app.exception and not [w for w in app.warning if "link" in w.value]
    assert _number(app, "recency").value == 3 and _select(app, "channel").value == "Multichannel"
    assert _select(app, "Feature to vary").value == "history"
    assert _number(app, "Cost per contact").value == 0.5
    written = {k: v[0] if isinstance(v, list) else v for k, v in app.query_params.items()}
    linked, warnings = scenario.decode_scenario(written, saved.schema, saved.feature_profile)
    assert warnings == [] and linked.profile == _shown_profile(app, saved)
    assert (linked.whatif, linked.cost, linked.value) == ("history", 0.5, economics.DEFAULT_VALUE)
    expected = saved.effect(profiles.profile_frame(linked.profile, saved.schema))[0]
    assert _shown_uplift(app) == pytest.approx(expected, abs=5.1e-5)


def test_invalid_url_values_fall_back_with_warnings(app, saved):
    app.query_params.update({"model": "gone", "x.recency": "soon", "x.channel": "Fax", "cost": "-3"})
    app.run()
    assert not app.exception
    warnings = " ".join(w.value for w in app.warning)
    # Warnings quote the link's text, escaped so that markdown shows it as written.
    assert (
        "'gone' does not exist" in warnings
        and plain("'recency'") in warnings
        and plain("'channel'") in warnings
    )
    assert "cost" in warnings
    assert _shown_profile(app, saved) == profiles.default_profile(saved.feature_profile, saved.schema)


def test_the_typical_preset_restores_the_defaults(app, saved):
    app.run()
    _number(app, "history").set_value(900.0)
    app.run()
    next(b for b in app.button if b.label == "Typical user").click()
    app.run()
    assert _shown_profile(app, saved) == profiles.default_profile(saved.feature_profile, saved.schema)


@pytest.mark.parametrize(
    ("kind", "pick"), [("Most persuadable", np.argmax), ("Least persuadable", np.argmin)]
)
def test_holdout_presets_load_real_users(app, saved, kind, pick):
    app.run()
    next(b for b in app.button if b.label == f"{kind} user").click()
    app.run()
    assert not app.exception
    row = saved.holdout.iloc[int(pick(saved.holdout["uplift"].to_numpy()))]
    expected = profiles.clip_profile(row, saved.schema, saved.feature_profile)
    assert _shown_profile(app, saved) == expected


def _csv(frame: pd.DataFrame) -> bytes:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue().encode()


def test_a_batch_file_comes_back_scored(app, saved):
    profiles = load_demo("hillstrom").frame[list(saved.schema.features)].sample(50, random_state=2)
    app.run()
    next(u for u in app.file_uploader if u.label == "Profiles (CSV, CSV.gz or Parquet)").upload(
        "customers.csv", _csv(profiles), "text/csv"
    )
    app.run()
    assert not app.exception and not app.error
    assert [b.label for b in app.download_button] == ["Download scored profiles (CSV)"]
    scored = pd.read_csv(io.BytesIO(app.session_state["simulator_batch"][1]))
    np.testing.assert_allclose(scored["uplift"], saved.effect(profiles), rtol=1e-9)
    assert set(scored["class"]) <= set(persuadability.CLASSES)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (lambda f: f.drop(columns="history"), "lacks the feature column"),
        (lambda f: f.assign(channel="Fax"), "never saw in training"),
        (lambda f: f.assign(recency="soon"), "should hold numbers"),
        (lambda f: None, "not a CSV or Parquet table"),
    ],
)
def test_bad_batch_files_show_clear_errors(app, saved, content, message):
    profiles = load_demo("hillstrom").frame[list(saved.schema.features)].head(20)
    changed = content(profiles)
    data = b"\x89PNG\r\n\x1a\n\x00binary" if changed is None else _csv(changed)
    app.run()
    next(u for u in app.file_uploader if u.label == "Profiles (CSV, CSV.gz or Parquet)").upload(
        "customers.csv", data, "text/csv"
    )
    app.run()
    assert not app.exception
    assert any(message in e.value for e in app.error)
    assert not app.download_button


def test_no_saved_model_says_what_to_do(app, tmp_path, monkeypatch):
    from pages import common

    monkeypatch.setattr(common, "MODELS_DIR", str(tmp_path))
    app.run()
    assert not app.exception
    assert any("train one on the Train page" in i.value for i in app.info)
    assert not app.number_input


def test_the_value_per_success_belongs_to_the_models_outcome(models_dir, monkeypatch):
    """Seen: value per success 10 on the Simulator (carried over from another model) and 1 on
    Segments for the same spend model."""
    from pages import common

    trained = train_model(
        load_demo("hillstrom"), outcome="spend", sample=3_000, n_boot=20, params={"n_estimators": 40}
    )
    save_model(trained, "spend_model", models_dir=models_dir, replace=True)
    monkeypatch.setattr(common, "MODELS_DIR", str(models_dir))
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page(PAGE).run()
    _select(at, "Model").set_value(MODEL).run()
    value = next(n for n in at.number_input if n.label == "Value per conversion")
    assert value.value == economics.default_value(True)
    _number(at, "Cost per contact").set_value(0.3).run()
    _select(at, "Model").set_value("spend_model").run()
    assert not at.exception
    amount = next(n for n in at.number_input if n.label == "Value per unit of the outcome")
    assert amount.value == economics.default_value(False)
    assert _number(at, "Cost per contact").value == 0.3  # the cost of a contact carries over
    at.switch_page("pages/segments.py").run()
    _select(at, "Model").set_value("spend_model").run()
    # The Segments page asks for the value in the same words, and takes the same smallest cost.
    assert next(n for n in at.number_input if n.label == "Value per unit of the outcome").value == (
        economics.default_value(False)
    )
    cost = _number(at, "Cost per contact")
    assert cost.proto.min == economics.SMALLEST_COST
    cost.set_value(0.002).run()
    assert not at.exception and cost.value == 0.002


def test_a_model_without_intervals_gets_no_green_decision(models_dir, monkeypatch):
    """Seen: 'treat' shown green, and '95% CI:' above a bare estimate, for a model saved without
    intervals, whose decision rests on the estimate alone."""
    from pages import common

    experiment = load_demo("hillstrom")
    trained = train_model(
        experiment, outcome="visit", estimator="t_learner", sample=3_000, n_boot=20, calibrate=False
    )
    rows = slice(0, 3_000)
    features = experiment.X[list(trained.schema.features)]
    bare = UpliftModel(estimator="t_learner", n_bootstrap=0).fit(
        experiment.y("visit")[rows], experiment.t[rows], features.iloc[rows]
    )
    assert not bare.has_intervals
    trained = dataclasses.replace(trained, model=bare)
    save_model(trained, "bare", models_dir=models_dir, replace=True)
    monkeypatch.setattr(common, "MODELS_DIR", str(models_dir))
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page(PAGE).run()
    _select(at, "Model").set_value("bare").run()
    assert not at.exception
    assert any(c.value == "No 95% interval: this model was saved without one." for c in at.caption)
    assert not at.success and not [e for e in at.error if "Expected incremental profit" in e.value]
    assert any("judged on the estimate alone" in i.value for i in at.info)
