"""How long a cold `load_model` takes in a fresh process, imports included (target: 0.5 s).

Each run starts a new Python process that imports the model store, loads the model folder and
scores one row; the time covers the imports and the load, as a page or command that starts
cold would pay them. The child also reports which heavy libraries the load imported: a saved
model is data (see `impactiq.uplift.portable`), so neither EconML nor scikit-learn is needed.

    .venv/bin/python bench/bench_load.py [--model models/demo] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 0.5
HEAVY = ("econml", "sklearn", "scipy", "lightgbm", "joblib", "pandas", "pyarrow")

CHILD = """
import json, sys, time
started = time.perf_counter()
from impactiq.uplift.store import load_model
model = load_model(sys.argv[1])
loaded = time.perf_counter() - started
heavy = sorted({name.split(".")[0] for name in sys.modules} & set(sys.argv[2].split(",")))
row = model.holdout.head(1)
started_scoring = time.perf_counter()
model.effect_with_interval(row)
scored = time.perf_counter() - started_scoring
print(json.dumps({"load_s": loaded, "heavy": heavy, "first_row_s": scored}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/demo", help="model folder (default: models/demo)")
    parser.add_argument("--runs", type=int, default=5, help="fresh processes to time (default: 5)")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    results = []
    for _ in range(args.runs):
        out = subprocess.run(
            [sys.executable, "-c", CHILD, args.model, ",".join(HEAVY)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        results.append(json.loads(out.stdout))
    loads = [r["load_s"] for r in results]
    size = sum(p.stat().st_size for p in Path(args.model).resolve().iterdir()) / 1e6
    print(f"model: {args.model} ({size:.1f} MB on disk)")
    print(
        f"cold load_model, imports included: best {min(loads):.3f} s, median {statistics.median(loads):.3f} s "
        f"over {args.runs} fresh processes (target {TARGET_S} s)"
    )
    print(f"heavy libraries imported by the load: {', '.join(results[0]['heavy']) or 'none'}")
    print(
        f"then the first row's uplift with its interval: {statistics.median(r['first_row_s'] for r in results) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
