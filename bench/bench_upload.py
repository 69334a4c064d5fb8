"""How much memory the Data page needs for an upload, as a multiple of the file's size.

Writes a seeded Criteo-style CSV (`impactiq.data.synthetic.make_criteo_like`, without the
synthetic truth columns a real upload does not have) into a temporary folder, then, in a
fresh child process, holds its bytes the way Streamlit holds an upload (an `UploadedFile`
over the bytes of the request) and runs the Data page's path: `read_table` on
`uploaded.getvalue()`, `prepare_experiment`, `summarise`. It prints the file's size, the
peak resident memory of that path (the kernel's VmHWM, minus the mark after imports; the
upload's own bytes count, since the server holds them too) and peak / file size. Linux only
(the peak comes from /proc).

    .venv/bin/python bench/bench_upload.py [--rows 1000000]
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from impactiq.data.synthetic import make_criteo_like  # noqa: E402

# The target for the whole upload path: peak memory over file size.
TARGET_RATIO = 2.5

# Runs in the child. VmHWM starts afresh at exec (getrusage's ru_maxrss carries the parent's
# size over from fork); the stage marks show where the peak is reached.
CHILD = """
import json, sys
from impactiq.data.experiment import prepare_experiment
from impactiq.data.reader import read_table
from impactiq.data.schema import detect_criteo
from impactiq.data.summary import summarise
from streamlit.runtime.uploaded_file_manager import UploadedFile, UploadedFileRec

def megabytes(field):
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith(field))
    return int(line.split()[1]) / 1024

path, name = sys.argv[1], sys.argv[2]
marks = {"imports": megabytes("VmHWM")}
with open(path, "rb") as handle:
    record = UploadedFileRec(file_id="bench", name=name, type="text/csv", data=handle.read())
uploaded = UploadedFile(record, None)
marks["bytes held"] = megabytes("VmHWM")
# What pages/data.py does with an upload in the Criteo layout.
table = read_table(uploaded.getvalue(), filename=uploaded.name)
marks["read_table"] = megabytes("VmHWM")
assert detect_criteo(table.columns) is not None
experiment = prepare_experiment(table, name=uploaded.name)
del table
marks["prepare_experiment"] = megabytes("VmHWM")
summary = summarise(experiment)
marks["summarise"] = megabytes("VmHWM")
print(json.dumps({"marks": marks, "rows": experiment.n_rows, "warnings": experiment.warnings}))
"""


def write_csv(n_rows: int, path: Path, *, seed: int = 0) -> None:
    """A seeded Criteo-layout CSV: f0..f11, treatment, visit, conversion, exposure."""
    frame = make_criteo_like(n_rows, seed=seed).drop(columns=["tau_visit", "tau_conversion"])
    # The real file prints its features as float64 with up to 17 significant digits (about 230
    # bytes a row); float32 values widened to float64 print the same way.
    features = [f"f{i}" for i in range(12)]
    frame[features] = frame[features].astype(np.float64)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    del frame
    pa_csv.write_csv(table, path)
    os.sync()


def measure(path: Path) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), path.name],
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
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "criteo.csv"
        write_csv(args.rows, path, seed=args.seed)
        size_mb = path.stat().st_size / 1024**2
        result = measure(path)
    marks = result["marks"]
    base = marks["imports"]
    peak = marks["summarise"] - base  # VmHWM never falls: the last mark is the peak of the path
    print(f"Data page upload path on {result['rows']:,} Criteo-style rows (fresh process)")
    print(f"{'file size':<30} {size_mb:8.1f} MB")
    for stage in ("bytes held", "read_table", "prepare_experiment", "summarise"):
        grown = marks[stage] - base
        print(f"{'peak after ' + stage:<30} {grown:8.1f} MB  ({grown / size_mb:.2f}x)")
    print(f"{'peak RSS over imports':<30} {peak:8.1f} MB")
    print(f"{'peak / file size':<30} {peak / size_mb:8.2f}x  (target <= {TARGET_RATIO}x)")
    for warning in result["warnings"]:
        print(f"warning: {warning}")


if __name__ == "__main__":
    main()
