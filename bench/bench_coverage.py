"""Do the 95% intervals hold on data unlike ImpactIQ's own generator? Coverage by design and estimator.

For the Criteo-like data ImpactIQ was tuned on ("criteo", for reference) and each design of
`impactiq.data.designs`, and each estimator with intervals, trains a model as
the Train page does (`train_model`, interval calibration on) and prints, on the holdout, how
often the 95% interval covers the true effect before calibration (the estimator's own width) and
after it, the calibration factor, the error (PEHE) and the fit time. The target is 0.93 to 0.97
after calibration.

    python bench/bench_coverage.py [--rows 40000] [--designs steps,...] [--estimators causal_forest,...]
                                   [--seeds 1,2,3]

One data set's coverage is itself noisy: the holdout's errors are correlated (neighbouring users
share their leaves' bias), and the calibration factor is learned from one twin of that data set,
so the same design drawn with another seed moved a cell by up to 0.05. `--seeds` draws each
design once per seed and prints the mean, with the range, under the rows.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from impactiq.data.demo import load_demo  # noqa: E402
from impactiq.data.designs import DESIGNS, design_experiment  # noqa: E402
from impactiq.evaluation.training import train_model  # noqa: E402

WITH_INTERVALS = ("causal_forest", "dr", "linear_dml", "t_learner", "x_learner", "s_learner")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=40_000)
    parser.add_argument("--designs", default=",".join(["criteo", *DESIGNS]))
    parser.add_argument("--estimators", default=",".join(WITH_INTERVALS))
    parser.add_argument("--seeds", default="1", help="data seeds, comma-separated (one data set each)")
    args = parser.parse_args()
    seeds = [int(seed) for seed in args.seeds.split(",")]
    print(f"rows={args.rows:,} (70% train, 30% holdout), data seeds {', '.join(map(str, seeds))}")
    print(
        f"{'seed':>4s} {'design':13s} {'estimator':13s} {'raw':>6s} {'factor':>6s} {'calib':>6s} "
        f"{'pehe':>8s} {'fit s':>6s}"
    )
    coverage: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for seed in seeds:
        for design in args.designs.split(","):
            if design == "criteo":
                experiment, outcome = load_demo("synthetic", n_rows=args.rows, seed=seed), "visit"
            else:
                experiment, outcome = design_experiment(design, args.rows, seed=seed), "y"
            for estimator in args.estimators.split(","):
                raw, calibrated = _one(seed, design, estimator, experiment, outcome)
                coverage.setdefault((design, estimator), []).append((raw, calibrated))
    if len(seeds) > 1:
        print(f"\nmean over {len(seeds)} data seeds, raw -> calibrated (range of the calibrated)")
        for (design, estimator), values in coverage.items():
            raw, calibrated = np.mean(values, axis=0)
            low, high = min(v[1] for v in values), max(v[1] for v in values)
            mark = " *" if 0.93 <= calibrated <= 0.97 else ""
            print(
                f"{design:13s} {estimator:13s} {raw:6.3f} -> {calibrated:6.3f} [{low:.3f}, {high:.3f}]{mark}"
            )
        print("* inside the target 0.93-0.97")


def _one(seed: int, design: str, estimator: str, experiment, outcome: str) -> tuple[float, float]:
    """Train one model as the Train page does; print and return its coverage before and after calibration."""
    started = time.perf_counter()
    trained = train_model(experiment, outcome=outcome, estimator=estimator, seed=0, n_boot=20)
    seconds = time.perf_counter() - started
    holdout = trained.holdout
    scale = trained.data.get("interval_calibration", {}).get("scale", [1.0])[0]
    tau, uplift = holdout["tau"].to_numpy(), holdout["uplift"].to_numpy()
    half = (holdout["uplift_upper"] - holdout["uplift_lower"]).to_numpy() / 2
    covered = np.abs(uplift - tau) <= half
    raw = np.abs(uplift - tau) <= half / scale
    pehe = float(np.sqrt(np.mean((uplift - tau) ** 2)))
    print(
        f"{seed:4d} {design:13s} {estimator:13s} {raw.mean():6.3f} {scale:6.2f} {covered.mean():6.3f} "
        f"{pehe:8.4f} {seconds:6.1f}",
        flush=True,
    )
    return float(raw.mean()), float(covered.mean())


if __name__ == "__main__":
    main()
