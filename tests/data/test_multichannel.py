"""The synthetic multi-channel generator: reproducible draws, a randomized design, a known truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from impactiq.data.multichannel import (
    CONTROL,
    DEVICES,
    FEATURES,
    MAX_ENGAGEMENT,
    OUTCOME,
    SEGMENTS,
    TIMES_OF_DAY,
    TREATMENT,
    behaviour_segment,
    conversion_probabilities,
    make_multichannel,
    truth_column,
)
from impactiq.errors import ImpactIQError

ROWS = 300_000
CHANNELS = ("email", "social", "display")
TRUTH = [truth_column(OUTCOME, c) for c in CHANNELS]


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return make_multichannel(ROWS, seed=0)


@pytest.fixture(scope="module")
def segment(frame) -> pd.Series:
    return behaviour_segment(frame)


@pytest.fixture(scope="module")
def mean_truth(frame, segment) -> pd.DataFrame:
    """Mean true effect per segment (rows) and channel (columns)."""
    return frame[TRUTH].groupby(segment).mean().rename(columns=dict(zip(TRUTH, CHANNELS, strict=True)))


def test_columns_and_dtypes(frame):
    assert list(frame.columns) == [*FEATURES, TREATMENT, OUTCOME, *TRUTH]
    assert TRUTH == ["tau_conversion_email", "tau_conversion_social", "tau_conversion_display"]
    assert len(frame) == ROWS
    for column in ("device", "time_of_day", TREATMENT):
        assert pd.api.types.is_string_dtype(frame[column])
    for column in ("engagement", "loyal", OUTCOME):
        assert pd.api.types.is_integer_dtype(frame[column])
    for column in ("intent", *TRUTH):
        assert frame[column].dtype == np.float64


def test_value_ranges(frame):
    assert set(frame["device"].unique()) == set(DEVICES)
    assert set(frame["time_of_day"].unique()) == set(TIMES_OF_DAY)
    assert set(frame[TREATMENT].unique()) == {CONTROL, *CHANNELS}
    assert frame["intent"].between(0, 1).all()
    assert frame["engagement"].between(1, MAX_ENGAGEMENT).all()
    assert set(frame["engagement"]) == set(range(1, MAX_ENGAGEMENT + 1))
    assert set(frame["loyal"]) == {0, 1}
    assert set(frame[OUTCOME]) == {0, 1}
    assert frame[TRUTH].abs().max().max() < 0.05


def test_marketing_sized_rates(frame):
    """A few percent convert without contact; no channel moves anyone by more than 5 pp."""
    p = conversion_probabilities(frame)
    assert 0.03 < p[CONTROL].mean() < 0.07
    assert 0.10 < p.loc[frame["loyal"] == 1, CONTROL].mean() < 0.20
    # Clipping to [0, 1] never binds, so the truth is the documented additive effect.
    assert p.min().min() > 0.001
    assert p.max().max() < 0.5


def test_same_seed_same_table_other_seed_other_table():
    first = make_multichannel(2_000, seed=7)
    pd.testing.assert_frame_equal(first, make_multichannel(2_000, seed=7))
    assert not first.equals(make_multichannel(2_000, seed=8))


def test_users_and_truth_do_not_depend_on_the_arms():
    """The seed fixes the users; channel names and shares only change who gets what. The first
    three channels play e-mail, social and display whatever they are called."""
    default = make_multichannel(5_000, seed=3)
    renamed = make_multichannel(5_000, seed=3, channels=("sms", "push", "tv"), control_share=0.6)
    pd.testing.assert_frame_equal(default[list(FEATURES)], renamed[list(FEATURES)])
    for old, new in zip(CHANNELS, ("sms", "push", "tv"), strict=True):
        np.testing.assert_array_equal(
            default[truth_column(OUTCOME, old)], renamed[truth_column(OUTCOME, new)]
        )
    assert set(renamed[TREATMENT]) == {CONTROL, "sms", "push", "tv"}


@pytest.mark.parametrize(
    ("channels", "control_share"),
    [(CHANNELS, 0.25), (CHANNELS, 0.5), (("email",), 0.1), (("a", "b", "c", "d", "e", "f"), 0.4)],
)
def test_arm_shares_follow_the_design(channels, control_share):
    rows = 100_000
    arms = make_multichannel(rows, seed=1, channels=channels, control_share=control_share)[TREATMENT]
    expected = {CONTROL: control_share} | {c: (1 - control_share) / len(channels) for c in channels}
    shares = arms.value_counts(normalize=True)
    assert set(shares.index) == set(expected)
    for arm, share in expected.items():
        assert shares[arm] == pytest.approx(share, abs=4 * np.sqrt(share * (1 - share) / rows))


@pytest.mark.parametrize(
    ("feature", "value"),
    [
        ("device", "desktop"),
        ("device", "mobile"),
        ("device", "tablet"),
        ("time_of_day", "night"),
        ("loyal", 1),
    ],
)
def test_treatment_is_independent_of_the_features(frame, feature, value):
    """Each arm holds the population's mix of users (within 4 binomial standard errors)."""
    overall = (frame[feature] == value).mean()
    for arm, rows in frame.groupby(TREATMENT):
        share = (rows[feature] == value).mean()
        assert share == pytest.approx(overall, abs=4 * np.sqrt(overall * (1 - overall) / len(rows))), arm


def test_treatment_is_independent_of_numeric_features(frame):
    for column in ("intent", "engagement"):
        se = frame[column].std() / np.sqrt(ROWS / 4)
        for arm, rows in frame.groupby(TREATMENT):
            assert rows[column].mean() == pytest.approx(frame[column].mean(), abs=4 * se), (column, arm)


def test_truth_is_the_difference_of_generating_probabilities(frame):
    p = conversion_probabilities(frame)
    assert list(p.columns) == [CONTROL, *CHANNELS]
    for channel in CHANNELS:
        np.testing.assert_allclose(
            frame[truth_column(OUTCOME, channel)], p[channel] - p[CONTROL], rtol=0, atol=1e-15
        )


def test_outcomes_are_drawn_from_the_assigned_arm(frame):
    """Observed conversion per arm matches the mean generating probability of that arm."""
    p = conversion_probabilities(frame)
    for arm, rows in frame.groupby(TREATMENT):
        expected = p.loc[rows.index, arm]
        se = np.sqrt(expected.mean() * (1 - expected.mean()) / len(rows))
        assert rows[OUTCOME].mean() == pytest.approx(expected.mean(), abs=4 * se), arm


@pytest.mark.parametrize("segment_name", SEGMENTS)
@pytest.mark.parametrize("channel", CHANNELS)
def test_observed_difference_matches_the_truth_per_segment(frame, segment, segment_name, channel):
    """Within a segment, the difference in observed conversion between a channel and no contact
    lies within 4 standard errors of the segment's mean true effect."""
    rows = frame[segment == segment_name]
    treated = rows.loc[rows[TREATMENT] == channel, OUTCOME]
    control = rows.loc[rows[TREATMENT] == CONTROL, OUTCOME]
    difference = treated.mean() - control.mean()
    se = np.sqrt(treated.var() / len(treated) + control.var() / len(control))
    assert abs(difference - rows[truth_column(OUTCOME, channel)].mean()) < 4 * se


def test_segments_follow_the_documented_rule():
    frame = pd.DataFrame(
        {
            "device": ["desktop", "desktop", "mobile", "mobile", "tablet", "desktop", "mobile"],
            "intent": [0.5, 0.49, 0.29, 0.3, 0.9, 0.9, 0.1],
            "loyal": [0, 0, 0, 0, 0, 1, 1],
        },
        index=[10, 11, 12, 13, 14, 15, 16],
    )
    segment = behaviour_segment(frame)
    assert segment.name == "segment"
    assert list(segment.index) == list(frame.index)
    assert list(segment) == [
        "high-intent desktop",
        "other",
        "low-intent mobile",
        "other",
        "other",
        "loyal customer",
        "loyal customer",
    ]


def test_segment_shares(segment):
    shares = segment.value_counts(normalize=True)
    assert shares["high-intent desktop"] == pytest.approx(0.106, abs=0.01)
    assert shares["low-intent mobile"] == pytest.approx(0.149, abs=0.01)
    assert shares["loyal customer"] == pytest.approx(0.15, abs=0.01)


def test_high_intent_desktop_users_answer_email(mean_truth):
    row = mean_truth.loc["high-intent desktop"]
    assert row.idxmax() == "email"
    assert row["email"] > 0.02
    assert row["email"] > 2 * row.drop("email").max()


def test_low_intent_mobile_users_answer_social(mean_truth):
    row = mean_truth.loc["low-intent mobile"]
    assert row.idxmax() == "social"
    assert row["social"] > 0.02
    assert row["social"] > 2 * row.drop("social").max()


def test_loyal_customers_buy_anyway_and_display_hurts_them(frame, segment, mean_truth):
    row = mean_truth.loc["loyal customer"]
    assert abs(row["email"]) < 0.002
    assert abs(row["social"]) < 0.002
    assert row["display"] < -0.008
    loyal = frame[segment == "loyal customer"]
    assert (loyal[truth_column(OUTCOME, "display")] < 0).all()
    baseline = conversion_probabilities(frame)[CONTROL]
    assert baseline[loyal.index].mean() > 3 * baseline[segment == "other"].mean()


def test_display_hurts_nobody_else(frame, segment):
    assert (frame.loc[segment != "loyal customer", TRUTH] > 0).all().all()


def test_time_of_day_and_engagement_modulate_mildly(frame, segment):
    rows = frame[segment == "high-intent desktop"]
    email = rows[truth_column(OUTCOME, "email")]
    by_time = email.groupby(rows["time_of_day"]).mean()
    assert by_time["morning"] > by_time["afternoon"] > by_time["evening"] > by_time["night"]
    assert by_time["night"] > 0.5 * by_time["morning"]
    deep = email[rows["time_of_day"].eq("afternoon") & rows["engagement"].ge(10)].mean()
    shallow = email[rows["time_of_day"].eq("afternoon") & rows["engagement"].le(3)].mean()
    assert 1.0 < deep / shallow < 1.4
    social = frame.loc[segment == "low-intent mobile", truth_column(OUTCOME, "social")]
    social_by_time = social.groupby(frame["time_of_day"]).mean()
    assert social_by_time["night"] > social_by_time["morning"]


def test_extra_channels_have_a_uniform_effect():
    channels = ("email", "social", "display", "sms", "push", "tv")
    frame = make_multichannel(20_000, seed=2, channels=channels)
    loyal = frame["loyal"] == 1
    for channel, effect in [("sms", 0.006), ("push", 0.005), ("tv", 0.004)]:
        tau = frame[truth_column(OUTCOME, channel)]
        np.testing.assert_allclose(tau[~loyal], effect, rtol=0, atol=1e-12)
        np.testing.assert_allclose(tau[loyal], 0.0, rtol=0, atol=1e-12)
    default = make_multichannel(20_000, seed=2)
    pd.testing.assert_frame_equal(frame[TRUTH], default[TRUTH])


def test_a_single_channel_is_email():
    frame = make_multichannel(5_000, seed=4, channels=("newsletter",))
    assert list(frame.columns) == [*FEATURES, TREATMENT, OUTCOME, truth_column(OUTCOME, "newsletter")]
    np.testing.assert_array_equal(
        frame[truth_column(OUTCOME, "newsletter")],
        make_multichannel(5_000, seed=4)[truth_column(OUTCOME, "email")],
    )


def test_truth_column_name():
    assert truth_column("conversion", "paid_search") == "tau_conversion_paid_search"


@pytest.mark.parametrize("n_rows", [0, -5, 2.5, "100", True])
def test_rejects_bad_row_counts(n_rows):
    with pytest.raises(ImpactIQError, match="n_rows"):
        make_multichannel(n_rows)


@pytest.mark.parametrize(
    ("channels", "message"),
    [
        ((), "1 to 6"),
        (tuple("abcdefg"), "1 to 6"),
        ("email", "tuple of channel names"),
        (("email", "email"), "distinct"),
        (("email", "none"), "control arm"),
        (("NONE",), "control arm"),
        (("e-mail",), "letters, digits"),
        (("",), "letters, digits"),
        (("email", 3), "letters, digits"),
        (("café",), "letters, digits"),
    ],
)
def test_rejects_bad_channels(channels, message):
    with pytest.raises(ImpactIQError, match=message):
        make_multichannel(10, channels=channels)


@pytest.mark.parametrize("control_share", [0, 1, 0.0, 1.0, -0.1, 1.5, float("nan"), True, "0.25", None])
def test_rejects_bad_control_shares(control_share):
    with pytest.raises(ImpactIQError, match="control_share"):
        make_multichannel(10, control_share=control_share)


def test_accepts_channel_names_with_digits_and_underscores():
    frame = make_multichannel(100, channels=("paid_search", "TV2"))
    assert truth_column(OUTCOME, "paid_search") in frame.columns
    assert truth_column(OUTCOME, "TV2") in frame.columns


def test_segment_names_missing_columns():
    with pytest.raises(ImpactIQError, match="intent"):
        behaviour_segment(make_multichannel(10).drop(columns="intent"))


def test_probabilities_refuse_unknown_categories():
    frame = make_multichannel(10).assign(device="smart tv")
    with pytest.raises(ImpactIQError, match="smart tv"):
        conversion_probabilities(frame)
