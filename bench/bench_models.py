"""Fit time, memory and accuracy of every uplift estimator on Criteo-like synthetic data.

For each size and estimator: draw `make_criteo_like(size, seed)`, split it 80/20 stratified by
treatment x visit, fit `UpliftModel` on the 80% (outcome: visit), and score the 20% against the
true effect `tau_visit`:
- fit s: wall seconds of `fit` alone; fit CPU s: CPU seconds of all the process's threads
  during the fit. CPU well below 2 x wall on a 2-core machine means the fit waited for a core
  (other processes competing), so the wall time overstates the quiet-machine time.
- peak GB: the child process's high-water resident memory (VmHWM, which a fresh process starts
  afresh) at the end of the fit, data included.
- PEHE: root mean squared error of the estimated effects against the truth; coverage: share of
  holdout rows whose true effect lies in the 95% interval; ATE error: mean estimate minus mean
  truth; Qini: `impactiq.evaluation.metrics.qini_auc_score` (scikit-uplift's definition) on the observed
  holdout outcomes.
Each fit runs in a fresh child process so that one fit's memory cannot hide another's.
`--reference` adds EconML's CausalForestDML with default settings (only discrete_treatment=True,
which a 0/1 treatment needs) at `--reference-size` rows, the yardstick for the default
estimator. `load` is the 1-minute load average when the fit started: above 2 on this 2-core
machine, timings are contended. Linux only (memory comes from /proc).

    .venv/bin/python bench/bench_models.py --sizes 100000 1000000 --estimators all --reference
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from impactiq.uplift.estimators import ESTIMATORS  # noqa: E402

REFERENCE = "econml_default"
FEATURES = tuple(f"f{i}" for i in range(12))


def megabytes(field: str) -> float:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith(field))
    return int(line.split()[1]) / 1024


def run_child(size: int, estimator: str, seed: int) -> dict:
    """One fit and its scores; runs inside the child process."""
    import time

    import numpy as np
    from sklearn.model_selection import train_test_split

    from impactiq.data.synthetic import make_criteo_like
    from impactiq.evaluation.metrics import ate_error, interval_coverage, pehe, qini_auc_score
    from impactiq.uplift.estimators import UpliftModel

    frame = make_criteo_like(size, seed=seed)
    strata = frame["treatment"].astype(str) + "_" + frame["visit"].astype(str)
    train, holdout = train_test_split(frame, test_size=0.2, random_state=seed, stratify=strata)
    del frame
    y, t = train["visit"].to_numpy(np.float64), train["treatment"].to_numpy()
    load = os.getloadavg()[0]
    wall, cpu = time.perf_counter(), time.process_time()
    if estimator == REFERENCE:
        from econml.dml import CausalForestDML

        model = CausalForestDML(discrete_treatment=True, random_state=seed)
        model.fit(y, t, X=train[list(FEATURES)].to_numpy(np.float64))
    else:
        model = UpliftModel(estimator=estimator, random_state=seed).fit(y, t, train[list(FEATURES)])
    fit_s, fit_cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak_fit = megabytes("VmHWM")

    start = time.perf_counter()
    if estimator == REFERENCE:
        features = holdout[list(FEATURES)].to_numpy(np.float64)
        uplift = np.ravel(model.effect(features))
        lower, upper = (np.ravel(bound) for bound in model.effect_interval(features, alpha=0.05))
        method = "analytic (EconML defaults)"
    else:
        uplift = model.effect(holdout)
        lower, upper = model.effect_interval(holdout, alpha=0.05)
        method = model.interval_method
    score_s = time.perf_counter() - start
    tau = holdout["tau_visit"].to_numpy(np.float64)
    return {
        "size": size,
        "train_rows": len(train),
        "estimator": estimator,
        "fit_s": fit_s,
        "fit_cpu_s": fit_cpu,
        "peak_gb": peak_fit / 1024,
        "pehe": pehe(tau, uplift),
        "coverage": interval_coverage(tau, lower, upper),
        "ate_error": ate_error(tau, uplift),
        "qini": qini_auc_score(holdout["visit"].to_numpy(), uplift, holdout["treatment"].to_numpy()),
        "score_s": score_s,
        "load": load,
        "intervals": method,
    }


def measure(size: int, estimator: str, seed: int) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps([size, estimator, seed])],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{estimator} at {size} rows failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def table(rows: list[dict]) -> str:
    header = (
        "| rows | train rows | estimator | fit s | fit CPU s | peak GB | PEHE | 95% coverage | ATE error "
        "| Qini (sklift) | score s | load | intervals |"
    )
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    for r in rows:
        lines.append(
            f"| {r['size']:,} | {r['train_rows']:,} | {r['estimator']} | {r['fit_s']:.1f} | {r['fit_cpu_s']:.1f} "
            f"| {r['peak_gb']:.2f} | {r['pehe']:.4f} | {r['coverage']:.3f} | {r['ate_error']:+.4f} "
            f"| {r['qini']:.3f} | {r['score_s']:.1f} | {r['load']:.1f} | {r['intervals']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument(
        "--estimators", nargs="+", default=["all"], help=f"'all' or some of: {', '.join(ESTIMATORS)}"
    )
    parser.add_argument("--reference", action="store_true", help="add EconML CausalForestDML defaults")
    parser.add_argument("--reference-size", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(*json.loads(args.child))))
        return
    estimators = list(ESTIMATORS) if args.estimators == ["all"] else args.estimators
    unknown = sorted(set(estimators) - set(ESTIMATORS))
    if unknown:
        parser.error(f"unknown estimator(s) {', '.join(unknown)}; choose from {', '.join(ESTIMATORS)}")
    jobs = [(size, name) for size in args.sizes for name in estimators]
    if args.reference:
        jobs.append((args.reference_size, REFERENCE))
    rows = []
    for size, name in jobs:
        rows.append(measure(size, name, args.seed))
        r = rows[-1]
        print(
            f"{name} at {size:,} rows: fit {r['fit_s']:.1f} s, coverage {r['coverage']:.3f}",
            file=sys.stderr,
            flush=True,
        )
    print(f"Criteo-like synthetic data (make_criteo_like, seed {args.seed}), outcome visit, 80/20 split")
    print(table(rows))


if __name__ == "__main__":
    main()
