"""AppTest of the Stream page: no score log yet, a log with scores and dead letters, a file that is not a log."""

from __future__ import annotations

import time

import pytest
from streamlit.testing.v1 import AppTest

from impactiq.present.formatting import format_estimate
from impactiq.serving.scorelog import SCORE_LOG_ENV, open_score_log
from pages import common

APP = "../../streamlit_app.py"
# Outside text that markdown would turn into an image fetch and a link.
HOSTILE = "![x](http://attacker.example/pixel) [click](http://attacker.example)"


@pytest.fixture
def open_page(monkeypatch, tmp_path):
    monkeypatch.setattr(common, "MODELS_DIR", str(tmp_path))
    monkeypatch.setattr(common, "WORKSPACE_DIR", str(tmp_path / "workspaces"))

    def run(log_path) -> AppTest:
        monkeypatch.setenv(SCORE_LOG_ENV, str(log_path))
        at = AppTest.from_file(APP, default_timeout=60)
        at.switch_page("pages/stream.py")
        at.run()
        assert not at.exception, at.exception
        return at

    return run


def _scored(offset: int, now: float) -> tuple:
    """A score-log row for offset `offset` of topic events, scored at `now`, produced 250 ms before."""
    return (
        "events",
        0,
        offset,
        f"user-{offset}",
        str(offset),
        "demo",
        now - 0.25,
        now,
        0.02,
        0.01,
        0.03,
        "persuadable",
        None,
        None,
    )


def _metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label.startswith(label))


def test_without_a_log_the_page_says_how_to_start_a_scorer(open_page, tmp_path):
    at = open_page(tmp_path / "scores.sqlite")
    assert any("No score log" in i.value for i in at.info)
    assert at.code[0].value.startswith("python -m impactiq stream --model")
    assert str(tmp_path / "scores.sqlite") in at.code[0].value
    assert not at.dataframe and not at.metric


def test_a_log_shows_throughput_latency_and_recent_scores(open_page, tmp_path):
    now = time.time()
    with open_score_log(tmp_path / "scores.sqlite") as log:
        log.write(
            [_scored(i, now) for i in range(120)],
            [("events", 0, 120, HOSTILE, "The event is not valid JSON", HOSTILE, now, "demo")],
        )
        log.write([_scored(5, now)])  # offset 5 again: a replay, counted as a duplicate
    at = open_page(tmp_path / "scores.sqlite")
    assert _metric(at, "Events/s") == "2"  # 120 events in the last 60 s
    assert _metric(at, "Latency p50 / p99") == "250 / 250 ms"
    assert (_metric(at, "Scored"), _metric(at, "Dead letters"), _metric(at, "Duplicates")) == (
        "120",
        "1",
        "1",
    )
    recent = next(d.value for d in at.dataframe if "uplift [95% CI]" in d.value.columns)
    assert len(recent) == 120 and recent["key"].iloc[0] == "user-119"
    # One way to write an estimate: with its interval, in the outcome's unit (no saved model
    # 'demo' here to say the outcome is 0/1, so its own unit), as every other page does.
    assert recent["uplift [95% CI]"].iloc[0] == format_estimate(0.02, 0.01, 0.03, "effect")
    assert recent["latency (ms)"].iloc[0] == "250"
    letters = next(d.value for d in at.dataframe if "reason" in d.value.columns)
    assert letters["payload"].tolist() == [HOSTILE]
    shown = [e.value for e in (*at.markdown, *at.caption, *at.info) if isinstance(e.value, str)]
    assert not any("attacker.example" in text for text in shown)


def test_a_file_that_is_not_a_log_is_refused_on_the_page(open_page, tmp_path):
    path = tmp_path / "notes.sqlite"
    path.write_text("these are notes, not a database\n" * 100)
    at = open_page(path)
    assert any("not a score log" in e.value for e in at.error)


def test_a_saved_models_scores_read_in_percentage_points(models_dir, saved_model_name, monkeypatch, tmp_path):
    """Seen: raw fractions (0.0123) in three columns, where every other page writes
    '+1.23 pp [+0.45 pp, +2.01 pp]' under 'uplift [95% CI]'."""
    monkeypatch.setattr(common, "MODELS_DIR", str(models_dir))
    now = time.time()
    with open_score_log(tmp_path / "scores.sqlite") as log:
        log.write([(*_scored(0, now)[:5], saved_model_name, *_scored(0, now)[6:])])
    monkeypatch.setenv(SCORE_LOG_ENV, str(tmp_path / "scores.sqlite"))
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page("pages/stream.py")
    at.run()
    assert not at.exception, at.exception
    recent = next(d.value for d in at.dataframe if "uplift [95% CI]" in d.value.columns)
    assert recent["uplift [95% CI]"].tolist() == ["+2.00 pp [+1.00 pp, +3.00 pp]"]
