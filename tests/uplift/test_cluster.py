"""Tests of impactiq.uplift.cluster: addresses, refusals, ordered Ray tasks, and results on Ray
equal to the same seed's results on one machine.

The Ray tests share one local Ray with two CPUs (`local_ray`), started once for the module and
shut down after it; the tests that need no Ray come first and never start one.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from impactiq.data.demo import load_demo
from impactiq.data.synthetic import make_criteo_like
from impactiq.errors import ImpactIQError
from impactiq.evaluation.training import train_model
from impactiq.uplift import cluster
from impactiq.uplift.estimators import UpliftModel
from tests.support import free_port

ray = pytest.importorskip("ray")

ROOT = Path(__file__).resolve().parents[2]
FEATURES = [f"f{i}" for i in range(12)]
# A small forest: a real one, with intervals, fitted in seconds.
FAST_FOREST = {"n_estimators": 40}


@pytest.fixture
def disconnected(monkeypatch):
    """This process counts as not connected to Ray, whatever another test left running."""
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("auto", None),
        ("ray://head", "ray://head:10001"),
        ("ray://head.example.com:20001", "ray://head.example.com:20001"),
        ("head", "head:6379"),
        ("10.0.0.5:6380", "10.0.0.5:6380"),
    ],
)
def test_addresses_get_ray_default_ports(address, expected, monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert cluster._normalised(address) == expected


def test_auto_takes_the_address_in_ray_address(monkeypatch):
    monkeypatch.setenv("RAY_ADDRESS", "ray://head")
    assert cluster._normalised("auto") == "ray://head:10001"


@pytest.mark.parametrize("address", ["http://head:8265", "head:port", "two words", ""])
def test_an_address_in_the_wrong_form_is_refused_with_the_forms_allowed(address, disconnected):
    with pytest.raises(ImpactIQError, match=r"not a Ray address.*ray://HEAD:10001.*HEAD:6379"):
        cluster.connect(address)


@pytest.mark.parametrize("scheme", ["", "ray://"])
def test_an_address_where_nothing_listens_is_refused_at_once(scheme, disconnected):
    address = f"{scheme}127.0.0.1:{free_port()}"
    started = time.perf_counter()
    with pytest.raises(ImpactIQError, match=rf"Cannot reach Ray at '{address}'.*ray start --head"):
        cluster.connect(address)
    assert time.perf_counter() - started < cluster.REACH_TIMEOUT_S


def test_a_stale_ray_address_fails_auto_at_once(disconnected, monkeypatch):
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{free_port()}")
    with pytest.raises(ImpactIQError, match="Cannot reach Ray at 'auto'"):
        cluster.connect("auto")


def test_auto_joins_the_ray_recorded_on_this_machine_only_while_it_answers(monkeypatch):
    with socket.socket() as head:
        head.bind(("127.0.0.1", 0))
        head.listen()
        alive = f"127.0.0.1:{head.getsockname()[1]}"
        monkeypatch.setattr(cluster, "_recorded_cluster", lambda: alive)
        assert cluster._local_ray() is None  # Ray joins it
    monkeypatch.setattr(cluster, "_recorded_cluster", lambda: f"127.0.0.1:{free_port()}")
    assert cluster._local_ray() == "local"  # a new local Ray, not minutes waiting on a stale record
    monkeypatch.setattr(cluster, "_recorded_cluster", lambda: None)
    assert cluster._local_ray() == "local"


def test_repeated_cross_fitting_is_refused_on_ray_where_econml_repeats_one_split():
    frame = make_criteo_like(500, seed=1)
    model = UpliftModel(estimator="linear_dml", use_ray=True, params={"mc_iters": 2})
    with pytest.raises(ImpactIQError, match="mc_iters=2"):
        model.fit(frame["visit"], frame["treatment"], frame[FEATURES])


def test_the_package_and_the_command_line_import_ray_only_when_asked():
    code = "import sys, impactiq, impactiq.cli, impactiq.uplift.cluster, impactiq.uplift.store;"
    code += "assert 'ray' not in sys.modules, 'ray imported'"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_session_without_an_address_does_nothing():
    with cluster.session(None):
        assert not ray.is_initialized()


@pytest.fixture(scope="module")
def local_ray():
    """A new local Ray with two CPUs for this module's Ray tests, never a cluster found running."""
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _sum_plus(shared: np.ndarray, item: int) -> tuple[int, float]:
    time.sleep(0.05 * (item % 3 == 0))  # later tasks often finish first
    return item, float(shared.sum()) + item


def test_map_in_order_gives_results_in_the_items_order(local_ray):
    shared = np.arange(1_000, dtype=np.float64)
    results = list(cluster.map_in_order(_sum_plus, shared, range(12)))
    assert results == [(k, shared.sum() + k) for k in range(12)]


def _refuse_odd(shared: None, item: int) -> int:
    if item % 2:
        raise ImpactIQError(f"row {item} is odd; give even rows")
    return item


def test_a_task_s_user_error_is_raised_as_it_would_be_without_ray(local_ray):
    with pytest.raises(ImpactIQError, match="row 1 is odd") as raised:
        list(cluster.map_in_order(_refuse_odd, None, range(4)))
    assert type(raised.value) is ImpactIQError


def test_a_process_already_connected_keeps_its_connection(local_ray):
    assert cluster.connect("auto") is False
    with cluster.session("auto"):
        pass
    assert ray.is_initialized()


def _effects(model: UpliftModel, frame):
    return np.column_stack(model.effect_with_interval(frame[FEATURES]))


@pytest.mark.parametrize(
    ("estimator", "params"),
    [
        ("linear_dml", None),
        ("dr", {"n_estimators": 40, "min_samples_leaf": 20}),
        ("t_learner", None),
    ],
)
def test_each_estimator_fitted_on_ray_equals_its_fit_here(local_ray, estimator, params):
    frame = make_criteo_like(3_000, seed=2)
    y, t = frame["visit"], frame["treatment"]
    fits = [
        UpliftModel(estimator=estimator, random_state=3, n_bootstrap=4, params=params, use_ray=use_ray).fit(
            y, t, frame[FEATURES]
        )
        for use_ray in (False, True)
    ]
    np.testing.assert_allclose(_effects(fits[1], frame), _effects(fits[0], frame), rtol=0, atol=1e-9)


@pytest.mark.slow
def test_the_default_causal_forest_trained_on_ray_equals_the_same_seed_here(local_ray):
    experiment = load_demo("synthetic", n_rows=5_000, seed=11)
    trained = [
        train_model(experiment, outcome="visit", seed=4, n_boot=20, params=FAST_FOREST, use_ray=use_ray)
        for use_ray in (False, True)
    ]
    here, on_ray = trained
    assert here.data["interval_calibration"]["scale"] == on_ray.data["interval_calibration"]["scale"]
    columns = ["uplift", "uplift_lower", "uplift_upper", "y0_pred", "y1_pred"]
    np.testing.assert_allclose(
        on_ray.holdout[columns].to_numpy(), here.holdout[columns].to_numpy(), rtol=0, atol=1e-9
    )
    rows = experiment.frame.iloc[:500]
    np.testing.assert_allclose(
        np.column_stack(on_ray.effect_with_interval(rows)),
        np.column_stack(here.effect_with_interval(rows)),
        rtol=0,
        atol=1e-9,
    )
