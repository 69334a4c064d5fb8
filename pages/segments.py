"""Segments: conversions credited against conversions caused, per segment, and where a budget should go."""

from __future__ import annotations

import streamlit as st

from impactiq import charts, segments, targeting
from impactiq.errors import ImpactIQError
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
def _segmentation(path: str, created: str, by: str) -> segments.Segmentation:
    model = common.load_saved_model(path, created)
    return segments.assign_segments(model.holdout, model.schema, by, seed=0)


def _choose_segmentation(model) -> str:
    """The `by` of `segments.assign_segments`, from the widgets."""
    columns = segments.segment_columns(model.holdout, model.schema)
    kinds = [k for k in KINDS if k != "column" or columns]
    left, right = st.columns(2)
    kind = left.radio("Segment by", kinds, format_func=KINDS.get, horizontal=True)
    if kind == "column":
        return right.selectbox("Column", columns)
    if kind == "kmeans":
        return f"kmeans:{right.slider('Clusters (k)', *segments.KMEANS_RANGE, 4)}"
    if kind == "uplift":
        return f"uplift:{right.slider('Quantiles', *segments.QUANTILE_RANGE, 5)}"
    return segments.PERSUADABILITY


def _economics(n_users: int, binary: bool) -> tuple[float, float, float]:
    unit = "conversion" if binary else "unit of the outcome"
    left, middle, right = st.columns(3)
    cost = left.number_input("Cost per contact", min_value=0.01, value=targeting.DEFAULT_COST, step=0.05)
    value = middle.number_input(
        f"Value per {unit}", min_value=0.0, value=targeting.default_value(binary), step=1.0
    )
    total = round(n_users * cost, 2)
    budget = right.slider(
        "Budget (money)",
        0.0,
        total,
        round(targeting.DEFAULT_BUDGET_SHARE * total, 2),
        step=max(total / 200, 0.01),
    )
    contacts = targeting.contacts_for_budget(budget, cost, n_users)
    st.caption(
        f"Budget = contacts × cost per contact: {budget:,.2f} reaches {contacts:,} of the holdout's {n_users:,} "
        "users. Scale by your list's size over the holdout's to read it for a whole campaign."
    )
    return cost, value, budget


entry, model = common.pick_model()
path, created = str(entry["path"]), entry["created"]
outcome, binary = model.outcome, model.schema.is_binary(model.outcome)
words = segments.unit_labels(outcome, binary=binary)
by = _choose_segmentation(model)
cost, value, budget = _economics(len(model.holdout), binary)
try:
    segmentation = _segmentation(path, created, by)
    table = segments.segment_table(model.holdout, segmentation.labels, cost=cost, value=value)
    comparison = targeting.compare_allocations(table, budget=budget, cost=cost, value=value)
    strategies = targeting.compare_strategies(model.holdout, comparison.contacts, value=value)
    curves = targeting.targeting_curves(model.holdout, value=value)
except ImpactIQError as error:
    common.show_error(error)
    st.stop()

st.subheader(f"Segments by {segmentation.title}: {outcome}")
st.caption(
    f"{segmentation.method}. Observed uplift: difference in means, unpooled 95% interval. Mean predicted "
    "uplift: normal interval of the mean of the per-row predictions (their spread across the segment, not "
    "the model's error). Doubly robust: AIPW with the model's predicted outcomes and the treated share."
)
st.dataframe(
    segments.formatted_table(table, outcome=outcome, binary=binary), hide_index=True, width="stretch"
)
flagged = table.loc[table["disagrees"], "segment"].tolist()
if flagged:
    st.warning(
        f"The model's mean prediction disagrees with the observed uplift beyond sampling error (z-test, 5%) in: "
        f"{', '.join(flagged)}. Do not trust its ranking there. With many segments, one in twenty is flagged by chance."
    )
st.download_button(
    "Download the segment table (CSV)",
    segments.readable_table(table, outcome=outcome, binary=binary).to_csv(index=False).encode(),
    file_name=f"segments_{outcome}_{by.replace(':', '_')}.csv",
    mime="text/csv",
)
st.altair_chart(
    charts.observed_vs_predicted_chart(
        table.rename(
            columns={
                "observed_uplift": "uplift",
                "observed_lower": "uplift_lower",
                "observed_upper": "uplift_upper",
            }
        ),
        category="segment",
        title="Observed uplift per segment (95% CI); orange: mean predicted uplift",
        percent=binary,
    ),
    width="stretch",
)
if segmentation.profiles is not None:
    with st.expander("Cluster profiles (cluster mean minus overall mean, in standard deviations)"):
        st.dataframe(segmentation.profiles.pivot(index="feature", columns="segment", values="z").round(2))

st.divider()
plans = targeting.formatted_plans(comparison, outcome=outcome, binary=binary).set_index("")
sides = {
    "traditional": (
        "Traditional attribution",
        "Budget spread in proportion to each segment's credited conversions.",
    ),
    "causal": (
        "Causal segment attribution",
        "Budget placed where a contact causes the most: segments in order of observed uplift, only where it "
        "is positive, each up to its size (optimistic where segments differ by less than their intervals).",
    ),
}
for column, (plan, (title, caption)) in zip(st.columns(2), sides.items(), strict=True):
    with column:
        st.subheader(title)
        st.caption(caption)
        st.dataframe(plans[[plan]].rename(columns={plan: "estimate [95% CI]"}), width="stretch")
gain = comparison.plans.set_index("plan").loc["causal - traditional"]
if comparison.contacts:
    # Green only where the gain is clear of zero; otherwise the same words, neutral.
    announce = st.success if gain["incremental_lower"] > 0 else st.info
    announce(
        f"For the same budget, causal allocation gains {gain['incremental']:+,.1f} incremental {words['things']} "
        f"(95% CI {gain['incremental_lower']:+,.1f} to {gain['incremental_upper']:+,.1f}) and "
        f"{gain['causal_roi']:+.1%} ROI (95% CI {gain['causal_roi_lower']:+.1%} to {gain['causal_roi_upper']:+.1%})."
    )
left, right = st.columns(2)
left.altair_chart(charts.allocation_chart(comparison.segments), width="stretch")
right.dataframe(
    comparison.segments[["segment", "users", "traditional_contacts", "causal_contacts", "difference"]],
    hide_index=True,
)

st.divider()
st.subheader("Targeting users within the budget")
st.caption(
    "Incremental conversions of a targeted group are measured from its treated and control users' observed "
    "outcomes, never from the model's predictions; random targeting is its expectation. The doubly robust "
    "columns are each policy's AIPW value over treating nobody, with normal 95% intervals."
)
st.altair_chart(
    charts.targeting_curves_chart(
        curves, strategies=targeting.STRATEGIES, share=comparison.contacts / len(model.holdout)
    ),
    width="stretch",
)
st.dataframe(targeting.formatted_strategies(strategies, outcome=outcome, binary=binary), hide_index=True)
