"""Tests of impactiq.evaluation.progress: the forecast of the time left, and its words."""

from __future__ import annotations

import threading
import time

import pytest

from impactiq.evaluation.comparison import AUTO
from impactiq.evaluation.progress import (
    CALIBRATION,
    COMPARISON,
    COSTS,
    FIT,
    FIT_FACTORS,
    MIN_EVIDENCE_SECONDS,
    Progress,
    expected_seconds,
    format_duration,
    format_time_left,
    reporting_every,
    training_rows,
    training_stages,
)
from impactiq.evaluation.training import CALIBRATION_MAX_ROWS, STAGES

ROWS = 1_000_000


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _progress(clock, rows=ROWS, estimator="causal_forest", **settings) -> Progress:
    stages = training_stages(estimator=estimator, rows=rows, **settings)
    return Progress(rows=rows, estimator=estimator, stages=stages, clock=clock)


def _forecast(stages, rows=ROWS, estimator="causal_forest") -> float:
    return sum(expected_seconds(stage, rows, estimator) for stage in stages)


def test_every_stage_and_estimator_has_a_cost():
    assert set(COSTS) == set(STAGES)
    assert all(expected_seconds(stage, ROWS, e) > 0 for stage in STAGES for e in FIT_FACTORS)


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("estimator", [*FIT_FACTORS, AUTO])
def test_the_forecast_grows_with_the_rows(stage, estimator):
    sizes = [10_000, 100_000, 1_000_000, 10_000_000]
    costs = [expected_seconds(stage, n, estimator) for n in sizes]
    assert costs == sorted(costs) and costs[0] < costs[-1]


def test_evaluating_costs_no_more_once_the_bootstrap_draws_its_capped_rows():
    cap = COSTS["evaluating"].flat_above
    assert expected_seconds("evaluating", cap, "causal_forest") == expected_seconds(
        "evaluating", 10 * cap, "causal_forest"
    )


def test_a_larger_table_forecasts_more_time_left(clock):
    small, large = _progress(clock, rows=50_000), _progress(clock, rows=5_000_000)
    small.start("splitting holdout")
    large.start("splitting holdout")
    assert 0 < small.remaining() < large.remaining()


def test_stages_follow_the_settings():
    assert training_stages(estimator="causal_forest", rows=ROWS) == (
        "splitting holdout",
        FIT,
        CALIBRATION,
        "scoring holdout",
        "evaluating",
    )
    assert training_stages(estimator=AUTO, rows=ROWS, sample=True, calibrate=False) == (
        "sampling",
        "splitting holdout",
        COMPARISON,
        FIT,
        "scoring holdout",
        "evaluating",
    )
    # Above the size up to which training calibrates intervals, it does not, nor does the forecast.
    assert CALIBRATION not in training_stages(estimator="causal_forest", rows=CALIBRATION_MAX_ROWS + 1)
    assert training_rows(1_000_000, test_size=0.3) == 700_000
    assert training_rows(1_000_000, sample=200_000, test_size=0.3) == 140_000


def test_nothing_is_known_before_the_first_stage(clock):
    progress = _progress(clock)
    assert progress.remaining() is None and progress.elapsed() == 0
    assert progress.line() == "starting · 0s elapsed"


def test_the_first_forecast_is_the_sum_of_the_stage_costs(clock):
    progress = _progress(clock)
    progress.start("splitting holdout")
    assert progress.remaining() == pytest.approx(_forecast(progress.stages))
    clock.advance(0.05)
    assert progress.elapsed() == pytest.approx(0.05)
    assert progress.remaining() == pytest.approx(_forecast(progress.stages) - 0.05)


def test_the_forecast_is_corrected_by_the_ratio_of_actual_to_expected(clock):
    progress = _progress(clock)
    progress.start("splitting holdout")
    split = expected_seconds("splitting holdout", ROWS, "causal_forest")
    clock.advance(split)
    progress.start(FIT)
    fit = expected_seconds(FIT, ROWS, "causal_forest")
    clock.advance(2 * fit)  # a machine twice as slow as the measured one
    progress.start(CALIBRATION)
    # The split, forecast at well under a second, does not count; the fit, twice as slow, does.
    assert split < MIN_EVIDENCE_SECONDS < fit
    assert progress.remaining() == pytest.approx(2 * _forecast(progress.stages[2:]))


def test_a_faster_run_forecasts_less(clock):
    progress = _progress(clock)
    progress.start(FIT)
    clock.advance(expected_seconds(FIT, ROWS, "causal_forest") / 4)
    progress.start(CALIBRATION)
    assert progress.remaining() == pytest.approx(_forecast(progress.stages[2:]) / 4)


def test_tiny_stages_do_not_correct_the_forecast(clock):
    progress = _progress(clock, rows=10_000)
    progress.start("splitting holdout")
    clock.advance(1.0)  # a hundred times the forecast: start-up overhead, not a slow machine
    progress.start(FIT)
    assert progress.remaining() == pytest.approx(_forecast(progress.stages[1:], rows=10_000))


def test_a_stage_that_overruns_its_forecast_says_so(clock):
    progress = _progress(clock)
    progress.start(FIT)
    clock.advance(expected_seconds(FIT, ROWS, "causal_forest") * 1.5)
    assert progress.remaining() is None
    assert progress.line().endswith("longer than forecast")


def test_an_unmeasured_estimator_gives_no_forecast_until_its_fits_are_done(clock):
    progress = _progress(clock, estimator="someone_elses_learner")
    progress.start("splitting holdout")
    assert progress.remaining() is None
    assert progress.line() == "splitting holdout · 0s elapsed"
    progress.start("scoring holdout")
    assert progress.remaining() is not None


def test_finish_stops_the_clock(clock):
    progress = _progress(clock)
    progress.start("splitting holdout")
    clock.advance(130)
    progress.finish()
    clock.advance(1_000)
    assert progress.elapsed() == 130 and progress.remaining() == 0
    assert progress.line() == "done · 2m10s elapsed"


def test_the_line_names_stage_elapsed_and_time_left(clock):
    progress = _progress(clock)
    progress.start(FIT)
    clock.advance(20)
    text = progress.line()
    stage, elapsed, left = text.split(" · ")
    assert (stage, elapsed) == (FIT, "20s elapsed")
    assert left.startswith("about ") and left.endswith(" left")
    assert progress.line(still=True).startswith(f"still {FIT} · ")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (0.4, "0s"), (45, "45s"), (59.6, "1m00s"), (130, "2m10s"), (240, "4m00s"), (3720, "1h02m")],
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    ("left", "text"),
    [
        (0.4, "almost done"),
        (43, "about 45s left"),
        (91, "about 1m30s left"),
        (178, "about 3m left"),
        (754, "about 13m left"),
        (3720, "about 1h02m left"),
    ],
)
def test_time_left_is_rounded_to_what_a_forecast_can_say(left, text):
    assert format_time_left(left) == text


def test_reporting_every_writes_during_a_stage_and_nothing_after(clock):
    progress = Progress(rows=ROWS, clock=time.monotonic)
    lines, lock = [], threading.Lock()

    def write(line: str) -> None:
        with lock:
            lines.append(line)

    with reporting_every(progress, write, seconds=0.05):
        progress.start(FIT)
        time.sleep(0.4)
    written = len(lines)
    time.sleep(0.2)
    assert written >= 3 and len(lines) == written
    assert all(line.startswith(f"still {FIT} · ") for line in lines)
    assert not any(t.name == "impactiq-progress" for t in threading.enumerate())


def test_reporting_every_stops_when_the_block_fails(clock):
    progress = Progress(rows=ROWS, clock=clock)
    with pytest.raises(RuntimeError), reporting_every(progress, print, seconds=0.05):
        raise RuntimeError("training failed")
    assert not any(t.name == "impactiq-progress" for t in threading.enumerate())
