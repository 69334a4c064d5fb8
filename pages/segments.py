"""Segments: conversions credited against conversions caused, per segment, and where a budget should go."""

from __future__ import annotations

import streamlit as st

from impactiq.decisions import channel_segments, channels, economics, segmentation, targeting
from impactiq.decisions.segments import segment_report
from impactiq.errors import ImpactIQError
from impactiq.present import charts, segment_tables
from impactiq.present.export import csv_bytes, file_stem
from impactiq.present.formatting import format_estimate, unit_labels, value_label
from impactiq.present.tables import policies_table, policy_edge_sentence
from impactiq.present.text import MAX_MESSAGE_CHARS, plain
from impactiq.uplift.arms import ArmView
from pages import common

common.use_app_navigation()

KINDS = {
    "column": "A column",
    "kmeans": "Behavioural clusters (K-means)",
    "uplift": "Predicted uplift quantiles",
    "persuadability": "Persuadability class",
}

st.title("Segments")
st.caption(
    "Traditional attribution credits a campaign with every conversion among the users it reached; the "
    "control group shows how many of them would have converted anyway. Everything here is measured on the "
    "model's holdout, users it never saw; intervals are 95%."
)


@st.cache_data(show_spinner="Segmenting the holdout…", max_entries=16)
def _segmentation(path: str, version: str, arm: str | None, by: str) -> segmentation.Segmentation:
    model = common.load_saved_model(path, version)
    if arm is None:
        return segmentation.assign_segments(model.holdout, model.schema, by, seed=0)
    return channel_segments.arm_segmentation(model.holdout, model.arms, arm, model.schema, by, seed=0)


@st.cache_data(show_spinner="Segmenting the holdout…", max_entries=16)
def _channel_segmentation(path: str, version: str, by: str) -> segmentation.Segmentation:
    model = common.load_saved_model(path, version)
    return channel_segments.channel_segmentation(model.holdout, model.schema, by, seed=0)


def _channels_by_segment(entry: dict, base, by: str, cost: float, value: float) -> None:
    """The segment x channel heat map and table, and one budget spread two ways across them.

    The plans place contacts over the whole holdout (control and every channel), so their budget
    has its own slider: the one above is sized on the chosen channel's users only."""
    st.subheader("Which channel works for which segment")
    try:
        split = _channel_segmentation(str(entry["path"]), entry["version"], by)
    except ImpactIQError as error:
        st.info(plain(error, MAX_MESSAGE_CHARS))
        return
    binary = base.schema.is_binary(base.outcome)
    table = channel_segments.channel_segment_table(
        base.holdout, base.arms, split.labels, cost=cost, value=value
    )
    st.caption(
        "Each channel against no contact within each segment, on the holdout: observed uplift (difference in "
        "means, 95% CI on hover), credited against incremental conversions, and ROI under both attributions."
    )
    st.altair_chart(charts.channel_heatmap(table, percent=binary), width="stretch")
    st.dataframe(
        segment_tables.channel_segment_text(table, outcome=base.outcome, binary=binary),
        hide_index=True,
        width="stretch",
    )
    # From the model's own, checked arm shares: the experiment's design.
    mix = channel_segments.experiment_mix(base.arms, base.model.arm_shares_)
    budget = _budget("Budget for the channel plans (money)", len(base.holdout), cost, "the whole holdout's")
    plans = channel_segments.compare_channel_plans(table, mix=mix, budget=budget, cost=cost, value=value)
    shown = segment_tables.channel_plans_table(plans)
    sides = segment_tables.channel_plan_sides(mix)
    for column, (plan, (title, caption)) in zip(st.columns(2), sides.items(), strict=True):
        with column:
            st.markdown(f"**{title}**")
            st.caption(caption)
            st.dataframe(segment_tables.plan_column(shown, plan), width="stretch")
    clear, sentence = segment_tables.channel_gain_sentence(
        plans, unit_labels(base.outcome, binary=binary)["things"]
    )
    (st.success if clear else st.info)(sentence)
    st.dataframe(
        segment_tables.channel_allocation_table(plans.segments),
        hide_index=True,
        width="stretch",
    )


def _choose_segmentation(model) -> str:
    """The `by` of `segmentation.assign_segments`, from the widgets."""
    columns = segmentation.segment_columns(model.holdout, model.schema)
    kinds = [k for k in KINDS if k != "column" or columns]
    left, right = st.columns(2)
    kind = left.radio("Segment by", kinds, format_func=KINDS.get, horizontal=True)
    if kind == "column":
        return right.selectbox("Column", columns)
    if kind == "kmeans":
        return f"kmeans:{right.slider('Clusters (k)', *segmentation.KMEANS_RANGE, 4)}"
    if kind == "uplift":
        return f"uplift:{right.slider('Quantiles', *segmentation.QUANTILE_RANGE, 5)}"
    return segmentation.PERSUADABILITY


def _economics(n_users: int, binary: bool) -> tuple[float, float, float]:
    left, middle, right = st.columns(3)
    cost = left.number_input(
        "Cost per contact",
        min_value=economics.SMALLEST_COST,
        value=economics.DEFAULT_COST,
        step=0.05,
        format="%.4f",
    )
    value = middle.number_input(
        value_label(binary), min_value=0.0, value=economics.default_value(binary), step=1.0
    )
    with right:
        budget = _budget("Budget (money)", n_users, cost, "the holdout's")
    return cost, value, budget


def _budget(label: str, n_users: int, cost: float, whose: str) -> float:
    """A budget slider that reaches at most every one of `n_users`, with what it buys in words."""
    total = round(n_users * cost, 2)
    if total <= 0:  # a slider from 0 to 0 cannot be drawn: the whole list costs under a cent
        st.caption(
            f"{label}: contacting all {n_users:,} of {whose} users costs less than "
            f"{format_estimate(0.01, unit='money')}, so every one is contacted."
        )
        return n_users * cost
    budget = st.slider(
        label, 0.0, total, round(economics.DEFAULT_BUDGET_SHARE * total, 2), step=max(total / 200, 0.01)
    )
    contacts = economics.contacts_for_budget(budget, cost, n_users)
    st.caption(
        f"Budget = contacts × cost per contact: {format_estimate(budget, unit='money')} reaches {contacts:,} of {whose} {n_users:,} "
        "users. Scale by your list's size over the holdout's to read it for a whole campaign."
    )
    return budget


entry, model = common.pick_model()
outcome, binary = model.outcome, model.schema.is_binary(model.outcome)
words = unit_labels(outcome, binary=binary)
by = _choose_segmentation(model)
cost, value, budget = _economics(len(model.holdout), binary)
try:
    report = segment_report(
        model,
        by=by,
        cost=cost,
        value=value,
        budget=budget,
        segmentation=_segmentation(str(entry["path"]), entry["version"], getattr(model, "arm", None), by),
    )
except ImpactIQError as error:
    common.show_error(error)
    st.stop()
table, comparison = report.table, report.comparison

st.subheader(f"Segments by {plain(report.segmentation.title)}: {plain(outcome)}")
st.caption(
    f"{plain(report.segmentation.method, MAX_MESSAGE_CHARS)}. Observed uplift: difference in means, unpooled 95% interval. Mean predicted "
    "uplift: normal interval of the mean of the per-row predictions (their spread across the segment, not "
    "the model's error). Doubly robust: AIPW with the model's predicted outcomes and the treated share."
)
common.show_table(segment_tables.segment_table_text(table, outcome=outcome, binary=binary))
disagreement = segment_tables.disagreement_sentence(table)
if disagreement is not None:
    st.warning(disagreement)
st.download_button(
    "Download the segment table (CSV)",
    csv_bytes(segment_tables.readable_segment_table(table, outcome=outcome, binary=binary)),
    file_name=f"{file_stem('segments', outcome, by)}.csv",
    mime="text/csv",
)
st.altair_chart(
    charts.observed_vs_predicted_chart(
        table.rename(
            columns={
                "observed_uplift": "uplift",
                "observed_uplift_lower": "uplift_lower",
                "observed_uplift_upper": "uplift_upper",
            }
        ),
        category="segment",
        title="Observed uplift per segment (95% CI); orange: mean predicted uplift",
        percent=binary,
    ),
    width="stretch",
)
if report.segmentation.profiles is not None:
    with st.expander("Cluster profiles (cluster mean minus overall mean, in standard deviations)"):
        st.dataframe(
            report.segmentation.profiles.pivot(index="feature", columns="segment", values="z").round(2)
        )

st.divider()
plans = segment_tables.plans_table(report).set_index("")
for column, (plan, (title, caption)) in zip(
    st.columns(2), segment_tables.SEGMENT_PLAN_SIDES.items(), strict=True
):
    with column:
        st.subheader(title)
        st.caption(caption)
        st.dataframe(segment_tables.plan_column(plans, plan), width="stretch")
gain = segment_tables.segment_gain_sentence(comparison, words["things"])
if gain is not None:
    # Green only where the gain is clear of zero; otherwise the same words, neutral.
    clear, sentence = gain
    (st.success if clear else st.info)(sentence)
left, right = st.columns(2)
left.altair_chart(charts.allocation_chart(comparison.segments), width="stretch")
right.dataframe(segment_tables.allocation_table(report), hide_index=True)

st.divider()
st.subheader("Targeting users within the budget")
st.caption(
    "Incremental conversions of a targeted group are measured from its treated and control users' observed "
    "outcomes, never from the model's predictions; random targeting is its expectation. The doubly robust "
    "columns are each policy's AIPW value over treating nobody, with normal 95% intervals."
)
st.altair_chart(
    charts.targeting_curves_chart(
        report.curves, strategies=targeting.STRATEGIES, share=comparison.contacts / len(model.holdout)
    ),
    width="stretch",
)
common.show_table(segment_tables.strategies_table(report))

if isinstance(model, ArmView):
    st.divider()
    st.subheader("Which channel for which user")
    st.caption(
        "Each policy valued on the holdout from observed outcomes: doubly robust (AIPW) with the model's "
        "expected outcomes and the experiment's known channel shares, normal 95% intervals; the gain over "
        "contacting nobody is paired on the same users. The best channel for each user is the one with the "
        "largest expected profit at the cost per contact above (every channel) and the value per conversion."
    )
    base = model.base
    values = channels.policy_values(
        base.holdout,
        base.arms,
        base.model.arm_shares_,
        costs=dict.fromkeys(base.arms, cost),
        value=value,
    )
    st.dataframe(policies_table(values, binary=binary), hide_index=True, width="stretch")
    clear, sentence = policy_edge_sentence(values)
    (st.success if clear else st.info)(plain(sentence, MAX_MESSAGE_CHARS))
    _channels_by_segment(entry, base, by, cost, value)
