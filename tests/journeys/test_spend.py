"""Spend per channel, and each model's credit held against it: ROI, ROAS, cost per conversion."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from impactiq.errors import ImpactIQError
from impactiq.journeys.spend import channel_roi, group_roi, spend_by_channel, spend_from_table, spend_table

SPEND = pd.DataFrame(
    {
        "channel": ["fb", "ig", "google", "fb", "google", "tv"],
        "spend": [100.0, 30.0, 200.0, 50.0, 70.0, 500.0],
        "date": ["2024-01-01", "2024-01-10", "2024-01-31 13:00", "2024-02-01", "2023-12-31", "2024-01-15"],
    }
)
CHANNEL_MAP = pd.DataFrame(
    {
        "source": ["fb", "ig", "google"],
        "channel": ["meta", "meta", "search"],
        "group": ["social"] * 2 + ["paid"],
    }
)
# Two models credit three conversions worth 300 to meta, search and email; Shapley's are sampled.
CREDIT = pd.DataFrame(
    {
        "model": ["last", "last", "last", "shapley", "shapley", "shapley"],
        "channel": ["meta", "search", "email", "meta", "search", "email"],
        "conversions": [2.0, 0.0, 1.0, 1.5, 1.0, 0.5],
        "conversions_se": [0.0, 0.0, 0.0, 0.1, 0.2, 0.1],
        "revenue": [260.0, 0.0, 40.0, 180.0, 90.0, 30.0],
        "revenue_se": [0.0, 0.0, 0.0, 13.0, 20.0, 5.0],
    }
)
SPENT = pd.Series({"meta": 130.0, "search": 200.0, "tv": 500.0})


def _row(table, model, channel):
    return table.set_index(["model", "channel"]).loc[(model, channel)]


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        # January, the whole of its last day included: fb 100 + ig 30, google's 31 January at 13:00.
        ("2024-01-01", "2024-01-31", {"meta": 130.0, "search": 200.0, "tv": 500.0}),
        (None, "2024-01-09", {"meta": 100.0, "search": 70.0}),
        ("2024-01-31 12:00", None, {"meta": 50.0, "search": 200.0}),
        (None, None, {"meta": 180.0, "search": 270.0, "tv": 500.0}),
    ],
)
def test_spend_is_totalled_per_mapped_channel_within_the_period(start, end, expected):
    spend = spend_by_channel(SPEND, date="date", start=start, end=end, channel_map=CHANNEL_MAP)
    assert spend.to_dict() == expected
    assert spend.name == "spend" and spend.index.name == "channel"


def test_without_a_map_the_spend_tables_names_are_the_channels():
    assert spend_by_channel(SPEND).to_dict() == {"fb": 150.0, "google": 270.0, "ig": 30.0, "tv": 500.0}


@pytest.mark.parametrize(
    ("changes", "arguments", "message"),
    [
        (
            {"spend": [100, -5, 200, 50, 70, -1]},
            {},
            r"2 spend amount\(s\).*negative: row 2 \(-5\), row 6 \(-1\)",
        ),
        (
            {"spend": [100, 30, "$200", 50, 70, 500]},
            {},
            r"'spend' of 'ads.csv'.*not numbers: row 3 \('\$200'\)",
        ),
        (
            {"channel": ["fb", None, "google", "fb", "google", "tv"]},
            {},
            r"no channel in column 'channel' \(rows 2\)",
        ),
        ({}, {"amount": "cost"}, r"'ads.csv' has no column 'cost'\. Its columns: channel, spend, date"),
        ({}, {"start": "2024-01-01"}, "no date column"),
        ({}, {"date": "date", "start": "2024-02-01", "end": "2024-01-01"}, "starts .* after it ends"),
        ({}, {"date": "date", "end": "soon"}, "end 'soon' is not a date"),
    ],
)
def test_bad_spend_is_refused_with_the_rows_and_the_fix(changes, arguments, message):
    with pytest.raises(ImpactIQError, match=message):
        spend_by_channel(SPEND.assign(**changes), name="ads.csv", **arguments)


def test_roi_roas_and_cost_per_conversion_by_hand():
    roi = channel_roi(CREDIT, SPENT)
    meta = _row(roi, "last", "meta")
    assert meta["spend"] == 130.0 and meta["revenue"] == 260.0
    assert meta["roi"] == pytest.approx((260 - 130) / 130)
    assert meta["roas"] == pytest.approx(2.0)
    assert meta["cost_per_conversion"] == pytest.approx(65.0)
    assert meta["note"] == ""
    search = _row(roi, "shapley", "search")
    assert search["roi"] == pytest.approx(-0.55) and search["roas"] == pytest.approx(0.45)
    assert search["cost_per_conversion"] == pytest.approx(200.0)


def test_standard_errors_scale_with_spend():
    meta = _row(channel_roi(CREDIT, SPENT), "shapley", "meta")
    assert meta["roas_se"] == pytest.approx(13 / 130) == meta["roi_se"]
    # Delta method: d(spend / c) = spend / c^2 * se(c).
    assert meta["cost_per_conversion_se"] == pytest.approx(130 / 1.5**2 * 0.1)


@pytest.mark.parametrize(
    "spend", [SPENT, pd.concat([SPENT, pd.Series({"email": 0.0})])], ids=["absent", "zero"]
)
def test_a_channel_without_spend_has_no_ratios_and_says_why(spend):
    email = _row(channel_roi(CREDIT, spend), "last", "email")
    assert email["spend"] == 0.0 and email["revenue"] == 40.0
    assert np.isnan([email["roi"], email["roas"], email["cost_per_conversion"], email["roi_se"]]).all()
    assert email["note"] == "no spend recorded for this channel"


def test_a_channel_with_spend_but_no_credit_is_kept_with_zero_credit():
    roi = channel_roi(CREDIT, SPENT)
    assert roi[roi["channel"] == "tv"]["model"].tolist() == ["last", "shapley"]
    tv = _row(roi, "last", "tv")
    assert (tv["conversions"], tv["revenue"], tv["roi"], tv["roas"]) == (0.0, 0.0, -1.0, 0.0)
    assert np.isnan(tv["cost_per_conversion"])
    assert "no conversion's path has this channel" in tv["note"]
    # Each model's rows stay together, its spend-only channels last.
    assert roi["channel"].tolist() == ["meta", "search", "email", "tv"] * 2


def test_a_channel_credited_no_conversions_has_no_cost_per_conversion():
    search = _row(channel_roi(CREDIT, SPENT), "last", "search")
    assert search["roi"] == -1.0 and np.isnan(search["cost_per_conversion"])
    assert search["note"] == "no conversions credited, so no cost per conversion"


def test_return_by_channel_group_is_the_ratio_of_the_sums():
    groups = pd.Series({"meta": "paid", "search": "paid", "tv": "offline"})
    roi = channel_roi(CREDIT, SPENT, groups)
    assert roi["group"].tolist()[:4] == ["paid", "paid", "email", "offline"]
    by_group = group_roi(CREDIT, SPENT, groups).set_index(["model", "group"])
    paid = by_group.loc[("shapley", "paid")]
    assert paid["spend"] == 330.0 and paid["revenue"] == 270.0
    assert paid["roi"] == pytest.approx((270 - 330) / 330)
    assert paid["roas"] == pytest.approx(270 / 330)
    assert paid["cost_per_conversion"] == pytest.approx(330 / 2.5)
    # Summed standard errors: a bound, as the channels' covariance is not kept.
    assert paid["revenue_se"] == pytest.approx(33.0)
    assert by_group.loc[("last", "email"), "note"] == "no spend recorded for this group"
    assert by_group.loc[("last", "offline"), "roi"] == -1.0


@pytest.mark.parametrize(
    ("spend", "groups", "message"),
    [
        (pd.Series({"meta": -1.0}), None, r"1 channel\(s\) is negative: meta \(-1\)"),
        (pd.Series({"meta": "lots"}), None, r"not a number: meta \('lots'\)"),
        (pd.Series([1.0, 2.0], index=["meta", "meta"]), None, "'meta' more than once"),
        (SPENT, pd.Series(["a", "b"], index=["meta", "meta"]), "'meta' in more than one group"),
    ],
)
def test_bad_spend_or_groups_are_refused(spend, groups, message):
    with pytest.raises(ImpactIQError, match=message):
        channel_roi(CREDIT, spend, groups)


def test_a_credit_table_without_its_columns_is_refused():
    with pytest.raises(ImpactIQError, match="no column 'revenue'.*Attribution.credit"):
        channel_roi(CREDIT.drop(columns="revenue"), SPENT)


def test_the_spend_kept_as_a_table_reads_back_the_same():
    spend = spend_by_channel(SPEND, channel_map=CHANNEL_MAP)
    table = spend_table(spend)
    assert list(table.columns) == ["channel", "spend"]
    pd.testing.assert_series_equal(spend_from_table(table), spend, check_names=False)
