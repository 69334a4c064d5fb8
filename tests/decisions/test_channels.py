"""Which channel for whom: recommendations with their margin, and policies valued on the holdout."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from impactiq.data.demo import load_demo
from impactiq.data.multichannel import conversion_probabilities
from impactiq.decisions.channels import BEST, NOBODY, policy_values, recommend_arms
from impactiq.errors import ImpactIQError
from impactiq.evaluation.training import train_model

ARMS = ("email", "social", "display")
COSTS = {"email": 0.02, "social": 0.05, "display": 0.03}


@pytest.fixture(scope="module")
def experiment():
    return load_demo("multichannel", n_rows=60_000, seed=7)


@pytest.fixture(scope="module")
def trained(experiment):
    return train_model(
        experiment, outcome="conversion", n_boot=20, test_size=0.5, params={"n_estimators": 80}
    )


@pytest.fixture(scope="module")
def shares(trained):
    arm_shares = [trained.data["arm_shares"][a] for a in ARMS]
    return (1.0 - sum(arm_shares), *arm_shares)


def test_the_recommendation_is_the_most_profitable_choice(trained, experiment):
    profiles = experiment.frame.head(500)
    table = recommend_arms(trained, profiles, costs=COSTS, value=10.0)
    profit = table[[f"profit_{a}" for a in ARMS]].to_numpy()
    expected = np.where(profit.max(axis=1) > 0, np.array(ARMS, dtype=object)[profit.argmax(axis=1)], "none")
    np.testing.assert_array_equal(table["recommended"], expected)
    uplift = trained.effect_by_arm(profiles)
    np.testing.assert_allclose(profit, 10.0 * uplift - np.array([0.02, 0.05, 0.03]))
    np.testing.assert_array_equal(table["clear"], table["margin_lower"] > 0)
    assert (table["margin"] >= 0).all()


def test_the_margin_over_the_runner_up_comes_from_one_comparison(trained, experiment):
    profiles = experiment.frame.head(300)
    table = recommend_arms(trained, profiles, costs=COSTS, value=10.0)
    row = table[(table["recommended"] != "none") & (table["runner_up"] != "none")].iloc[0]
    best, runner = ARMS.index(row["recommended"]) + 1, ARMS.index(row["runner_up"]) + 1
    single = profiles.loc[[row.name]]
    difference, low, high = trained.compare_arms(single, best, runner)
    shift = COSTS[row["recommended"]] - COSTS[row["runner_up"]]
    assert row["margin"] == pytest.approx(10.0 * difference[0] - shift)
    assert (row["margin_lower"], row["margin_upper"]) == pytest.approx(
        (10.0 * low[0] - shift, 10.0 * high[0] - shift)
    )


def test_nobody_is_contacted_when_no_channel_pays(trained, experiment):
    table = recommend_arms(trained, experiment.frame.head(50), costs=dict.fromkeys(ARMS, 5.0), value=10.0)
    assert (table["recommended"] == "none").all()


def test_policy_values_cover_the_truth_of_every_fixed_policy(trained, shares):
    """On synthetic data each policy's true average conversion is known: the DR intervals hold it."""
    holdout = trained.holdout
    table = policy_values(holdout, ARMS, shares, costs=COSTS, value=10.0).set_index("policy")
    truth = conversion_probabilities(holdout[["loyal", "device", "intent", "engagement", "time_of_day"]])
    for policy, column in [(NOBODY, "none"), *((f"everyone: {a}", a) for a in ARMS)]:
        row = table.loc[policy]
        assert row["outcome_lower"] <= truth[column].mean() <= row["outcome_upper"], policy
    assert table.loc[NOBODY, "gain"] == 0 and table.loc[NOBODY, "contacted"] == 0
    assert 0 < table.loc[BEST, "contacted"] <= 1
    # The edge is paired against the single channel with the highest estimated net value.
    singles = table.loc[[f"everyone: {a}" for a in ARMS], "net_value"]
    top = singles.idxmax()
    assert table.loc[top, "edge"] == 0 and table.loc[top, "edge_lower"] == 0
    np.testing.assert_allclose(table["edge"], table["net_value"] - singles.max(), atol=1e-12)
    assert (
        table["edge_upper"] - table["edge_lower"] < table["net_value_upper"] - table["net_value_lower"]
    ).loc[BEST]


def test_the_doubly_robust_score_by_hand():
    """Two rows, two arms: Gamma = mu + 1[A = choice](y - mu) / e for the policy's choice."""
    holdout = pd.DataFrame(
        {
            "y": [1.0, 0.0],
            "arm": [1, 0],
            "y0_pred": [0.2, 0.1],
            "uplift_a": [0.1, 0.3],
            "y_pred_a": [0.3, 0.4],
        }
    )
    table = policy_values(holdout, ("a",), (0.5, 0.5), costs={"a": 0.1}, value=1.0).set_index("policy")
    # everyone a: row 1 got a (0.3 + (1 - 0.3)/0.5 = 1.7), row 2 did not (0.4): mean 1.05
    assert table.loc["everyone: a", "outcome"] == pytest.approx(1.05)
    # nobody: row 1 did not get control (0.2), row 2 did (0.1 + (0 - 0.1)/0.5 = -0.1): mean 0.05
    assert table.loc[NOBODY, "outcome"] == pytest.approx(0.05)
    assert table.loc["everyone: a", "net_value"] == pytest.approx(1.05 - 0.1)


def test_costs_must_cover_every_channel(trained, experiment, shares):
    with pytest.raises(ImpactIQError, match="missing: 'display'"):
        recommend_arms(trained, experiment.frame.head(5), costs={"email": 0.1, "social": 0.1}, value=10.0)
    with pytest.raises(ImpactIQError, match="cost"):
        policy_values(trained.holdout, ARMS, shares, costs=dict.fromkeys(ARMS, 0.0), value=10.0)
