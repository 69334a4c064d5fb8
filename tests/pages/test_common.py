"""Tests of pages.common.run_with_progress: work in a worker thread, its progress line drawn here."""

from __future__ import annotations

import threading
import time

import pytest
from streamlit.runtime.scriptrunner_utils.exceptions import StopException

from impactiq.errors import ImpactIQError
from impactiq.evaluation.progress import Progress
from pages import common


def _progress() -> Progress:
    return Progress(rows=100_000, stages=("splitting holdout", "evaluating"))


def test_the_line_is_redrawn_while_the_work_runs_and_the_result_comes_back():
    progress, shown = _progress(), []

    def work(on_stage):
        on_stage("splitting holdout")
        time.sleep(0.3)
        on_stage("evaluating")
        time.sleep(0.3)
        return 42

    assert common.run_with_progress(work, progress, shown.append, every=0.05) == 42
    assert len(shown) >= 6
    assert any(line.startswith("splitting holdout · ") for line in shown)
    assert any(line.startswith("evaluating · ") for line in shown)
    assert progress.line().startswith("done · ")
    assert threading.current_thread() is threading.main_thread()


def test_the_work_s_error_is_raised_in_the_calling_thread():
    def work(on_stage):
        on_stage("splitting holdout")
        raise ImpactIQError("the outcome column 'visit' is constant")

    with pytest.raises(ImpactIQError, match="constant"):
        common.run_with_progress(work, _progress(), lambda line: None, every=0.01)


def test_a_stopped_script_stops_the_work_at_its_next_stage():
    reached = []

    def work(on_stage):
        on_stage("splitting holdout")
        time.sleep(0.2)
        on_stage("evaluating")  # raises: the page is gone
        reached.append("evaluating")

    def show(line):
        if line.startswith("splitting holdout"):
            raise StopException  # what a page element raises once the script is told to stop

    with pytest.raises(StopException):
        common.run_with_progress(work, _progress(), show, every=0.01)
    assert reached == []
    assert not any(t.name.startswith("impactiq-work") for t in threading.enumerate())
