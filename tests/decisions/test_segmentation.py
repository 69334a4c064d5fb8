"""Tests of impactiq.decisions.segmentation: segments by column, K-means, uplift and class."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from impactiq.decisions import segmentation
from impactiq.decisions.persuadability import Thresholds
from impactiq.errors import ImpactIQError
from impactiq.uplift import scoring
from tests.support import SEGMENT_SCHEMA, scored_by_channel


@pytest.fixture(scope="module")
def scored() -> pd.DataFrame:
    return scored_by_channel()


def test_rare_values_are_pooled_into_other():
    frame = scored_by_channel(n=3_000, seed=2)
    frame["channel"] = frame["channel"].astype(str)
    frame.loc[:39, "channel"] = "kiosk"
    split = segmentation.assign_segments(frame, SEGMENT_SCHEMA, "channel")
    assert list(split.labels.cat.categories)[-1] == segmentation.OTHER
    assert (split.labels == segmentation.OTHER).sum() == 40
    assert "kiosk" in split.method


def test_numeric_column_segments_are_named_and_ordered(scored):
    labels = segmentation.assign_segments(scored, SEGMENT_SCHEMA, "newbie").labels
    assert list(labels.cat.categories) == ["newbie = 0", "newbie = 1"]
    np.testing.assert_array_equal(labels == "newbie = 1", scored["newbie"] == 1)


def test_uplift_quantiles_are_equal_sized_and_ordered(scored):
    labels = segmentation.assign_segments(scored, SEGMENT_SCHEMA, "uplift:4").labels
    counts = labels.value_counts(sort=False)
    assert counts.max() - counts.min() <= 1
    means = scored.groupby(labels, observed=True)["uplift"].agg(["min", "max"])
    assert (means["min"].to_numpy()[:-1] >= means["max"].to_numpy()[1:]).all()
    assert labels.cat.categories[0].endswith("(highest)")


def test_persuadability_segments_follow_the_class_rules():
    """Five users written so that each rule decides one of them; expected classes by hand."""
    frame = pd.DataFrame(
        {
            "uplift": [0.05, -0.005, -0.03, 0.001, 0.002],
            "uplift_upper": [0.08, -0.001, 0.01, 0.01, 0.02],
            "y0_pred": [0.10, 0.50, 0.20, 0.40, 0.01],
        }
    )
    thresholds = Thresholds(persuadable=0.02, harm=0.02, baseline=0.3)
    labels, method = segmentation.persuadability_segments(frame, thresholds)
    assert list(labels.astype(str)) == [
        "persuadable",  # uplift 0.05 >= 0.02
        "do-not-disturb",  # upper bound below zero
        "do-not-disturb",  # uplift -0.03 <= -harm
        "sure thing",  # small uplift, converts anyway
        "lost cause",  # small uplift, unlikely either way
    ]
    assert list(labels.cat.categories) == ["persuadable", "sure thing", "lost cause", "do-not-disturb"]
    assert "+0.020" in method  # no outcome column: the outcome's own units
    # Seen: thresholds as fractions ("0.01327") here and in pp on the Simulator. A 0/1 outcome
    # states them in points and percent, as every table does.
    _, in_points = segmentation.persuadability_segments(frame.assign(y=[0, 1, 0, 1, 0]), thresholds)
    assert "at least +2.00 pp" in in_points and "at most -2.00 pp" in in_points and "30.00%" in in_points


def test_persuadability_by_default_uses_the_holdout_thresholds(scored):
    labels = segmentation.assign_segments(scored, SEGMENT_SCHEMA, "persuadability").labels
    assert "do-not-disturb" in labels.cat.categories  # the store channel is hurt
    assert labels.notna().all()


def _clustered(seed: int) -> pd.DataFrame:
    """Three well separated groups: high x, low x, and middle x in the store channel."""
    frame = scored_by_channel(n=1_500, seed=seed)
    group = np.arange(len(frame)) % 3
    frame["x"] = np.choose(group, [4.0, -4.0, 0.0]) + np.random.default_rng(seed).normal(0, 0.3, len(frame))
    frame["channel"] = pd.Categorical(np.where(group == 2, "store", np.where(group == 0, "web", "phone")))
    frame["newbie"] = 0.0  # constant: carries no information and must not break the scaling
    frame["group"] = group
    return frame


@pytest.mark.parametrize("seed", [0, 3])
def test_kmeans_is_stable_for_a_seed_and_finds_planted_clusters(seed):
    frame = _clustered(seed)
    first = segmentation.assign_segments(frame, SEGMENT_SCHEMA, "kmeans:3", seed=seed)
    second = segmentation.assign_segments(frame, SEGMENT_SCHEMA, "kmeans:3", seed=seed)
    pd.testing.assert_series_equal(first.labels, second.labels)
    crossed = pd.crosstab(first.labels, frame["group"])
    assert ((crossed > 0).sum(axis=1) == 1).all()  # each cluster is one planted group
    names = {frame["group"][first.labels == name].iloc[0]: name for name in first.labels.cat.categories}
    assert "high x" in names[0].split(" · ")
    assert "low x" in names[1].split(" · ")
    assert "channel = store" in names[2]
    z = first.profiles.set_index(["segment", "feature"])["z"]
    assert z[(names[0], "x")] > 1 and z[(names[1], "x")] < -1


def test_kmeans_names_are_unique():
    assert segmentation._unique(["a", "b", "a", "a"]) == ["a", "b", "a (2)", "a (3)"]


@pytest.mark.parametrize(
    ("by", "match"),
    [
        ("kmeans:1", "kmeans"),
        ("uplift:x", "uplift"),
        ("colour", "'colour' is not a feature"),
        ("x", "'x' has .* distinct values"),
        ("", "segment"),
    ],
)
def test_bad_segmentations_are_refused(scored, by, match):
    with pytest.raises(ImpactIQError, match=match):
        segmentation.assign_segments(scored, SEGMENT_SCHEMA, by)


def test_a_holdout_without_features_cannot_be_clustered(scored):
    bare = scored[list(scoring.REQUIRED_COLUMNS)]
    assert segmentation.segment_columns(bare, SEGMENT_SCHEMA) == []
    with pytest.raises(ImpactIQError, match="Retrain"):
        segmentation.assign_segments(bare, SEGMENT_SCHEMA, "kmeans:3")
    with pytest.raises(ImpactIQError, match="Retrain"):
        segmentation.assign_segments(bare, SEGMENT_SCHEMA, "channel")
