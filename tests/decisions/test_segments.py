"""Tests of impactiq.decisions.segments: the per-segment table, its estimates, flags and ROI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from impactiq.decisions import segmentation, segments
from impactiq.errors import ImpactIQError
from tests.support import CHANNEL_EFFECT, SEGMENT_SCHEMA, scored_by_channel

Z = norm.ppf(0.975)


@pytest.fixture(scope="module")
def scored() -> pd.DataFrame:
    return scored_by_channel()


def _direct(frame: pd.DataFrame, member: np.ndarray) -> dict:
    y, t = frame["y"].to_numpy()[member], frame["t"].to_numpy()[member]
    treated, control = y[t == 1], y[t == 0]
    se = np.sqrt(treated.var(ddof=1) / treated.size + control.var(ddof=1) / control.size)
    return {"diff": treated.mean() - control.mean(), "se": se, "credited": treated.sum(), "n_t": treated.size}


@pytest.mark.parametrize("by", ["channel", "newbie", "uplift:4", "kmeans:3", "persuadability"])
def test_observed_uplift_is_the_difference_in_means_of_each_segment(scored, by):
    split = segmentation.assign_segments(scored, SEGMENT_SCHEMA, by)
    table = segments.segment_table(scored, split.labels)
    assert table["users"].sum() == len(scored)
    for _, row in table.iterrows():
        direct = _direct(scored, (split.labels == row["segment"]).to_numpy())
        assert row["observed_uplift"] == pytest.approx(direct["diff"], abs=1e-12)
        assert row["observed_uplift_lower"] == pytest.approx(direct["diff"] - Z * direct["se"], abs=1e-12)
        assert row["observed_uplift_upper"] == pytest.approx(direct["diff"] + Z * direct["se"], abs=1e-12)
        assert row["credited"] == pytest.approx(direct["credited"])
        assert row["incremental"] == pytest.approx(direct["diff"] * direct["n_t"])


@pytest.mark.parametrize("amount", [False, True])
def test_incremental_plus_waste_equals_credited(amount):
    frame = scored_by_channel(seed=1, amount=amount)
    table = segments.segment_table(frame, frame["channel"])
    np.testing.assert_allclose(table["incremental"] + table["waste"], table["credited"], rtol=1e-12)
    np.testing.assert_allclose(table["waste_share"], table["waste"] / table["credited"], rtol=1e-12)
    # Waste is what the treated would have done anyway: control mean x treated users.
    np.testing.assert_allclose(table["waste"], table["control_mean"] * table["treated"], rtol=1e-9)
    # So its standard error is the control mean's alone (seen: the treated arm's noise added in),
    # and its share of the credit, m0 / m1, has the delta method's standard error (seen: the
    # waste's bounds divided by the credit, as if the credit were exact).
    np.testing.assert_allclose(table["waste_se"], table["control_mean_se"] * table["treated"], rtol=1e-12)
    m0, m1 = table["control_mean"], table["treated_mean"]
    share_se = np.sqrt((table["control_mean_se"] / m1) ** 2 + (m0 * table["treated_mean_se"] / m1**2) ** 2)
    np.testing.assert_allclose(table["waste_share_se"], share_se, rtol=1e-12)
    np.testing.assert_allclose(table["waste_share_upper"] - table["waste_share"], Z * share_se, rtol=1e-9)


def test_channels_recover_their_planted_effects(scored):
    table = segments.segment_table(scored, scored["channel"]).set_index("segment")
    for channel, effect in CHANNEL_EFFECT.items():
        row = table.loc[channel]
        # Within 3.5 standard errors: six 95% intervals miss somewhere by chance one time in four.
        assert abs(row["observed_uplift"] - effect) < 3.5 * row["observed_uplift_se"]
        assert abs(row["dr_uplift"] - effect) < 3.5 * (row["dr_uplift_upper"] - row["dr_uplift"]) / Z


def test_doubly_robust_segment_effect_is_the_mean_aipw_score(scored):
    table = segments.segment_table(scored, scored["channel"]).set_index("segment")
    y, t = scored["y"].to_numpy(), scored["t"].to_numpy()
    e = t.mean()
    y0, y1 = scored["y0_pred"].to_numpy(), scored["y1_pred"].to_numpy()
    gamma = y1 - y0 + t * (y - y1) / e - (1 - t) * (y - y0) / (1 - e)
    web = (scored["channel"] == "web").to_numpy()
    assert table.loc["web", "dr_uplift"] == pytest.approx(gamma[web].mean(), abs=1e-12)
    half = Z * gamma[web].std(ddof=1) / np.sqrt(web.sum())
    assert table.loc["web", "dr_uplift_upper"] - table.loc["web", "dr_uplift"] == pytest.approx(
        half, abs=1e-12
    )


def test_predicted_uplift_is_the_mean_prediction_with_a_normal_interval(scored):
    table = segments.segment_table(scored, scored["channel"]).set_index("segment")
    uplift = scored.loc[scored["channel"] == "phone", "uplift"]
    assert table.loc["phone", "predicted_uplift"] == pytest.approx(uplift.mean())
    half = Z * uplift.std(ddof=1) / np.sqrt(len(uplift))
    assert table.loc["phone", "predicted_uplift_upper"] == pytest.approx(uplift.mean() + half)


@pytest.mark.parametrize(("cost", "value"), [(0.5, 10.0), (2.0, 3.0)])
def test_roi_follows_its_definitions(scored, cost, value):
    table = segments.segment_table(scored, scored["channel"], cost=cost, value=value)
    spend = cost * table["treated"]
    np.testing.assert_allclose(table["traditional_roi"], (table["credited"] * value - spend) / spend)
    np.testing.assert_allclose(table["causal_roi"], (table["incremental"] * value - spend) / spend)
    np.testing.assert_allclose(
        table["causal_roi_lower"], (table["incremental_lower"] * value - spend) / spend
    )
    assert (table["traditional_roi"] > table["causal_roi"]).all()


def test_a_model_that_misses_a_segment_is_flagged(scored):
    wrong = scored.copy()
    store = (wrong["channel"] == "store").to_numpy()
    wrong.loc[store, "uplift"] = 0.15  # the truth there is -0.05
    table = segments.segment_table(wrong, wrong["channel"]).set_index("segment")
    assert table.loc["store", "disagrees"]
    assert table.loc["store", "disagreement_p"] < 1e-6
    assert not table.loc["web", "disagrees"]
    assert not table.loc["phone", "disagrees"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"cost": 0.0, "value": 1.0}, "cost per contact"),
        ({"cost": 1.0, "value": -1.0}, "value"),
        ({"cost": 1.0}, "both"),
    ],
)
def test_bad_economics_are_refused(scored, kwargs, match):
    with pytest.raises(ImpactIQError, match=match):
        segments.segment_table(scored, scored["channel"], **kwargs)


def test_the_roi_multiplier_is_causal_over_traditional_roi_with_a_delta_method_interval(scored):
    cost, value = 0.1, 10.0
    table = segments.segment_table(scored, scored["channel"], cost=cost, value=value).set_index("segment")
    row = table.loc["web"]
    np.testing.assert_allclose(row["roi_multiplier"], row["causal_roi"] / row["traditional_roi"], rtol=1e-12)

    # The delta method by numerical differentiation of g(m1, m0) at the segment's means.
    m1, m0 = row["treated_mean"], row["control_mean"]
    se1 = row["treated_mean_se"]
    se0 = np.sqrt(row["observed_uplift_se"] ** 2 - se1**2)

    def g(a: float, b: float) -> float:
        return (value * (a - b) - cost) / (value * a - cost)

    h = 1e-7
    d1, d0 = (g(m1 + h, m0) - g(m1 - h, m0)) / (2 * h), (g(m1, m0 + h) - g(m1, m0 - h)) / (2 * h)
    se = np.hypot(d1 * se1, d0 * se0)
    assert row["roi_multiplier_upper"] - row["roi_multiplier"] == pytest.approx(
        norm.ppf(0.975) * se, rel=1e-5
    )
