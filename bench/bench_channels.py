"""Multi-arm models at scale: fit time with three channels, per-profile latency, and accuracy.

On the synthetic multi-channel data (`impactiq.data.multichannel`, seeded), trains the default
causal forest once with the three channels kept apart and once with them pooled into one
treatment on the same rows, and prints:

- the fit times and their ratio (target: the three-arm fit at most 2x the single-arm fit);
- the latency of one profile's effect and 95% interval for every arm, from the saved model
  (target: p95 30 ms or less over `--calls` warm calls, each a different user);
- the time of the interval calibration on a simulated twin (`evaluation.calibration`, as
  training does it) and each arm's factor;
- on a holdout of `--holdout` rows: each arm's 95% interval coverage of its true effect (before
  and after the calibration), the
  share of users whose recommended channel (largest estimated effect) is truly the best, and
  the doubly robust value of the best-channel policy against every single-channel policy.

    .venv/bin/python bench/bench_channels.py [--rows 1000000] [--holdout 300000] [--calls 200] [--seed 0]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from impactiq.data import multichannel  # noqa: E402
from impactiq.data.demo import multichannel_experiment  # noqa: E402
from impactiq.decisions.channels import BEST, policy_values  # noqa: E402
from impactiq.errors import ImpactIQError  # noqa: E402
from impactiq.evaluation.calibration import calibrate_intervals  # noqa: E402
from impactiq.evaluation.splits import validation_split  # noqa: E402
from impactiq.uplift.arms import arm_predictions  # noqa: E402
from impactiq.uplift.estimators import UpliftModel  # noqa: E402
from impactiq.uplift.portable import PortableModel  # noqa: E402

TARGET_RATIO = 2.0
TARGET_P95_MS = 30.0


def fit(exp, treatment) -> tuple[UpliftModel, float]:
    started = time.perf_counter()
    model = UpliftModel(random_state=0).fit(exp.y(multichannel.OUTCOME), treatment, exp.X)
    return model, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="training rows (default 1,000,000)")
    parser.add_argument("--holdout", type=int, default=300_000, help="holdout rows (default 300,000)")
    parser.add_argument("--calls", type=int, default=200, help="single-profile calls to time (default 200)")
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="the training data's seed; the holdout's is the next one (default 0)",
    )
    args = parser.parse_args()

    train = multichannel_experiment(multichannel.make_multichannel(args.rows, seed=args.seed))
    arms = train.arm_names
    multi, multi_s = fit(train, train.arm)
    _, pooled_s = fit(train, train.t)
    ratio = multi_s / pooled_s
    print(f"training rows: {args.rows:,}; arms: {', '.join(arms)}")
    print(
        f"fit, three arms: {multi_s:.1f} s; pooled into one treatment: {pooled_s:.1f} s; ratio {ratio:.2f} "
        f"(target <= {TARGET_RATIO})"
    )

    holdout_frame = multichannel.make_multichannel(args.holdout, seed=args.seed + 1)
    holdout = multichannel_experiment(holdout_frame)
    _, raw_lower, raw_upper = multi.effect_by_arm_with_interval(holdout.X)
    rows = np.arange(train.n_rows)
    fit_rows, validation_rows = validation_split(train, rows, multichannel.OUTCOME, seed=0)
    started = time.perf_counter()
    try:
        calibration = calibrate_intervals(
            multi, train.y(multichannel.OUTCOME), train.arm, train.X, fit_rows, validation_rows, seed=0
        )
    except ImpactIQError as error:
        outcome = f"not applied: {error}"
    else:
        factors = zip(arms, calibration.scale, calibration.twin_scale, strict=True)
        outcome = "factors " + ", ".join(f"{a} {f:.2f} (the twin's {twin:.2f})" for a, f, twin in factors)
    print(f"interval calibration on a simulated twin: {time.perf_counter() - started:.1f} s; {outcome}")
    with tempfile.TemporaryDirectory() as folder:
        multi.portable_.save(folder)
        saved = PortableModel.load(folder)
    profiles = holdout.X.iloc[: args.calls]
    saved.effect_by_arm_with_interval(profiles.iloc[:1])  # warm: the compiled tree walk loads once
    latencies = []
    for i in range(len(profiles)):
        started = time.perf_counter()
        saved.effect_by_arm_with_interval(profiles.iloc[i : i + 1])
        latencies.append((time.perf_counter() - started) * 1000)
    p95 = float(np.percentile(latencies, 95))
    print(
        f"one profile, every arm with its interval: median {statistics.median(latencies):.1f} ms, "
        f"p95 {p95:.1f} ms over {len(latencies)} calls (target p95 <= {TARGET_P95_MS:.0f} ms)"
    )

    point, lower, upper = saved.effect_by_arm_with_interval(holdout.X)
    truth = np.column_stack([holdout.arm_tau(multichannel.OUTCOME, a) for a in arms])
    for k, arm in enumerate(arms):
        covered = np.mean((lower[:, k] <= truth[:, k]) & (truth[:, k] <= upper[:, k]))
        raw = np.mean((raw_lower[:, k] <= truth[:, k]) & (truth[:, k] <= raw_upper[:, k]))
        corr = np.corrcoef(point[:, k], truth[:, k])[0, 1]
        error = np.sqrt(np.mean((point[:, k] - truth[:, k]) ** 2))
        print(
            f"{arm}: 95% interval coverage of the true effect {covered:.3f} calibrated ({raw:.3f} before); "
            f"error against the truth {100 * error:.3f} pp (root mean square); correlation with it {corr:.3f}"
        )
    right = np.mean(point.argmax(axis=1) == truth.argmax(axis=1))
    print(
        f"recommended channel (largest estimated effect) is the truly best one for {right:.1%} of users "
        f"(chance: {1 / len(arms):.1%})"
    )

    scored = holdout.X.reset_index(drop=True).assign(
        y=holdout.y(multichannel.OUTCOME),
        t=holdout.t,
        arm=holdout.arm,
        **arm_predictions(saved, holdout.X, arms),
    )
    shares = tuple(np.bincount(holdout.arm) / holdout.n_rows)
    values = policy_values(scored, arms, shares, costs=dict.fromkeys(arms, 0.05), value=10.0).set_index(
        "policy"
    )
    for policy, row in values.iterrows():
        print(
            f"policy {policy}: net value per user {row['net_value']:.4f} "
            f"[{row['net_value_lower']:.4f}, {row['net_value_upper']:.4f}]"
        )
    singles = values.drop(index=[BEST, "nobody"])["net_value"]
    edge = values.loc[BEST]
    print(
        f"best-channel policy beats every single channel: {bool((edge['net_value'] > singles).all())}; "
        f"its edge over the best single channel ({singles.idxmax()}), paired: {edge['edge']:+.4f} "
        f"[{edge['edge_lower']:+.4f}, {edge['edge_upper']:+.4f}]"
    )
    # The generator knows every row's conversion probability in every arm: each policy's true value.
    truth = multichannel.conversion_probabilities(holdout_frame[list(multichannel.FEATURES)])
    net = np.column_stack([10.0 * truth[multichannel.CONTROL]] + [10.0 * truth[a] - 0.05 for a in arms])
    profit = 10.0 * point - 0.05
    chosen = np.where(profit.max(axis=1) > 0, profit.argmax(axis=1) + 1, 0)
    singles_truth = "; ".join(f"everyone {a} {net[:, k + 1].mean():.4f}" for k, a in enumerate(arms))
    print(
        f"true net value per user: best channel by the model {net[np.arange(len(net)), chosen].mean():.4f}; "
        f"best channel by the truth {net.max(axis=1).mean():.4f}; {singles_truth}; nobody {net[:, 0].mean():.4f}"
    )


if __name__ == "__main__":
    main()
