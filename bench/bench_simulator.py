"""How fast the Simulator answers: one profile, a what-if sweep, a model load, a file of 1M profiles.

Uses a model trained like the demo model (`python -m impactiq demo-model`: the default causal
forest on 50,000 synthetic rows, outcome visit), saved under bench/out/models and reused by
later runs unless --retrain is given. Targets:

- one profile, effect and 95% interval (`effect_with_interval`): p95 <= 30 ms over 200 warm calls (each call a
  different real holdout user); the page's whole answer for a profile (`score_profiles`: effect,
  interval, expected outcomes, rank, class) is timed beside it;
- a 50-point what-if sweep (`whatif.sweep`): <= 150 ms;
- loading the saved model (`load_model`, hash check included): <= 1 s;
- scoring 1M synthetic profiles with intervals, as `python -m impactiq score` does (uplift and its
  95% interval, 100k-row chunks; the median of three passes): >= 200k rows/s on two cores; the
  single-thread figure beside it;
- the Simulator's whole batch answer for 1M profiles (`batch.score_batch`: interval, expected
  outcomes and class): >= 100k rows/s;
- the command line end to end (`python -m impactiq score`: read a 1M-row Parquet file, score,
  write Parquet), printed without a target.

The explanation (`explain_uplift`, up to 4,096 rows per call) is timed too.

    .venv/bin/python bench/bench_simulator.py [--rows 1000000] [--calls 200] [--retrain]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from impactiq import cli  # noqa: E402
from impactiq.cli import DEMO_DATASET, DEMO_ESTIMATOR, DEMO_OUTCOME, DEMO_PARAMS, DEMO_ROWS, DEMO_SEED  # noqa: E402
from impactiq.data.demo import load_demo  # noqa: E402
from impactiq.data.synthetic import make_criteo_like  # noqa: E402
from impactiq.decisions import batch, persuadability, profiles, whatif  # noqa: E402
from impactiq.decisions.explain import explain_uplift  # noqa: E402
from impactiq.evaluation.training import train_model  # noqa: E402
from impactiq.uplift.store import load_model, save_model  # noqa: E402

OUT = ROOT / "bench" / "out"
MODEL_NAME = "bench_demo"
TARGETS = {
    "profile_p95_ms": 30.0,
    "sweep_ms": 150.0,
    "load_s": 1.0,
    "intervals_rows_per_s": 200_000.0,
    "batch_rows_per_s": 100_000.0,
}
WARMUP = 10
# Passes over the whole file when timing scoring: the machine's speed varies by about a tenth
# from one pass to the next, so the median is reported, with the slowest and fastest beside it.
SCORING_PASSES = 3
# Timed calls of the slower operations (sweep, explanation).
SLOW_CALLS = 24


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="profiles in the batch (default 1M)")
    parser.add_argument("--calls", type=int, default=200, help="timed single-profile calls (default 200)")
    parser.add_argument("--retrain", action="store_true", help="train the model even if one is saved")
    args = parser.parse_args()

    folder = OUT / "models" / MODEL_NAME
    results = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"}
    if args.retrain or not _loads(folder):
        started = time.perf_counter()
        experiment = load_demo(DEMO_DATASET, n_rows=DEMO_ROWS, seed=DEMO_SEED)
        trained = train_model(
            experiment, outcome=DEMO_OUTCOME, estimator=DEMO_ESTIMATOR, params=DEMO_PARAMS, seed=DEMO_SEED
        )
        save_model(trained, MODEL_NAME, models_dir=folder.parent, replace=True)
        results["train_s"] = time.perf_counter() - started

    loads = []
    for _ in range(5):
        started = time.perf_counter()
        model = load_model(folder)
        loads.append(time.perf_counter() - started)
    results["load_s"] = {"first": loads[0], "median": statistics.median(loads)}
    results["model_mb"] = sum(p.stat().st_size for p in folder.iterdir()) / 1024**2

    holdout = model.holdout
    thresholds = persuadability.default_thresholds(holdout)
    features = list(model.schema.features)
    users = (
        holdout[features]
        .sample(max(args.calls, SLOW_CALLS) + WARMUP, random_state=0, replace=True)
        .reset_index(drop=True)
    )
    typical = profiles.default_profile(model.feature_profile, model.schema)

    results["profile_effect_and_interval_ms"] = _timed(
        lambda i: model.effect_with_interval(users.iloc[[i]]), args.calls
    )
    results["profile_page_answer_ms"] = _timed(
        lambda i: profiles.score_profiles(model, users.iloc[i].to_dict(), thresholds), args.calls
    )
    results["sweep_50_points_ms"] = _timed(
        lambda i: whatif.sweep(model, typical, features[i % len(features)]), SLOW_CALLS
    )
    results["explain_ms"] = _timed(lambda i: explain_uplift(model, users.iloc[[i]]), SLOW_CALLS)
    profiles_file = make_criteo_like(args.rows, seed=1)[features]
    for threads, key in ((-1, "intervals"), (1, "intervals_one_thread")):
        model.model.n_jobs = threads
        passes = []
        for _ in range(SCORING_PASSES):
            started = time.perf_counter()
            for start in range(0, args.rows, cli.SCORE_CHUNK_ROWS):
                model.effect_with_interval(profiles_file.iloc[start : start + cli.SCORE_CHUNK_ROWS])
            passes.append(args.rows / (time.perf_counter() - started))
        results[key] = {
            "rows": args.rows,
            "rows_per_s": statistics.median(passes),
            "slowest_pass_rows_per_s": min(passes),
            "fastest_pass_rows_per_s": max(passes),
        }
    model.model.n_jobs = -1
    results["cli_score_end_to_end"] = _cli_score(folder, profiles_file)
    chunks = []
    started = time.perf_counter()
    batch.score_batch(
        model, profiles_file, thresholds=thresholds, on_progress=lambda done, total: chunks.append(done)
    )
    seconds = time.perf_counter() - started
    results["batch"] = {"rows": args.rows, "seconds": seconds, "rows_per_s": args.rows / seconds}
    chunk = profiles_file.iloc[: batch.CHUNK_ROWS]
    results["batch_chunk_breakdown_s"] = {
        f"{name} ({len(chunk):,} rows)": _once(lambda fn=fn: fn(chunk))
        for name, fn in (
            ("effect", model.effect),
            ("effect_with_interval", model.effect_with_interval),
            ("predict_outcomes", model.predict_outcomes),
        )
    }

    verdict = {
        "profile_p95_ms": results["profile_effect_and_interval_ms"]["p95"] <= TARGETS["profile_p95_ms"],
        "sweep_ms": results["sweep_50_points_ms"]["median"] <= TARGETS["sweep_ms"],
        "load_s": results["load_s"]["median"] <= TARGETS["load_s"],
        "intervals_rows_per_s": results["intervals"]["rows_per_s"] >= TARGETS["intervals_rows_per_s"],
        "batch_rows_per_s": results["batch"]["rows_per_s"] >= TARGETS["batch_rows_per_s"],
    }
    results["targets"] = {k: {"target": TARGETS[k], "met": v} for k, v in verdict.items()}
    OUT.mkdir(exist_ok=True)
    (OUT / "bench_simulator.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


def _cli_score(folder: Path, profiles: pd.DataFrame) -> dict:
    """`python -m impactiq score` on a Parquet file of `profiles`, timed from reading to the written file."""
    with tempfile.TemporaryDirectory() as scratch:
        source, target = Path(scratch, "profiles.parquet"), Path(scratch, "scored.parquet")
        profiles.to_parquet(source, index=False)
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            cli.main(["score", "--model", str(folder), "--data", str(source), "--out", str(target)])
        seconds = time.perf_counter() - started
    return {"rows": len(profiles), "seconds": seconds, "rows_per_s": len(profiles) / seconds}


def _loads(folder: Path) -> bool:
    """Whether a model saved by an earlier run is there and still loads (the format may have moved on)."""
    try:
        load_model(folder)
    except Exception:
        return False
    return True


def _timed(call, n: int) -> dict:
    """Median, p95 and max in ms of `n` calls `call(i)`, after `WARMUP` untimed ones (other i)."""
    for i in range(WARMUP):
        call(i)
    times = []
    for i in range(WARMUP, WARMUP + n):
        started = time.perf_counter()
        call(i)
        times.append((time.perf_counter() - started) * 1000)
    return {
        "calls": n,
        "median": statistics.median(times),
        "p95": float(np.percentile(times, 95)),
        "max": max(times),
    }


def _once(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
