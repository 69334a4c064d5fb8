"""The most common paths and how long journeys take, by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from impactiq.journeys.paths import build_journeys
from impactiq.journeys.summary import path_statistics, top_paths, touches_histogram
from tests.journeys.reference_paths import as_logs


@pytest.fixture(scope="module")
def journeys():
    touches, conversions = as_logs([("a>b", 3, 1), ("b", 2, 0), ("a>a>c", 1, 0)], revenue=10.0)
    lonely = pd.DataFrame({"person": [999], "timestamp": [pd.Timestamp("2024-03-01")], "revenue": [5.0]})
    return build_journeys(touches, pd.concat([conversions, lonely]), lookback_days=30)


def test_top_paths_count_conversions_in_order(journeys):
    table = top_paths(journeys)
    assert table["path"].tolist() == ["a > b", "b", "a > a > c"]
    assert table["conversions"].tolist() == [3, 2, 1]
    np.testing.assert_allclose(table["share"], [0.5, 1 / 3, 1 / 6])
    assert table["revenue"].tolist() == [30.0, 20.0, 10.0]
    assert top_paths(journeys, n=1)["path"].tolist() == ["a > b"]


def test_path_statistics_skip_unattributed_conversions(journeys):
    stats = path_statistics(journeys).set_index("measure")
    # touches: 2, 2, 2, 1, 1, 3; the first touch is touches hours before converting.
    assert stats.loc["touches", "mean"] == pytest.approx(11 / 6)
    assert stats.loc["touches", "max"] == 3
    assert stats.loc["days from first touch", "max"] == pytest.approx(3 / 24)


def test_touches_histogram_caps_long_paths(journeys):
    table = touches_histogram(journeys, cap=2)
    assert table["touches"].tolist() == ["1", "2+"] and table["conversions"].tolist() == [2, 4]
