"""How long a training has run and about how long it has left.

`Progress` follows the stages that `train_model` reports (`training.STAGES`) and forecasts the
time left from what each stage is expected to cost: seconds = a * (training rows / 100,000) ** b
per stage, with `a` and `b` measured on a 2-core machine for the default causal forest with
interval calibration. As the run goes, the forecast is corrected by the ratio of the actual to the
expected time of the stages already done: a machine twice as slow, or twice as busy, soon shows
twice the time left. The estimate is a forecast from measured costs, not a measurement: a stage
does not report how far it has got, so nothing here knows how much of the running stage is done.
When the running stage has already taken longer than its corrected forecast, the forecast has
nothing left to say and `remaining()` is None ("longer than forecast").

Where the figures come from (see COSTS): what `python -m impactiq train` runs (`read_table`,
`prepare_experiment`, `train_model` with the default causal forest, calibration and 200 bootstrap
replicates), timed stage by stage on `make_criteo_like` Parquet files of 50,000 and 200,000 rows
(35,000 and 140,000 training rows), twice each, on a 2-core machine that others were using at the
time (load 3 to 6): on an idle one the stages run up to about twice as fast, which the correction
sees after the first long stage. Two sizes give `b`; far beyond them (14M rows) the power law is
an extrapolation. The other estimators' fits were measured once, at 35,000 training rows, as a
factor on the forest's (`FIT_FACTORS`, the same power assumed); their calibration refits the
estimator once on a twin where the forests' refits twice (a sharper forest, then the twin), so
it is taken as half the forest's share. The comparison of `auto` was measured once, at 35,000
rows. Multi-arm models cost more per row than the forecast assumes (about 1.5 times for three
arms), and Ray spreads the work over other machines: there too the correction does the work.
"""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from impactiq.evaluation.comparison import AUTO
from impactiq.evaluation.metrics import BOOTSTRAP_MAX_ROWS
from impactiq.evaluation.training import CALIBRATION_MAX_ROWS, STAGES, train_model

# Rows the costs are quoted at.
REFERENCE_ROWS = 100_000
# A stage done must have been expected to take at least this long before its ratio of actual to
# expected time corrects the forecast: a stage of a tenth of a second is all fixed overhead.
MIN_EVIDENCE_SECONDS = 2.0
SEPARATOR = " · "

FIT = "fitting nuisance and effect models"
CALIBRATION = "calibrating intervals"
COMPARISON = "comparing estimators"


@dataclass(frozen=True)
class StageCost:
    """Expected seconds of a stage: `seconds` at REFERENCE_ROWS training rows, times rows ** `power`."""

    seconds: float
    power: float
    # Training rows beyond which the stage costs no more (it works on a capped number of rows).
    flat_above: int | None = None

    def at(self, rows: int) -> float:
        rows = max(rows, 1) if self.flat_above is None else min(max(rows, 1), self.flat_above)
        return self.seconds * (rows / REFERENCE_ROWS) ** self.power


# Measured: the default causal forest with calibration (see the module docstring). Seconds at
# 35,000 and 140,000 training rows, the mean of two runs each: fit 9.2 and 26.0, calibration 17.3
# and 55.7, scoring 0.54 and 1.77, evaluating (200 bootstrap replicates) 2.5 and 7.1; the split
# alone, 0.8 s at 9.8M (bench/bench_scale.py); `auto`'s comparison 44.9 s at 35,000.
COSTS = {
    "sampling": StageCost(0.03, 1.0),
    "splitting holdout": StageCost(0.008, 1.0),
    COMPARISON: StageCost(98.6, 0.75),  # one size only: the fit's power
    FIT: StageCost(20.2, 0.75),
    CALIBRATION: StageCost(42.0, 0.84),
    "scoring holdout": StageCost(1.33, 0.85),
    # The bootstrap draws at most BOOTSTRAP_MAX_ROWS holdout rows per replicate: with the default
    # 30% holdout, that many holdout rows come with 7/3 as many training rows.
    "evaluating": StageCost(5.5, 0.76, flat_above=BOOTSTRAP_MAX_ROWS * 7 // 3),
}
# Each estimator's fit (train_model's defaults; the meta-learners include their 20 bootstrap
# refits) as a multiple of the causal forest's, measured once at 35,000 training rows.
FIT_FACTORS = {
    "causal_forest": 1.0,
    "dr": 0.61,
    "linear_dml": 0.20,
    "t_learner": 1.75,
    "x_learner": 4.84,
    "s_learner": 1.54,
}
# The forests' calibration fits a sharper forest and the twin; the others only the twin.
_FORESTS = ("causal_forest", "dr")


def training_rows(n_rows: int, *, sample: int | None = None, test_size: float = 0.3) -> int:
    """The rows `train_model` fits on: the sample (or all rows) less the holdout."""
    return round(min(sample or n_rows, n_rows) * (1 - test_size))


def training_stages(
    *, estimator: str, rows: int, sample: bool = False, calibrate: bool = True
) -> tuple[str, ...]:
    """The stages of `STAGES` that `train_model` reports for these settings and training rows, in order."""
    skipped = {"sampling"} if not sample else set()
    if estimator != AUTO:
        skipped.add(COMPARISON)
    if not calibrate or rows > CALIBRATION_MAX_ROWS:
        skipped.add(CALIBRATION)
    return tuple(stage for stage in STAGES if stage not in skipped)


def training_progress(n_rows: int, **options) -> Progress:
    """A `Progress` for `train_model(experiment, **options)` on an experiment of `n_rows` rows."""
    defaults = {
        name: parameter.default
        for name, parameter in inspect.signature(train_model).parameters.items()
        if parameter.default is not inspect.Parameter.empty
    }
    settings = {**defaults, **options}
    estimator = settings["estimator"]
    rows = training_rows(n_rows, sample=settings["sample"], test_size=settings["test_size"])
    return Progress(
        rows=rows,
        estimator=estimator,
        stages=training_stages(
            estimator=estimator,
            rows=rows,
            sample=settings["sample"] is not None,
            calibrate=settings["calibrate"],
        ),
    )


def expected_seconds(stage: str, rows: int, estimator: str) -> float | None:
    """The forecast of one stage on this machine class; None for a stage or estimator not measured.

    `auto` refits the estimator it chose, which `train_model` does not report: its fit and
    calibration are forecast as the causal forest's, the usual choice.
    """
    cost = COSTS.get(stage)
    fitted = "causal_forest" if estimator == AUTO else estimator
    if cost is None or (stage in (FIT, CALIBRATION) and fitted not in FIT_FACTORS):
        return None
    seconds = cost.at(rows)
    if stage == FIT:
        seconds *= FIT_FACTORS[fitted]
    elif stage == CALIBRATION:
        seconds *= FIT_FACTORS[fitted] * (1.0 if fitted in _FORESTS else 0.5)
    return seconds


class Progress:
    """Elapsed time and a forecast of the time left, stage by stage; safe to read from another thread.

    Call `start(stage)` as each stage begins (it fits `train_model(on_stage=...)`) and `finish()`
    at the end. `remaining()` is None before the first stage, for a stage or estimator without a
    measured cost, and while the running stage takes longer than its forecast.
    """

    def __init__(
        self,
        *,
        rows: int,
        estimator: str = "causal_forest",
        stages: Sequence[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rows = rows
        self.estimator = estimator
        self.stages = tuple(stages if stages is not None else training_stages(estimator=estimator, rows=rows))
        self._clock = clock
        self._lock = threading.Lock()
        self._started: float | None = None
        self._finished: float | None = None
        self._stage: str | None = None
        self._stage_started = 0.0
        # (stage, actual seconds) of the stages done, in order.
        self._done: list[tuple[str, float]] = []

    @property
    def stage(self) -> str | None:
        """The running stage (None before the first and after `finish`)."""
        return self._stage

    def start(self, stage: str) -> None:
        """`stage` begins now; the stage before it, if any, has ended."""
        self._move_to(stage)

    def finish(self) -> None:
        """The last stage has ended: `elapsed()` stops and nothing is left."""
        self._move_to(None)

    def _move_to(self, stage: str | None) -> None:
        """End the running stage now and begin `stage` (None: the end of the run)."""
        with self._lock:
            now = self._clock()
            if self._started is None:
                self._started = now
            self._close(now)
            self._stage, self._stage_started = stage, now
            if stage is None:
                self._finished = now

    def elapsed(self) -> float:
        """Seconds since the first stage began (0 before it)."""
        with self._lock:
            return self._elapsed(self._clock())

    def stage_elapsed(self) -> float:
        """Seconds since the running stage began (0 when none runs)."""
        with self._lock:
            return self._clock() - self._stage_started if self._stage is not None else 0.0

    def remaining(self) -> float | None:
        """Forecast seconds left, corrected by the stages done; None when it cannot say."""
        with self._lock:
            return self._remaining(self._clock())[0]

    def line(self, *, still: bool = False) -> str:
        """One line: "fitting nuisance and effect models · 2m10s elapsed · about 3m left".

        `still` marks a repeated line about a stage that has been running a while.
        """
        with self._lock:
            now = self._clock()
            remaining, overran = self._remaining(now)
            elapsed = f"{format_duration(self._elapsed(now))} elapsed"
            if self._finished is not None:
                return SEPARATOR.join(("done", elapsed))
            if self._stage is None:
                return SEPARATOR.join(("starting", elapsed))
            parts = [f"still {self._stage}" if still else self._stage, elapsed]
            if remaining is not None:
                parts.append(format_time_left(remaining))
            elif overran:
                parts.append("longer than forecast")
            return SEPARATOR.join(parts)

    def _elapsed(self, now: float) -> float:
        if self._started is None:
            return 0.0
        return (self._finished if self._finished is not None else now) - self._started

    def _remaining(self, now: float) -> tuple[float | None, bool]:
        """(forecast seconds left or None, whether the running stage overran its forecast)."""
        if self._finished is not None:
            return 0.0, False
        if self._stage is None:
            return None, False
        ratio = self._ratio()
        current = self._expected(self._stage)
        if current is None:
            return None, False
        left_of_current = current * ratio - (now - self._stage_started)
        if left_of_current < 0:
            return None, True
        later = [self._expected(stage) for stage in self._later_stages()]
        if any(seconds is None for seconds in later):
            return None, False
        return left_of_current + ratio * sum(later), False

    def _close(self, now: float) -> None:
        if self._stage is not None:
            self._done.append((self._stage, now - self._stage_started))

    def _expected(self, stage: str) -> float | None:
        return expected_seconds(stage, self.rows, self.estimator)

    def _ratio(self) -> float:
        """Actual over expected time of the stages done that were expected to take a while; 1 before any.

        A stage forecast at a fraction of a second is mostly fixed overhead, and its ratio (a hundred
        times slower, or faster, than forecast) says nothing about the long stages to come.
        """
        pairs = [(actual, self._expected(stage)) for stage, actual in self._done]
        pairs = [(a, e) for a, e in pairs if e is not None and e >= MIN_EVIDENCE_SECONDS]
        return sum(a for a, _ in pairs) / sum(e for _, e in pairs) if pairs else 1.0

    def _later_stages(self) -> tuple[str, ...]:
        if self._stage not in self.stages:
            return ()
        return self.stages[self.stages.index(self._stage) + 1 :]


def format_duration(seconds: float) -> str:
    """A duration to the second as people read it: "45s", "2m10s", "1h02m" (minutes from an hour)."""
    whole = max(round(seconds), 0)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def format_time_left(seconds: float) -> str:
    """A forecast in words, rounded as a forecast deserves: to 5 s under a minute, to 10 s under ten
    minutes, then to the minute ("about 45s left", "about 1m30s left", "about 13m left")."""
    step = 5 if seconds < 60 else 10 if seconds < 600 else 60
    rounded = round(seconds / step) * step
    if rounded == 0:
        return "almost done"
    text = format_duration(rounded)
    return f"about {text.removesuffix('00s') if text.endswith('m00s') else text} left"


@contextmanager
def reporting_every(
    progress: Progress, write: Callable[[str], None], seconds: float = 30.0
) -> Iterator[None]:
    """While the block runs, `write(progress.line(still=True))` each time a stage has run another
    `seconds` (a stage shorter than that gets no such line).

    A daemon thread does the writing; it is stopped and joined when the block ends (however it
    ends), so nothing is written after the block.
    """
    stop = threading.Event()
    poll = min(1.0, seconds / 10)

    def beat() -> None:
        stage, written = None, 0
        while not stop.wait(poll):
            running, elapsed = progress.stage, progress.stage_elapsed()
            if running != stage:
                stage, written = running, 0
            if running is not None and elapsed >= (written + 1) * seconds:
                written += 1
                write(progress.line(still=True))

    thread = threading.Thread(target=beat, name="impactiq-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
