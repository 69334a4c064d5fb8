"""AppTest of the Demo page: two users' uplift first, then the experiment, the model and the split screen."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from pages import common

APP = "../../streamlit_app.py"


def _demo(monkeypatch, models_dir) -> AppTest:
    monkeypatch.setattr(common, "MODELS_DIR", str(models_dir))
    at = AppTest.from_file(APP, default_timeout=300)
    at.switch_page("pages/demo.py")
    at.run()
    assert not at.exception, at.exception
    return at


def test_the_story_opens_on_two_users_uplift_with_their_intervals(monkeypatch, models_dir, saved_model_name):
    at = _demo(monkeypatch, models_dir)
    first = at.metric[0]
    assert first.label.startswith("A persuadable user: uplift on visit") and first.value.endswith("pp")
    assert any(m.label.startswith("A sure thing") for m in at.metric)
    assert any(c.value.startswith("95% CI") and "persuadable" in c.value.lower() for c in at.caption)
    assert [h.value for h in at.header] == [
        "1. The experiment",
        "2. The model",
        "3. Where the budget goes: the split screen",
    ]
    # The split screen's gain in the Segments page's words: green only where it is clear of zero.
    gains = [m for m in [*at.success, *at.info] if m.value.startswith("For the same budget")]
    assert len(gains) == 1 and gains[0].value.endswith("holdout users.")
    assert "(95% CIs in brackets)" in gains[0].value
    assert not at.error


def test_without_a_model_the_demo_says_how_to_get_one(monkeypatch, tmp_path):
    at = _demo(monkeypatch, tmp_path)
    assert any("make setup" in i.value for i in at.info)
