"""Which estimator wins where: the model comparison behind `auto`, on data with a known truth.

Fits every estimator on the same training rows less a validation fold (as `auto` does), and
prints for each its doubly robust validation loss (and its excess over the best, paired 95% CI),
the holdout Qini with its 95% CI, the calibration slope, the error against the true effect
(PEHE) and the fit time, then which one `auto` picks and whether that is also the one with the
smallest true error. Data: the Criteo-like synthetic set, a design of `impactiq.data.designs`, or
the three-channel synthetic set with its arms kept apart (`multichannel`: the four estimators that
model several arms, each arm's Qini, slope and true error on a line of its own).

    python bench/bench_comparison.py --rows 100000
    python bench/bench_comparison.py --rows 1000000 --estimators causal_forest,dr,linear_dml,t_learner,x_learner,s_learner
    python bench/bench_comparison.py --rows 100000 --design steps
    python bench/bench_comparison.py --rows 100000 --design multichannel
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from impactiq.data import multichannel  # noqa: E402
from impactiq.data.demo import load_demo, multichannel_experiment  # noqa: E402
from impactiq.data.designs import DESIGNS, design_experiment  # noqa: E402
from impactiq.evaluation.comparison import COMPARED, compare_estimators  # noqa: E402
from impactiq.evaluation.splits import training_split  # noqa: E402
from impactiq.intervals import Z95  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--design", choices=["criteo", "multichannel", *DESIGNS], default="criteo")
    parser.add_argument(
        "--estimators", help=f"default: {','.join(COMPARED)}, or those that model several arms"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.design == "criteo":
        experiment, outcome = load_demo("synthetic", n_rows=args.rows, seed=args.seed), "visit"
    elif args.design == "multichannel":
        frame = multichannel.make_multichannel(args.rows, seed=args.seed)
        experiment, outcome = multichannel_experiment(frame), multichannel.OUTCOME
    else:
        experiment, outcome = design_experiment(args.design, args.rows, seed=args.seed), "y"
    started = time.perf_counter()
    comparison = compare_estimators(
        experiment,
        outcome,
        estimators=tuple(args.estimators.split(",")) if args.estimators else None,
        seed=args.seed,
        n_boot=100,
    )
    seconds = time.perf_counter() - started
    rows, _, holdout = training_split(experiment, outcome, sample=None, test_size=0.3, seed=args.seed)
    print(
        f"{args.design}, {args.rows:,} rows: fit {comparison.n_fit:,} / validation {comparison.n_validation:,} / "
        f"holdout {comparison.n_holdout:,}; comparison took {seconds:.0f} s"
    )
    print(
        f"{'estimator':24s} {'DR loss':>9s} {'excess [95% CI]':>28s} {'Qini [95% CI]':>26s} "
        f"{'slope':>6s} {'PEHE':>8s} {'fit s':>7s}"
    )
    for c in sorted(comparison.candidates, key=lambda c: c.loss):
        low, high = c.excess - Z95 * c.excess_se, c.excess + Z95 * c.excess_se
        mark = " <- auto" if c.estimator == comparison.chosen else ""
        loss = f"{c.loss:9.5f} {c.excess:+.6f} [{low:+.6f}, {high:+.6f}]"
        for arm, scores in c.arms.items() or [(None, vars(c))]:
            name = c.estimator if arm is None else f"{c.estimator}: {arm}"
            print(f"{name:24s} {loss} {_scores(scores)} {c.fit_seconds:7.1f}{mark}")
    errors = {c.estimator: _true_error(c) for c in comparison.candidates}
    errors = {name: error for name, error in errors.items() if error is not None}
    if errors:
        truths = (
            {"": rows.tau(outcome)}
            if rows.arm is None
            else {f" of {a}": rows.arm_tau(outcome, a) for a in rows.arm_names}
        )
        for arm, tau in truths.items():
            print(
                f"true effect{arm} on the holdout: mean {tau[holdout].mean():+.5f}, sd {tau[holdout].std():.5f}"
            )
        best = min(errors, key=errors.get)
        print(f"smallest true error (root mean square over the arms): {best}; auto chose {comparison.chosen}")


def _scores(scores: dict) -> str:
    """Qini [95% CI], calibration slope and true error of one model (or one arm of it)."""
    qini, slope = scores.get("qini", {}), scores.get("calibration_slope", {})
    shown = (
        f"{qini['estimate']:.4f} [{qini['lower']:.4f}, {qini['upper']:.4f}]" if "estimate" in qini else "–"
    )
    slope_shown = f"{slope['estimate']:.2f}" if "estimate" in slope else "–"
    return f"{shown:>26s} {slope_shown:>6s} {_pehe(scores.get('pehe')):>8s}"


def _true_error(candidate) -> float | None:
    """The candidate's PEHE, for several arms the root mean square of the arms' PEHEs."""
    values = [s.get("pehe") for s in candidate.arms.values()] if candidate.arms else [candidate.pehe]
    if not values or any(v is None for v in values):
        return None
    return math.sqrt(sum(v * v for v in values) / len(values))


def _pehe(value: float | None) -> str:
    return "–" if value is None else f"{value:.5f}"


if __name__ == "__main__":
    main()
