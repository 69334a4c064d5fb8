"""Tests of impactiq.present.segment_tables: the Segments report as text."""

from __future__ import annotations

import pandas as pd
import pytest

from impactiq.decisions import segments
from impactiq.present import segment_tables
from tests.support import scored_by_channel


@pytest.fixture(scope="module")
def scored() -> pd.DataFrame:
    return scored_by_channel()


@pytest.mark.parametrize(("binary", "word"), [(True, "conversions (y)"), (False, "y (amount)")])
def test_labels_say_conversions_or_amounts(scored, binary, word):
    table = segments.segment_table(scored, scored["channel"], cost=1.0, value=2.0)
    shown = segment_tables.segment_table_text(table, outcome="y", binary=binary)
    readable = segment_tables.readable_segment_table(table, outcome="y", binary=binary)
    assert f"credited {word}" in shown.columns
    assert f"incremental {word} lower" in readable.columns
    assert "causal ROI [95% CI]" in shown.columns


def test_channel_tables_read_every_segment_channel_and_plan_with_intervals():
    from impactiq.decisions.channel_segments import channel_segment_table, compare_channel_plans

    frame = scored_by_channel(n=4_000, seed=3)
    holdout = frame.assign(
        arm=(frame["t"] * (1 + (frame.index % 2))).astype("int8"),
        uplift_a=frame["uplift"],
        uplift_a_lower=frame["uplift_lower"],
        uplift_a_upper=frame["uplift_upper"],
        y_pred_a=frame["y1_pred"],
        uplift_b=frame["uplift"] / 2,
        uplift_b_lower=frame["uplift_lower"] / 2,
        uplift_b_upper=frame["uplift_upper"] / 2,
        y_pred_b=frame["y1_pred"],
    ).drop(columns=["uplift", "uplift_lower", "uplift_upper", "y1_pred"])
    table = channel_segment_table(holdout, ("a", "b"), frame["channel"], cost=0.1, value=10.0)
    text = segment_tables.channel_segment_text(table, outcome="visit", binary=True)
    assert list(text.columns[:2]) == ["segment", "channel"]
    assert text["observed uplift [95% CI]"].str.count(r"\[").eq(1).all()
    plans = compare_channel_plans(table, mix={"a": 0.5, "b": 0.5}, budget=100.0, cost=0.1, value=10.0)
    shown = segment_tables.channel_plans_table(plans)
    assert list(shown.columns) == ["traditional", "causal", "causal - traditional"]
    assert shown.loc["incremental conversions [95% CI]"].str.count(r"\[").eq(1).all()
    # Seen: raw headers such as `traditional_contacts`.
    allocation = segment_tables.channel_allocation_table(plans.segments)
    assert not any("_" in column for column in allocation.columns)
    clear, sentence = segment_tables.channel_gain_sentence(plans, "conversions")
    gain = plans.plans.set_index("plan").loc["causal - traditional"]
    assert clear == (gain["incremental_lower"] > 0)
    assert sentence.startswith(
        f"For the same {plans.contacts:,} contacts, choosing each segment's channel gains "
    )
    sides = segment_tables.channel_plan_sides({"a": 0.5, "b_*": 0.5})
    assert "(a 50%, b\\_\\* 50%)" in sides["traditional"][1], "names from the data are shown as written"


def test_the_split_screen_gain_and_the_disagreeing_segments_in_words(scored):
    from impactiq.decisions.allocation import compare_allocations

    by_channel = segments.segment_table(scored, scored["channel"], cost=1.0, value=2.0)
    comparison = compare_allocations(by_channel, budget=500.0, cost=1.0, value=2.0)
    clear, sentence = segment_tables.segment_gain_sentence(comparison, "conversions")
    gain = comparison.plans.set_index("plan").loc["causal - traditional"]
    assert clear == (gain["incremental_lower"] > 0)
    assert sentence.startswith("For the same budget, causal allocation gains ")
    assert sentence.endswith(" ROI (95% CIs in brackets).")
    assert (
        segment_tables.segment_gain_sentence(
            compare_allocations(by_channel, budget=0.0, cost=1.0, value=2.0), "conversions"
        )
        is None
    )
    table = pd.DataFrame({"segment": ["web", "*phone*"], "disagrees": [False, True]})
    assert segment_tables.disagreement_sentence(table).endswith(
        "in: \\*phone\\*. Do not trust its ranking there. With many segments, one in twenty is flagged by chance."
    )
    assert segment_tables.disagreement_sentence(table.assign(disagrees=False)) is None


def test_one_plan_is_shown_as_its_estimates_with_their_intervals():
    plans = pd.DataFrame(
        {"traditional": ["10", "1.2 [1.0, 1.4]"], "causal": ["12", "1.5 [1.3, 1.7]"]},
        index=pd.Index(["users contacted", "ROI as caused"], name=""),
    )
    side = segment_tables.plan_column(plans, "causal")
    assert list(side.columns) == ["estimate [95% CI]"]
    assert side["estimate [95% CI]"].tolist() == ["12", "1.5 [1.3, 1.7]"]
    assert side.index.equals(plans.index)
