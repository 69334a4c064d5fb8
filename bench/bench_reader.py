"""How fast `read_table` reads a Criteo-size table, and how much memory it needs.

Writes a seeded 1M-row table in the Criteo layout (f0..f11 with the long decimals of the real
file, treatment/visit/conversion/exposure as 0/1) as CSV, CSV.gz and Parquet into a temporary
folder, then reads each file in a fresh child process: peak memory must be measured per
process (tracemalloc does not see pyarrow's allocations), and a fresh process keeps one
read's memory from hiding another's. Time is the best of three reads; MB/s is the file's
size over that time. Linux only (the peak comes from /proc).

    .venv/bin/python bench/bench_reader.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
REPEATS = 3
TARGET_CSV_MB_S = 100

# Runs in the child: one read for the peak memory, then more for the best time. The peak is
# the kernel's high-water mark of this process's memory (VmHWM), which starts afresh at exec;
# getrusage's ru_maxrss does not: it carries the parent's size over from fork.
CHILD = """
import json, sys, time
from impactiq.data.reader import read_table

def megabytes(field):
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith(field))
    return int(line.split()[1]) / 1024

path, repeats = sys.argv[1], int(sys.argv[2])
base = megabytes("VmHWM")
times = []
for _ in range(repeats):
    start = time.perf_counter()
    frame = read_table(path, max_bytes=None)
    times.append(time.perf_counter() - start)
    if len(times) == 1:
        peak = megabytes("VmHWM")
        frame_mb = frame.memory_usage(deep=True).sum() / 1024**2
    del frame
print(json.dumps({"best_s": min(times), "base_mb": base, "peak_mb": peak, "frame_mb": frame_mb}))
"""


def make_criteo_table(n_rows: int, seed: int = 0) -> pa.Table:
    """A table in the Criteo column layout with realistic values.

    The real features are anonymised floats printed with up to 17 significant digits, and
    most of them repeat a few common values; that mix decides both the file size and the
    parser's work, so it is copied here.
    """
    rng = np.random.default_rng(seed)
    columns = {}
    for i in range(12):
        mode = rng.normal(5, 5)
        values = rng.normal(mode, rng.uniform(0.5, 10), n_rows)
        repeats = rng.random(n_rows) < rng.uniform(0.3, 0.9)
        values[repeats] = mode
        columns[f"f{i}"] = values
    treatment = (rng.random(n_rows) < 0.85).astype(np.int8)
    visit = (rng.random(n_rows) < 0.038 + 0.01 * treatment).astype(np.int8)
    columns["treatment"] = treatment
    columns["conversion"] = (visit & (rng.random(n_rows) < 0.06)).astype(np.int8)
    columns["visit"] = visit
    columns["exposure"] = (treatment & (rng.random(n_rows) < 0.036)).astype(np.int8)
    return pa.table(columns)


def write_files(table: pa.Table, folder: Path) -> dict[str, Path]:
    paths = {
        "CSV": folder / "criteo.csv",
        "CSV.gz": folder / "criteo.csv.gz",
        "Parquet": folder / "criteo.parquet",
    }
    pa_csv.write_csv(table, paths["CSV"])
    with pa.CompressedOutputStream(str(paths["CSV.gz"]), "gzip") as out:
        pa_csv.write_csv(table, out)
    pq.write_table(table, paths["Parquet"])
    # Flush the new files to disk now, so the flush does not run during (and slow) the reads.
    os.sync()
    return paths


def measure(path: Path) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), str(REPEATS)],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        paths = write_files(make_criteo_table(args.rows), Path(folder))
        print(f"read_table on {args.rows:,} Criteo-style rows (best of {REPEATS}, fresh process each)")
        print(
            f"{'format':<8} {'file MB':>8} {'best s':>7} {'MB/s':>7} {'peak RSS MB':>12} {'read MB':>8} {'frame MB':>9}"
        )
        for fmt, path in paths.items():
            size_mb = path.stat().st_size / 1024**2
            m = measure(path)
            print(
                f"{fmt:<8} {size_mb:8.1f} {m['best_s']:7.2f} {size_mb / m['best_s']:7.0f} "
                f"{m['peak_mb']:12.0f} {m['peak_mb'] - m['base_mb']:8.0f} {m['frame_mb']:9.0f}"
            )
        print(
            "MB/s is file MB per second; peak RSS is the whole process, read MB its growth over the "
            f"process after imports. Target for CSV: >= {TARGET_CSV_MB_S} MB/s."
        )


if __name__ == "__main__":
    main()
