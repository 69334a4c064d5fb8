"""Tests of impactiq.present.segment_tables: the Segments report as text."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from impactiq.decisions import segments
from impactiq.present import segment_tables

EFFECT = {"web": 0.10, "phone": 0.02, "store": -0.05}


def _scored(n: int = 6_000, seed: int = 0, *, amount: bool = False) -> pd.DataFrame:
    """A scored frame with a known effect per channel and imperfect model columns."""
    rng = np.random.default_rng(seed)
    channel = rng.choice(list(EFFECT), size=n, p=[0.5, 0.3, 0.2])
    t = (rng.random(n) < 0.6).astype(np.int8)
    base = 0.2 + 0.1 * (channel == "phone")
    effect = np.array([EFFECT[c] for c in channel])
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


@pytest.fixture(scope="module")
def scored() -> pd.DataFrame:
    return _scored()


@pytest.mark.parametrize(("binary", "word"), [(True, "conversions (y)"), (False, "y (amount)")])
def test_labels_say_conversions_or_amounts(scored, binary, word):
    table = segments.segment_table(scored, scored["channel"], cost=1.0, value=2.0)
    shown = segment_tables.segment_table_text(table, outcome="y", binary=binary)
    readable = segment_tables.readable_segment_table(table, outcome="y", binary=binary)
    assert f"credited {word}" in shown.columns
    assert f"incremental {word} lower" in readable.columns
    assert "causal ROI [95% CI]" in shown.columns
