"""Shared by the serving tests: a small multi-arm model whose features include categories.

The two-arm model is the session's (`saved_model_name` in tests/conftest.py); this one adds what
it lacks: arms to choose between, and categorical features for unseen-category dead letters.
"""

from __future__ import annotations

import pytest

from impactiq.data.demo import load_demo
from impactiq.evaluation.training import train_model
from impactiq.uplift.store import load_model, save_model

FAST = {"n_estimators": 40}


@pytest.fixture(scope="session")
def multi_arm_path(models_dir):
    """A three-channel causal forest on 6,000 synthetic rows (device and time_of_day are categories)."""
    trained = train_model(
        load_demo("multichannel", n_rows=6_000, seed=3), outcome="conversion", seed=0, n_boot=20, params=FAST
    )
    return save_model(trained, "stream_channels", models_dir=models_dir)


@pytest.fixture(scope="session")
def multi_arm_model(multi_arm_path):
    return load_model(multi_arm_path)


@pytest.fixture(scope="session")
def two_arm_model(models_dir, saved_model_name):
    return load_model(models_dir / saved_model_name)
