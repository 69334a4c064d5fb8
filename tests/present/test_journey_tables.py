"""Journey tables: model names spelled out, intervals where a number has a sampling error."""

from __future__ import annotations

import pandas as pd

from impactiq.journeys.check import CausalCheck
from impactiq.present import charts
from impactiq.present.journey_tables import (
    check_table,
    closest_model_sentence,
    credit_shares,
    credit_table,
    error_table,
    identity_sentences,
    lift_table,
    paths_table,
)

CREDIT = pd.DataFrame(
    {
        "model": ["first", "first", "shapley", "shapley"],
        "channel": ["email", "search", "email", "search"],
        "conversions": [3.0, 1.0, 2.5, 1.5],
        "conversions_se": [0.0, 0.0, 0.1, 0.0],
        "revenue": [30.0, 10.0, 25.0, 15.0],
        "revenue_se": [0.0, 0.0, 1.0, 0.0],
    }
)


def test_credit_table_names_models_and_shows_sampling_error():
    table = credit_table(CREDIT)
    assert list(table.columns) == ["channel", "first touch", "Shapley"]
    assert table.loc[0, "first touch"] == "3.0"
    assert table.loc[0, "Shapley"] == "2.5 [2.3, 2.7]"
    assert credit_table(CREDIT, measure="revenue").loc[1, "Shapley"] == "15.00"


def test_shares_per_model_sum_to_one():
    shares = credit_shares(CREDIT)
    assert shares.groupby("model")["share"].sum().tolist() == [1.0, 1.0]
    assert "xOffset" in charts.credit_share_chart(shares).to_dict()["encoding"]


def test_lift_check_and_error_tables_read_in_units():
    lift = pd.DataFrame(
        {
            "channel": ["paid_search"],
            "eligible": [100],
            "exposed": [85],
            "held_out": [15],
            "rate_exposed": [0.12],
            "rate_held_out": [0.1],
            "lift": [0.02],
            "lift_lower": [-0.01],
            "lift_upper": [0.05],
            "incremental": [1.7],
            "incremental_lower": [-0.85],
            "incremental_upper": [4.25],
        }
    )
    shown = lift_table(lift)
    # A table shows its cells as written: no markdown escapes in a channel's name.
    assert shown.loc[0, "channel"] == "paid_search"
    assert shown.loc[0, "lift [95% CI]"] == "+2.00 pp [-1.00 pp, +5.00 pp]"
    assert shown.loc[0, "converted, exposed"] == "12.00%"
    check = pd.DataFrame(
        {
            "channel": ["email"],
            "first": [3.0],
            "incremental": [1.7],
            "incremental_lower": [-0.85],
            "incremental_upper": [4.25],
        }
    )
    assert list(check_table(check, ["first"]).columns) == [
        "channel",
        "first touch credit",
        "incremental, measured [95% CI]",
    ]
    errors = pd.DataFrame(
        {
            "model": ["last"],
            "misallocated": [0.4],
            "worst_channel": ["search"],
            "worst_credit_share": [0.5],
            "worst_incremental_share": [0.05],
        }
    )
    assert error_table(errors, against="truth").iloc[0].tolist() == [
        "last touch",
        "40.0%",
        "search",
        "50.0%",
        "5.0%",
    ]


def test_the_closest_model_and_the_paths_read_in_words():
    errors = pd.DataFrame({"model": ["last", "shapley"], "misallocated": [0.42, 0.18]})
    check = CausalCheck(pd.DataFrame(), pd.DataFrame(), ["last", "shapley"], "truth", errors, pd.DataFrame())
    assert closest_model_sentence(check).startswith(
        "Closest to the truth: Shapley, with 18.0% of its credit on the wrong channels."
    )
    paths = paths_table(pd.DataFrame({"path": ["email > search"], "share": [0.25], "revenue": [1234.5]}))
    assert paths.loc[0, "share"] == "25.0%" and paths.loc[0, "path"] == "email > search"


def test_identity_lines_are_plain_text_as_written():
    """The page shows these lines as text, not markdown: escapes would show as backslashes."""
    from impactiq.journeys.identity import link_people

    touchpoints = pd.DataFrame({"email": ["jane@example.com", "not_an.email", "jane@example.com"]})
    links = link_people({"touch_points.csv": touchpoints}, {"touch_points.csv": {"email": "email"}})
    first = identity_sentences(links.report)[0]
    assert first.startswith("touch_points.csv: 3 rows, 0 (0.0%) belong to a person seen in another file")
    assert "row 2: not_an.email" in first and "\\" not in first
