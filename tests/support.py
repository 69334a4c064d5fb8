"""Shared by several test modules: a small feature form, scored rows with known effects, a free port."""

from __future__ import annotations

import socket

import numpy as np
import pandas as pd

from impactiq.data.experiment import Experiment, prepare_experiment
from impactiq.data.schema import Schema, build_schema

FORM_SCHEMA = Schema(
    treatment="t",
    treated_values=(1,),
    control_values=(0,),
    outcomes=("y",),
    binary_outcomes=("y",),
    numeric_features=("age", "visits"),
    categorical_features=("channel",),
)

FORM_PROFILE = {
    "age": {
        "kind": "numeric",
        "dtype": "float32",
        "min": 18.0,
        "max": 80.0,
        "missing_share": 0.0,
        "quantiles": {"1": 19.0, "5": 21.0, "25": 30.0, "50": 41.5, "75": 55.0, "95": 70.0, "99": 78.0},
    },
    "visits": {
        "kind": "numeric",
        "dtype": "float32",
        "min": 0.0,
        "max": 9.0,
        "missing_share": 0.1,
        "quantiles": {"1": 0.0, "5": 0.0, "25": 1.0, "50": 2.0, "75": 4.0, "95": 7.0, "99": 8.0},
    },
    "channel": {
        "kind": "categorical",
        "categories": ["Phone", "Web", "Shop"],
        "frequencies": {"Web": 0.6, "Phone": 0.3, "Shop": 0.1},
    },
}

SEGMENT_SCHEMA = Schema(
    treatment="group",
    treated_values=("email",),
    control_values=("none",),
    outcomes=("y",),
    binary_outcomes=("y",),
    numeric_features=("x", "newbie"),
    categorical_features=("channel",),
)

CHANNEL_EFFECT = {"web": 0.10, "phone": 0.02, "store": -0.05}


def scored_by_channel(n: int = 6_000, seed: int = 0, *, amount: bool = False) -> pd.DataFrame:
    """A scored frame with a known effect per channel and imperfect model columns."""
    rng = np.random.default_rng(seed)
    channel = rng.choice(list(CHANNEL_EFFECT), size=n, p=[0.5, 0.3, 0.2])
    t = (rng.random(n) < 0.6).astype(np.int8)
    base = 0.2 + 0.1 * (channel == "phone")
    effect = np.array([CHANNEL_EFFECT[c] for c in channel])
    y = (rng.random(n) < base + t * effect).astype(np.float64)
    if amount:
        y = y * rng.gamma(2.0, 20.0, n)
    uplift = effect + rng.normal(0, 0.02, n)
    return pd.DataFrame(
        {
            "y": y,
            "t": t,
            "uplift": uplift,
            "uplift_lower": uplift - 0.03,
            "uplift_upper": uplift + 0.03,
            "y0_pred": base,
            "y1_pred": base + uplift,
            "x": rng.normal(size=n),
            "newbie": rng.integers(0, 2, n).astype(np.float64),
            "channel": pd.Categorical(channel),
        }
    )


def form_holdout() -> pd.DataFrame:
    """Four scored holdout users of the feature form, one of them outside its training range."""
    return pd.DataFrame(
        {
            "uplift": [0.01, 0.05, -0.03, 0.02],
            "y0_pred": [0.10, 0.20, 0.30, 0.40],
            "age": [25.0, 90.0, 40.0, 60.0],
            "visits": [1.0, 3.0, np.nan, 5.0],
            "channel": ["Web", "Shop", "Phone", "Web"],
        }
    )


def strong_effect(n: int, seed: int) -> Experiment:
    """A 0/1 outcome whose effect is +25 pp where x0 > 0 and +10 pp elsewhere, 50/50 split."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    t = rng.integers(0, 2, n)
    p = 0.3 + 0.1 * x[:, 1].clip(-1, 1) + t * np.where(x[:, 0] > 0, 0.25, 0.10)
    frame = pd.DataFrame(x, columns=["x0", "x1", "x2"]).assign(t=t, y=(rng.random(n) < p).astype(int))
    schema = build_schema(frame, treatment="t", treated_values=[1], control_values=[0], outcomes=["y"])
    return prepare_experiment(frame, schema, name="strong effect")


def free_port() -> int:
    """A local port where nothing listens: bound, then released (for a server to start on, or
    an address that must fail to connect)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
