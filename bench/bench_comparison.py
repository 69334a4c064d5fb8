"""Which estimator wins where: the model comparison behind `auto`, on data with a known truth.

Fits every estimator on the same training rows less a validation fold (as `auto` does), and
prints for each its doubly robust validation loss (and its excess over the best, paired 95% CI),
the holdout Qini with its 95% CI, the calibration slope, the error against the true effect
(PEHE) and the fit time, then which one `auto` picks and whether that is also the one with the
smallest true error. Data: the Criteo-like synthetic set, or a design of `impactiq.data.designs`.

    python bench/bench_comparison.py --rows 100000
    python bench/bench_comparison.py --rows 1000000 --estimators causal_forest,dr,linear_dml,t_learner,x_learner,s_learner
    python bench/bench_comparison.py --rows 100000 --design steps
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from impactiq.data.demo import load_demo  # noqa: E402
from impactiq.data.designs import DESIGNS, design_experiment  # noqa: E402
from impactiq.evaluation.comparison import COMPARED, compare_estimators  # noqa: E402
from impactiq.evaluation.splits import training_split  # noqa: E402
from impactiq.intervals import Z95  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--design", choices=["criteo", *DESIGNS], default="criteo")
    parser.add_argument("--estimators", default=",".join(COMPARED))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.design == "criteo":
        experiment, outcome = load_demo("synthetic", n_rows=args.rows, seed=args.seed), "visit"
    else:
        experiment, outcome = design_experiment(args.design, args.rows, seed=args.seed), "y"
    started = time.perf_counter()
    comparison = compare_estimators(
        experiment, outcome, estimators=tuple(args.estimators.split(",")), seed=args.seed, n_boot=100
    )
    seconds = time.perf_counter() - started
    rows, _, holdout = training_split(experiment, outcome, sample=None, test_size=0.3, seed=args.seed)
    print(
        f"{args.design}, {args.rows:,} rows: fit {comparison.n_fit:,} / validation {comparison.n_validation:,} / "
        f"holdout {comparison.n_holdout:,}; comparison took {seconds:.0f} s"
    )
    print(
        f"{'estimator':15s} {'DR loss':>9s} {'excess [95% CI]':>28s} {'Qini [95% CI]':>26s} "
        f"{'slope':>6s} {'PEHE':>8s} {'fit s':>7s}"
    )
    for c in sorted(comparison.candidates, key=lambda c: c.loss):
        low, high = c.excess - Z95 * c.excess_se, c.excess + Z95 * c.excess_se
        qini = c.qini
        shown = (
            f"{qini['estimate']:.4f} [{qini['lower']:.4f}, {qini['upper']:.4f}]"
            if "estimate" in qini
            else "–"
        )
        slope = f"{c.calibration_slope['estimate']:.2f}" if "estimate" in c.calibration_slope else "–"
        mark = " <- auto" if c.estimator == comparison.chosen else ""
        print(
            f"{c.estimator:15s} {c.loss:9.5f} {c.excess:+.6f} [{low:+.6f}, {high:+.6f}] {shown:>26s} "
            f"{slope:>6s} {_pehe(c.pehe):>8s} {c.fit_seconds:7.1f}{mark}"
        )
    tau = rows.tau(outcome)
    if tau is not None:
        print(f"true effect on the holdout: mean {tau[holdout].mean():+.5f}, sd {tau[holdout].std():.5f}")
        fitted = [c for c in comparison.candidates if c.pehe is not None]
        best = min(fitted, key=lambda c: c.pehe)
        print(f"smallest true error: {best.estimator}; auto chose {comparison.chosen}")


def _pehe(value: float | None) -> str:
    return "–" if value is None else f"{value:.5f}"


if __name__ == "__main__":
    main()
