"""`--ray` on the command line: train and score on a local Ray give what they give without it,
a cluster's head started with `ray start --head` is reached by its address, and an address where
no Ray answers is a message and exit status 2, never a traceback.

Each `--ray auto` run starts a local Ray for the command and stops it afterwards, as a user's
run would; tests that start one are marked slow.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from impactiq import cli
from impactiq.data.synthetic import make_criteo_like
from impactiq.uplift.store import load_model
from tests.support import free_port

ray = pytest.importorskip("ray")

ROOT = Path(__file__).resolve().parent.parent
FAST_PARAMS = '{"n_estimators": 20, "min_samples_leaf": 20}'


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("cli_ray")


@pytest.fixture(scope="module")
def rows_csv(workdir):
    path = workdir / "rows.csv"
    make_criteo_like(1_000, seed=8).to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    ("address", "message"),
    [("127.0.0.1:{port}", "Cannot reach Ray at '127.0.0.1:"), ("http://head:8265", "is not a Ray address")],
)
def test_a_bad_ray_address_is_a_message_and_status_2_not_a_traceback(
    models_dir, saved_model_name, rows_csv, workdir, address, message
):
    out = workdir / "never.csv"
    command = ["score", "--model", str(models_dir / saved_model_name), "--data", str(rows_csv)]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "impactiq",
            *command,
            "--out",
            str(out),
            "--ray",
            address.format(port=free_port()),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    assert result.returncode == cli.EXIT_USER_ERROR
    assert message in result.stderr and "ray start --head" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


def _score(model: Path, data: Path, out: Path, *ray_flag: str) -> pd.DataFrame:
    assert cli.main(["score", "--model", str(model), "--data", str(data), "--out", str(out), *ray_flag]) == 0
    return pd.read_parquet(out) if out.suffix == ".parquet" else pd.read_csv(out, keep_default_na=False)


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_score_on_ray_writes_the_file_written_without_it(
    models_dir, saved_model_name, rows_csv, workdir, monkeypatch, suffix
):
    monkeypatch.setattr(cli, "SCORE_CHUNK_ROWS", 300)  # four chunks, four Ray tasks
    model = models_dir / saved_model_name
    here = _score(model, rows_csv, workdir / f"here{suffix}")
    on_ray = _score(model, rows_csv, workdir / f"on_ray{suffix}", "--ray", "auto")
    assert list(on_ray.columns) == list(here.columns) and "uplift_upper" in here.columns
    pd.testing.assert_frame_equal(on_ray, here, check_exact=False, rtol=0, atol=1e-9)
    assert not ray.is_initialized()  # the command stopped the Ray it started


@pytest.mark.slow
def test_train_on_ray_saves_the_model_trained_without_it(rows_csv, workdir):
    saved = {}
    for name, flag in (("here", []), ("on_ray", ["--ray"])):
        out = workdir / "models" / name
        args = ["train", "--data", str(rows_csv), "--params", FAST_PARAMS, "--seed", "3", "--out", str(out)]
        assert cli.main([*args, *flag]) == 0
        saved[name] = load_model(out)
    rows = make_criteo_like(300, seed=9)
    np.testing.assert_allclose(
        np.column_stack(saved["on_ray"].effect_with_interval(rows)),
        np.column_stack(saved["here"].effect_with_interval(rows)),
        rtol=0,
        atol=1e-9,
    )
    assert saved["on_ray"].data["interval_calibration"] == saved["here"].data["interval_calibration"]


@pytest.fixture(scope="module")
def ray_head():
    """A cluster's head on this machine, as `ray start --head` makes one, with token auth on.

    Its files go to a temporary folder of its own (short: Ray's socket paths have a length
    limit), so the address it records is not left behind in /tmp/ray when it stops.
    """
    gcs, client = free_port(), free_port()
    temp_dir = tempfile.mkdtemp(prefix="rayh")
    command = [
        *(str(Path(sys.executable).parent / "ray"), "start", "--head", "--block"),
        *("--port", str(gcs), "--ray-client-server-port", str(client), "--temp-dir", temp_dir),
        *("--num-cpus", "2", "--include-dashboard", "false", "--disable-usage-stats"),
    ]
    env = {**os.environ, "RAY_AUTH_MODE": "token"}
    head = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(gcs, head)
        _wait_for_port(client, head)
        yield {"gcs": f"127.0.0.1:{gcs}", "client": f"ray://127.0.0.1:{client}"}
    finally:
        head.terminate()  # `ray start --block` stops the processes it started
        head.wait(timeout=60)
        shutil.rmtree(temp_dir, ignore_errors=True)


def _wait_for_port(port: int, process: subprocess.Popen, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, "ray start --head exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"nothing listens on port {port} after {seconds:g} s")


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["gcs", "client"])
def test_train_on_a_head_reached_by_its_address_equals_training_here(ray_head, rows_csv, workdir, kind):
    args = ["train", "--data", str(rows_csv), "--estimator", "linear_dml", "--no-calibration", "--seed", "5"]
    here = workdir / "models" / f"linear_here_{kind}"
    assert cli.main([*args, "--out", str(here)]) == 0
    on_head = workdir / "models" / f"linear_{kind}"
    result = subprocess.run(
        [sys.executable, "-m", "impactiq", *args, "--out", str(on_head), "--ray", ray_head[kind]],
        cwd=workdir,  # away from the repository: the workers get ImpactIQ shipped with the job
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "RAY_AUTH_MODE": "token"},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = make_criteo_like(300, seed=9)
    np.testing.assert_allclose(
        np.column_stack(load_model(on_head).effect_with_interval(rows)),
        np.column_stack(load_model(here).effect_with_interval(rows)),
        rtol=0,
        atol=1e-9,
    )
