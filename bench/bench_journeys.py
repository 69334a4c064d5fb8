"""Multi-touch attribution at scale: 10M touchpoints and 1M conversions on two cores.

Step 1, set-up (not held to a target): seeded synthetic journeys (`journeys.synthetic.make_journeys`)
with about 10M touchpoints and 1M conversions at the defaults, written as Parquet (touchpoints,
conversions, customers, holdouts) to a cache folder, so that a rerun skips it. It runs in its own
process, so that the measuring process below starts small.

Step 2, in a fresh child process, what a user's run does with those files: read them (pandas over
pyarrow), `prepare_events` (reading, checking, identity linking through the CRM table; the linking
is also timed on its own), `build_journeys` (30-day lookback), then each model on its own: the five
rules (and time decay by day), Markov and Shapley. It prints one line per stage with its seconds,
the target where there is one, and the peak resident memory so far (the kernel's VmHWM, which
starts afresh at exec); at the end the child's peak (VmHWM, and getrusage's ru_maxrss, which can
carry the parent's size over from fork and exec) and a summary line.

Targets: every rule and the Markov model 60 s or less each (the model alone; the line also gives
it with `build_journeys`, which every model needs once), peak memory 6 GB or less for the whole run.
pandas and numpy meet them (flat arrays, no object columns on the hot path), so the models need
neither DuckDB nor Polars. Linux only (the peaks come from /proc and getrusage).

    .venv/bin/python bench/bench_journeys.py [--people 2200000] [--base-shift 2.65] [--seed 0]
                                             [--cache DIR]
    .venv/bin/python bench/bench_journeys.py --people 200000     # a quick check
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TABLES = ("touchpoints", "conversions", "customers", "holdouts")
TARGET_MODEL_S = 60.0
TARGET_PEAK_GB = 6.0
LOOKBACK_DAYS = 30.0
DEFAULT_PEOPLE = 2_200_000
DEFAULT_SHIFT = 2.65


def peak_gb() -> float:
    """The process's peak resident memory so far (VmHWM), in GB."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM"))
    return int(line.split()[1]) * 1024 / 1e9


def cache_folder(args) -> Path:
    if args.cache:
        return Path(args.cache)
    return ROOT / "bench" / "out" / f"journeys_{args.people}_{args.base_shift:g}_{args.seed}"


def generate(args, folder: Path) -> None:
    """Step 1 (in its own process): the synthetic logs as Parquet, and their counts."""
    import pandas as pd

    from impactiq.journeys.synthetic import make_journeys

    started = time.perf_counter()
    data = make_journeys(args.people, seed=args.seed, base_shift=args.base_shift)
    made = time.perf_counter() - started
    staging = folder.with_name(folder.name + ".partial")
    staging.mkdir(parents=True, exist_ok=True)
    counts = {}
    for name in TABLES:
        table: pd.DataFrame = getattr(data, name)
        table.to_parquet(staging / f"{name}.parquet", index=False)
        counts[name] = len(table)
    meta = {
        "people": args.people,
        "seed": args.seed,
        "base_shift": args.base_shift,
        "rows": counts,
        "generate_s": made,
        "write_s": time.perf_counter() - started - made,
        "peak_gb": peak_gb(),
    }
    (staging / "meta.json").write_text(json.dumps(meta, indent=1))
    staging.rename(folder)


def measure(folder: Path) -> None:
    """Step 2 (in a fresh process): read the files and run every stage, printing as it goes."""
    import numpy as np
    import pandas as pd

    from impactiq.journeys import events as events_module
    from impactiq.journeys.events import prepare_events
    from impactiq.journeys.heuristics import RULES, channel_credit, touch_credit
    from impactiq.journeys.markov import markov_attribution
    from impactiq.journeys.paths import build_journeys
    from impactiq.journeys.shapley import shapley_attribution

    seconds: dict[str, float] = {}

    def report(stage: str, elapsed: float, note: str = "", target: float | None = None) -> None:
        seconds[stage] = elapsed
        aim = f" (target <= {target:.0f} s)" if target else ""
        print(f"{stage:<28} {elapsed:7.1f} s{aim:<20} peak so far {peak_gb():5.2f} GB  {note}", flush=True)

    print(f"{'imports':<28} {'':9}{'':<20} peak so far {peak_gb():5.2f} GB", flush=True)
    started = time.perf_counter()
    tables = {name: pd.read_parquet(folder / f"{name}.parquet") for name in TABLES}
    report("read Parquet", time.perf_counter() - started)

    # Time the linking inside prepare_events, without running it twice.
    linking = []
    link_people = events_module.link_people

    def timed_link_people(*args, **kwargs):
        begun = time.perf_counter()
        links = link_people(*args, **kwargs)
        linking.append(time.perf_counter() - begun)
        return links

    events_module.link_people = timed_link_people
    started = time.perf_counter()
    events = prepare_events(
        tables["touchpoints"],
        tables["conversions"],
        customers=tables["customers"],
        holdouts=tables["holdouts"],
    )
    elapsed = time.perf_counter() - started
    events_module.link_people = link_people
    del tables
    report(
        "prepare_events",
        elapsed,
        f"of which identity linking {linking[0]:.1f} s; {events.identity.people:,} people; "
        f"{len(events.touches):,} touches, {len(events.conversions):,} conversions kept",
    )
    for warning in events.warnings:
        print(f"  warning: {warning}")

    started = time.perf_counter()
    journeys = build_journeys(events.touches, events.of_stage(None), lookback_days=LOOKBACK_DAYS)
    build_s = time.perf_counter() - started
    report(
        "build_journeys",
        build_s,
        f"{len(journeys.conversion):,} touches on {journeys.n_conversions:,} paths "
        f"({journeys.unattributed:,} empty); {len(journeys.null_channel):,} touches on "
        f"{journeys.n_null_paths:,} non-converting paths",
    )

    credited = {}
    models = [(rule, False) for rule in RULES] + [("time_decay", True)]
    for rule, by_day in models:
        started = time.perf_counter()
        conversions, _ = channel_credit(journeys, touch_credit(journeys, rule, by_day=by_day))
        elapsed = time.perf_counter() - started
        name = f"{rule}{' by day' if by_day else ''}"
        credited[name] = conversions
        report(name, elapsed, f"with build_journeys {build_s + elapsed:.1f} s", TARGET_MODEL_S)

    started = time.perf_counter()
    markov = markov_attribution(journeys)
    elapsed = time.perf_counter() - started
    credited["markov"] = markov.conversions
    report("markov", elapsed, f"with build_journeys {build_s + elapsed:.1f} s", TARGET_MODEL_S)

    started = time.perf_counter()
    shapley = shapley_attribution(journeys)
    credited["shapley"] = shapley.conversions
    report("shapley", time.perf_counter() - started, f"{shapley.sampled_sets} sampled sets")

    attributed = journeys.n_conversions - journeys.unattributed
    print(f"\nconversions credited per channel ({attributed:,} attributed conversions):")
    print(f"{'model':<18}" + "".join(f"{c:>11}" for c in journeys.channels))
    for name, conversions in credited.items():
        assert np.isclose(conversions.sum(), attributed), name
        print(f"{name:<18}" + "".join(f"{x:11,.0f}" for x in conversions))

    models_s = {k: v for k, v in seconds.items() if k in credited and k != "shapley"}
    slowest = max(models_s, key=models_s.get)
    peak = peak_gb()
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9
    print(
        f"\npeak memory of the run: {peak:.2f} GB VmHWM (ru_maxrss {maxrss:.2f} GB) "
        f"(target <= {TARGET_PEAK_GB:.0f} GB)"
    )
    ok = models_s[slowest] <= TARGET_MODEL_S and peak <= TARGET_PEAK_GB
    print(
        f"summary: {len(journeys.conversion) + len(journeys.null_channel):,} touches in journeys, "
        f"{journeys.n_conversions:,} conversions; slowest rule or Markov: {slowest} {models_s[slowest]:.1f} s; "
        f"whole run {sum(seconds.values()):.0f} s; peak {peak:.2f} GB; "
        f"{'targets met' if ok else 'TARGETS MISSED'}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--people", type=int, default=DEFAULT_PEOPLE, help="people to generate")
    parser.add_argument(
        "--base-shift",
        type=float,
        default=DEFAULT_SHIFT,
        help="log-odds shift of conversion (more converters)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--cache", help="folder of the Parquet files (default bench/out/journeys_<people>_...)"
    )
    parser.add_argument("--generate", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    folder = cache_folder(args)
    if args.generate:
        generate(args, folder)
        return
    if args.measure:
        measure(folder)
        return

    again = [sys.executable, __file__, "--people", str(args.people), "--base-shift", str(args.base_shift)]
    again += ["--seed", str(args.seed), "--cache", str(folder)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if not (folder / "meta.json").exists():
        print(
            f"generating {args.people:,} people (seed {args.seed}, base shift {args.base_shift:g}) ...",
            flush=True,
        )
        subprocess.run([*again, "--generate"], check=True, env=env)
    meta = json.loads((folder / "meta.json").read_text())
    rows = meta["rows"]
    print(
        f"set-up: {meta['people']:,} people; {rows['touchpoints']:,} touchpoints, {rows['conversions']:,} "
        f"conversions, {rows['customers']:,} CRM rows, {rows['holdouts']:,} holdout rows in {folder} "
        f"(generated in {meta['generate_s']:.0f} s, written in {meta['write_s']:.0f} s, peak {meta['peak_gb']:.1f} GB)"
    )
    size = sum((folder / f"{name}.parquet").stat().st_size for name in TABLES) / 1e6
    print(f"Parquet files: {size:,.0f} MB; the run below is a fresh process reading them", flush=True)
    subprocess.run([*again, "--measure"], check=True, env=env)


if __name__ == "__main__":
    main()
