"""Shared fixtures: one temporary models folder for every page test, and a small saved model.

Pages read IMPACTIQ_MODELS_DIR when `pages.common` is first imported, so it is set here, at
collection time, before any test imports a page; tests never touch the developer's models/.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

MODELS_DIR = Path(tempfile.mkdtemp(prefix="impactiq-test-models-"))
os.environ["IMPACTIQ_MODELS_DIR"] = str(MODELS_DIR)

# Small, fast settings: enough for a real forest with honest intervals on a few thousand rows.
FAST_FOREST = {"n_estimators": 40}


@pytest.fixture(scope="session")
def models_dir() -> Path:
    return MODELS_DIR


@pytest.fixture(scope="session")
def saved_model_name(models_dir) -> str:
    """A causal forest on 8,000 synthetic rows, saved once for the whole test session."""
    from impactiq.data.demo import load_demo
    from impactiq.evaluation.training import train_model
    from impactiq.uplift.store import save_model

    trained = train_model(
        load_demo("synthetic", n_rows=8_000, seed=5), outcome="visit", seed=0, n_boot=50, params=FAST_FOREST
    )
    return save_model(trained, "session_model", models_dir=models_dir).name
