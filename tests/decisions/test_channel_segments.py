"""Segment x channel tables, and one budget spent by a fixed channel mix or by each segment's best channel."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from impactiq.data.demo import load_demo
from impactiq.decisions.channel_segments import (
    channel_segment_table,
    channel_segmentation,
    compare_channel_plans,
)
from impactiq.decisions.segments import segment_table
from impactiq.errors import ImpactIQError
from impactiq.evaluation.training import train_model
from impactiq.uplift.arms import arm_view_frame

ARMS = ("email", "social", "display")


@pytest.fixture(scope="module")
def trained():
    return train_model(
        load_demo("multichannel", n_rows=30_000, seed=3),
        outcome="conversion",
        n_boot=20,
        params={"n_estimators": 40},
    )


@pytest.fixture(scope="module")
def table(trained):
    labels = channel_segmentation(trained.holdout, trained.schema, "device").labels
    return channel_segment_table(trained.holdout, ARMS, labels, cost=0.05, value=10.0)


def test_each_channel_is_the_segment_table_of_that_channel_against_control(trained, table):
    labels = channel_segmentation(trained.holdout, trained.schema, "device").labels
    rows = trained.holdout["arm"].isin([0, 2]).to_numpy()
    expected = segment_table(
        arm_view_frame(trained.holdout, ARMS, "social"),
        labels[rows].reset_index(drop=True),
        cost=0.05,
        value=10.0,
    )
    got = table[table["channel"] == "social"].drop(columns="channel").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected)
    assert sorted(set(table["segment"])) == ["desktop", "mobile", "tablet"]


def test_the_causal_plan_gives_each_segment_its_best_channel(table):
    plans = compare_channel_plans(table, mix=dict.fromkeys(ARMS, 1 / 3), budget=300.0, cost=0.05, value=10.0)
    wide = table.pivot(index="segment", columns="channel", values="observed_uplift")
    for row in plans.segments.itertuples():
        assert row.best_channel == wide.loc[row.segment].idxmax()
    assert plans.segments["causal_contacts"].sum() <= plans.contacts == 6_000
    assert plans.segments["traditional_contacts"].sum() == 6_000
    totals = plans.plans.set_index("plan")
    expected = (plans.segments["causal_contacts"] * plans.segments["best_uplift"]).sum()
    assert totals.loc["causal", "incremental"] == pytest.approx(expected)
    assert totals.loc["causal - traditional", "incremental"] == pytest.approx(
        totals.loc["causal", "incremental"] - totals.loc["traditional", "incremental"]
    )


def test_standard_errors_share_the_control_mean_within_a_segment():
    """Two channels in one segment: a mix of both is 0.5 m1 + 0.5 m2 - m0, so the control's
    variance enters once, fully, not halved as adding the uplifts' variances would."""
    table = pd.DataFrame(
        {
            "segment": ["s", "s"],
            "channel": ["a", "b"],
            "users": [200, 200],
            "treated": [100, 100],
            "control": [100, 100],
            "observed_uplift": [0.02, 0.04],
            "observed_uplift_se": [np.hypot(0.01, 0.02), np.hypot(0.03, 0.02)],
            "observed_uplift_lower": [0.0, 0.0],
            "observed_uplift_upper": [0.1, 0.1],
            "treated_mean_se": [0.01, 0.03],
            "control_mean_se": [0.02, 0.02],
            "credited": [10.0, 12.0],
        }
    )
    plans = compare_channel_plans(table, mix={"a": 0.5, "b": 0.5}, budget=5.0, cost=0.05, value=1.0)
    traditional = plans.plans.set_index("plan").loc["traditional"]
    contacts = plans.segments["traditional_contacts"].iloc[0]
    assert contacts == 100
    expected_se = contacts * np.sqrt(0.5**2 * 0.01**2 + 0.5**2 * 0.03**2 + 0.02**2)
    assert traditional["incremental_se"] == pytest.approx(expected_se)
    assert traditional["incremental"] == pytest.approx(contacts * 0.03)


def test_a_channel_with_one_treated_user_in_a_segment_is_not_chosen_there():
    """Seen: channel b with a single row in a segment had an uplift but no standard error; the
    causal plan put the segment's contacts on it and printed an interval without b's noise."""
    table = pd.DataFrame(
        {
            "segment": ["s", "s"],
            "channel": ["a", "b"],
            "users": [80, 41],
            "treated": [40, 1],
            "control": [40, 40],
            "observed_uplift": [0.05, 0.9],
            "observed_uplift_se": [np.hypot(0.05, 0.03), np.nan],
            "observed_uplift_lower": [-0.05, np.nan],
            "observed_uplift_upper": [0.15, np.nan],
            "treated_mean_se": [0.05, np.nan],
            "control_mean_se": [0.03, 0.03],
            "credited": [6.0, 1.0],
        }
    )
    plans = compare_channel_plans(table, mix={"a": 0.5, "b": 0.5}, budget=4.0, cost=0.05, value=1.0)
    assert plans.segments["best_channel"].tolist() == ["a"]
    totals = plans.plans.set_index("plan")
    contacts = plans.segments["causal_contacts"].iloc[0]
    assert totals.loc["causal", "incremental"] == pytest.approx(contacts * 0.05)
    assert totals.loc["causal", "incremental_se"] == pytest.approx(contacts * np.hypot(0.05, 0.03))
    # The traditional mix has only a to place its contacts on, as for a channel without rows.
    assert totals.loc["traditional", "incremental"] == pytest.approx(
        plans.segments["traditional_contacts"].iloc[0] * 0.05
    )


def test_channels_are_compared_within_feature_segments_only(trained):
    with pytest.raises(ImpactIQError, match="differs from channel to channel"):
        channel_segmentation(trained.holdout, trained.schema, "persuadability")


def test_the_mix_must_sum_to_one(table):
    with pytest.raises(ImpactIQError, match="summing to 1"):
        compare_channel_plans(table, mix={"email": 0.5}, budget=100.0, cost=0.05, value=10.0)


def test_a_channel_without_rows_in_a_segment_gets_none_of_its_contacts(table):
    """The mix is renormalised over the channels a segment has: no contacts on unknown uplift."""
    thin = table.copy()
    missing = (thin["segment"] == "tablet") & (thin["channel"] == "display")
    thin.loc[missing, ["observed_uplift", "observed_uplift_lower", "observed_uplift_upper"]] = np.nan
    plans = compare_channel_plans(thin, mix=dict.fromkeys(ARMS, 1 / 3), budget=300.0, cost=0.05, value=10.0)
    totals = plans.plans.set_index("plan")
    assert np.isfinite(totals.loc["traditional", "incremental"])
    assert totals.loc["traditional", "incremental"] == pytest.approx(
        sum(
            row.traditional_contacts
            * np.nanmean(thin[(thin["segment"] == row.segment)]["observed_uplift"].to_numpy())
            for row in plans.segments.itertuples()
        )
    )


@pytest.mark.parametrize("by", ["device", "kmeans:3"])
def test_an_arms_segments_are_the_same_users_as_in_the_channel_table(trained, by):
    from impactiq.decisions.channel_segments import arm_segmentation

    whole = channel_segmentation(trained.holdout, trained.schema, by).labels
    rows = trained.holdout["arm"].isin([0, 2]).to_numpy()
    arm = arm_segmentation(trained.holdout, ARMS, "social", trained.schema, by)
    np.testing.assert_array_equal(arm.labels.to_numpy(), whole[rows].to_numpy())
    assert len(arm.labels) == int(rows.sum())


def test_an_arms_own_segments_come_from_its_predictions(trained):
    from impactiq.decisions.channel_segments import arm_segmentation

    arm = arm_segmentation(trained.holdout, ARMS, "email", trained.schema, "uplift:4")
    assert len(set(arm.labels)) == 4


def test_the_experiments_mix_is_each_channels_share_of_the_treated():
    from impactiq.decisions.channel_segments import experiment_mix

    assert experiment_mix(("a", "b"), (0.5, 0.3, 0.2)) == pytest.approx({"a": 0.6, "b": 0.4})
