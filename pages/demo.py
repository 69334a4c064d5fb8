"""Demo: the story in four steps, for a live demo: two users first, then the experiment, the model,
and the split screen. Everything comes from the demo model and its holdout, so it opens at once."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from impactiq.decisions import economics, persuadability
from impactiq.errors import ImpactIQError
from impactiq.intervals import difference_in_means
from impactiq.present.formatting import class_label, effect_unit, format_estimate, level_unit, unit_labels
from impactiq.present.text import plain
from impactiq.uplift.store import load_model, usable_models
from pages import common

common.use_app_navigation()

STORY_USERS = {persuadability.PERSUADABLE: "A persuadable user", persuadability.SURE_THING: "A sure thing"}
WHY = {
    persuadability.PERSUADABLE: "converts more often because we contacted them: the contact is worth paying for.",
    persuadability.SURE_THING: "would convert anyway: traditional attribution credits the campaign, but "
    "contacting them changes little.",
}

st.title("Who converts because we treated them?")


def _demo_model():
    """The demo model (`make setup` trains it), else the newest saved model; None when there is none.

    The demo model is opened directly: listing checks every saved model's files, which a first
    screen should not wait for."""
    demo = Path(common.MODELS_DIR) / common.DEMO_MODEL
    if demo.exists():
        try:
            return load_model(demo)
        except ImpactIQError:
            pass  # a damaged demo model: fall back to the others, as listed and checked
    models = [m for m in usable_models(common.MODELS_DIR) if not m["arms"]]
    if not models:
        return None
    entry = next((m for m in models if m["name"] == common.DEMO_MODEL), models[0])
    return common.load_saved_model(str(entry["path"]), entry["version"])


try:
    model = _demo_model()
except ImpactIQError as error:
    common.show_error(error)
    st.stop()
if model is None:
    st.info("The demo needs the demo model: run `make setup` (or train and save a model on the Train page).")
    st.stop()

holdout = model.holdout
binary = model.schema.is_binary(model.outcome)
thresholds = persuadability.default_thresholds(holdout)
users = persuadability.representative_users(holdout, thresholds)
outcome = plain(model.outcome)

# 1. The first numbers on screen: two real holdout users, their uplift with its interval.
for column, (klass, position) in zip(st.columns(len(users)), users.items(), strict=True):
    row = holdout.iloc[position]
    sure = persuadability.settled(klass, row["uplift_lower"], row["uplift_upper"], thresholds)
    with column:
        st.metric(
            f"{STORY_USERS[klass]}: uplift on {outcome}",
            format_estimate(row["uplift"], unit=effect_unit(binary)),
            help="The change in this user's expected outcome if contacted, estimated by the causal forest.",
        )
        st.caption(
            f"95% CI {format_estimate(row['uplift'], row['uplift_lower'], row['uplift_upper'], effect_unit(binary))}; "
            f"{format_estimate(row['y0_pred'], unit=level_unit(binary))} without contact, "
            f"{format_estimate(row['y1_pred'], unit=level_unit(binary))} with. "
            f"{class_label(klass, sure).capitalize()}: {WHY[klass]}"
        )

st.caption(
    f"Two real users of the demo model's holdout (users it never saw), {model.estimator} on {outcome}. The rest "
    "of this page is the story behind them; the Simulator scores any profile, the Segments page any segment."
)

# The story below the fold needs the heavier modules (charts, segments: scipy, scikit-learn);
# imported only now, so that on a server's first visit the two users are on screen first.
from impactiq.decisions.segments import segment_report  # noqa: E402
from impactiq.present import charts, segment_tables  # noqa: E402
from impactiq.present.tables import quality_verdict  # noqa: E402

st.header("1. The experiment")
observed = difference_in_means(holdout["y"].to_numpy(), holdout["t"].to_numpy())
st.write(
    f"A randomized test: {observed.treated.n:,} users contacted, {observed.control.n:,} held out. Among the "
    f"contacted, {outcome} was {format_estimate(observed.treated.estimate, unit=level_unit(binary))} against "
    f"{format_estimate(observed.control.estimate, unit=level_unit(binary))} among the held out; the average effect is "
    f"{format_estimate(observed.estimate, observed.lower, observed.upper, effect_unit(binary))} (95% CI). "
    "The average hides who answers: the model finds them."
)

st.header("2. The model")
common.show_verdict(*quality_verdict(model.metrics))
qini, _ = charts.evaluation_charts(holdout)
st.altair_chart(qini, width="stretch")

st.header("3. Where the budget goes: the split screen")
try:
    report = segment_report(model, by="persuadability")
except ImpactIQError as error:
    common.show_error(error)
    st.stop()
plans = segment_tables.plans_table(report).set_index("")
left, right = st.columns(2)
left.markdown("**Traditional attribution**: budget follows credited conversions")
left.dataframe(segment_tables.plan_column(plans, "traditional"), width="stretch")
right.markdown("**Causal attribution**: budget follows conversions caused")
right.dataframe(segment_tables.plan_column(plans, "causal"), width="stretch")
gain = segment_tables.segment_gain_sentence(
    report.comparison, unit_labels(model.outcome, binary=binary)["things"]
)
if gain is not None:
    # Green only where the gain is clear of zero, as on the Segments page.
    clear, sentence = gain
    (st.success if clear else st.info)(
        f"{sentence} Cost per contact {format_estimate(economics.DEFAULT_COST, unit='money')}, on these {len(holdout):,} holdout users."
    )
