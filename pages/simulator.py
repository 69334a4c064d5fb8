"""Simulator: score a hypothetical user (or a file of them) with a saved model, see why and what if."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from impactiq.data.reader import read_table, table_stem
from impactiq.decisions import batch, economics, persuadability, profiles, scenario, whatif
from impactiq.decisions.channels import recommend_arms
from impactiq.decisions.explain import METHOD, explain_uplift, uplift_drivers
from impactiq.errors import ImpactIQError
from impactiq.present import charts, formatting
from impactiq.present.export import csv_bytes, file_stem
from impactiq.present.formatting import effect_unit, format_estimate, level_unit
from impactiq.present.tables import channels_table, recommendation_sentence
from impactiq.present.text import MAX_MESSAGE_CHARS, plain, shorten
from impactiq.uplift.arms import ArmView
from pages import common

common.use_app_navigation()

# How many features the form shows before the others fold away.
KEY_DRIVERS = 4
LOADED, BATCH, COST, VALUE = (
    common.SIMULATOR_LOADED,
    common.SIMULATOR_BATCH,
    common.SIMULATOR_COST,
    common.SIMULATOR_VALUE,
)
_key = common.simulator_key


def _pick_model():
    """The chosen model, and the one a shared link names until the link has been applied."""
    first_visit = LOADED not in st.session_state
    linked = st.query_params.get(scenario.QUERY_MODEL) if first_visit else None
    linked_arm = st.query_params.get(scenario.QUERY_ARM) if first_visit else None
    entry, model = common.pick_model(linked=linked, linked_arm=linked_arm)
    return entry["name"], model


def _widget_value(spec: dict, value):
    """A profile value as its widget holds it: None for missing, int for counts and flags."""
    if spec["kind"] == "categorical":
        return value
    if pd.isna(value):
        return None
    return int(value) if profiles.is_integral(spec) else float(value)


def _set_profile(name: str, model, profile: dict) -> None:
    for feature, value in profile.items():
        st.session_state[_key(name, "x:" + feature)] = _widget_value(model.feature_profile[feature], value)


def _start(name: str, model, binary: bool) -> None:
    """Fill the widgets once per model: from the link on the session's first visit, else defaults.

    The cost of a contact carries over from model to model; the value belongs to the model's
    outcome (a conversion, a dollar of spend), so each model starts from its own default, or
    from the value last set for it."""
    if st.session_state.get(LOADED) == name:
        return
    params = st.query_params.to_dict() if LOADED not in st.session_state else {}
    default = st.session_state.get(_key(name, "value"), economics.default_value(binary))
    linked, warnings = scenario.decode_scenario(
        params, model.schema, model.feature_profile, default_value=default
    )
    for warning in warnings:
        st.warning(plain(warning, MAX_MESSAGE_CHARS))
    _set_profile(name, model, linked.profile)
    st.session_state[_key(name, "whatif")] = linked.whatif
    if params or COST not in st.session_state:
        st.session_state[COST] = linked.cost
    st.session_state[VALUE] = linked.value
    st.session_state[LOADED] = name


def _apply_preset(name: str, model, kind: str) -> None:
    draws = st.session_state.get(_key(name, "draws"), 0)
    st.session_state[_key(name, "draws")] = draws + 1
    profile = profiles.preset_profile(kind, model.holdout, model.schema, model.feature_profile, seed=draws)
    _set_profile(name, model, profile)


def _input(container, label: str, spec: dict, key: str):
    """A select box of the training categories, or a number input bounded by the training range.

    `label` is markdown (feature names in it must come through `plain`); options are plain text.
    """
    helptext = plain(formatting.describe_feature(spec), MAX_MESSAGE_CHARS)
    if spec["kind"] == "categorical":
        return container.selectbox(label, spec["categories"], key=key, help=helptext)
    cast = int if profiles.is_integral(spec) else float
    value = container.number_input(
        label,
        min_value=cast(spec["min"]),
        max_value=cast(spec["max"]),
        format="%d" if cast is int else "%.4f",
        key=key,
        help=helptext,
    )
    return float("nan") if value is None else float(value)


def _profile_form(name: str, model) -> dict:
    """Presets, then one input per feature of the model."""
    for column, kind in zip(st.columns(len(profiles.PRESETS)), profiles.PRESETS, strict=True):
        disabled = not profiles.preset_available(kind, model.holdout, model.schema)
        column.button(
            f"{kind.capitalize()} user", on_click=_apply_preset, args=(name, model, kind), disabled=disabled
        )
    # The features that move this model's uplift most come first; the others fold away.
    ranked = st.session_state.get(_key(name, "drivers"))
    if ranked is None:
        ranked = list(uplift_drivers(model.holdout, model.schema).index)
        st.session_state[_key(name, "drivers")] = ranked
    drivers, others = ranked[:KEY_DRIVERS], ranked[KEY_DRIVERS:]
    st.caption(
        "The features that move this model's uplift most (share of its variance on the holdout) come first."
    )
    profile = _inputs(name, model, drivers, st.columns(KEY_DRIVERS))
    if others:
        with st.expander(f"Other features ({len(others)})"):
            profile.update(_inputs(name, model, others, st.columns(KEY_DRIVERS)))
    return {feature: profile[feature] for feature in model.schema.features}


def _inputs(name: str, model, features: list[str], columns) -> dict:
    return {
        feature: _input(
            columns[i % len(columns)],
            plain(feature),
            model.feature_profile[feature],
            _key(name, "x:" + feature),
        )
        for i, feature in enumerate(features)
    }


def _profile_b(name: str, model, profile: dict) -> dict:
    """Profile B: A with one feature changed (at first to its 95% quantile or rarest category)."""
    feature = st.selectbox("B: this user with", list(model.schema.features), key=_key(name, "b_feature"))
    spec, key = model.feature_profile[feature], _key(name, f"b:{feature}")
    if key not in st.session_state:
        start = list(spec["frequencies"])[-1] if spec["kind"] == "categorical" else spec["quantiles"]["95"]
        st.session_state[key] = _widget_value(spec, start)
    return {**profile, feature: _input(st, f"{plain(feature)} set to", spec, key)}


def _show_score(
    title: str, row: pd.Series, binary: bool, cost: float, value: float, thresholds: persuadability.Thresholds
) -> None:
    """One profile's uplift with its interval, expected outcomes, rank, class and decision."""
    st.markdown(f"**{title}**")
    effect = effect_unit(binary)
    st.metric("Uplift", format_estimate(row["uplift"], unit=effect), help="Effect of treatment on this user.")
    if np.isfinite([row["uplift_lower"], row["uplift_upper"]]).all():
        st.caption(
            f"95% CI: {format_estimate(row['uplift'], row['uplift_lower'], row['uplift_upper'], effect)}"
        )
    else:
        st.caption("No 95% interval: this model was saved without one.")
    left, right = st.columns(2)
    left.metric("Outcome without treatment", format_estimate(row["y0_pred"], unit=level_unit(binary)))
    right.metric("Outcome with treatment", format_estimate(row["y1_pred"], unit=level_unit(binary)))
    left.metric("Uplift percentile among holdout users", f"{row['percentile']:.0f}%")
    sure = persuadability.settled(row["class"], row["uplift_lower"], row["uplift_upper"], thresholds)
    right.metric(
        "Class",
        formatting.class_label(row["class"], sure),
        help="The class the uplift's 95% interval supports on its own."
        if sure
        else "The likeliest class: the uplift's 95% interval also reaches another class's range.",
    )
    decision = economics.profit_decision(row["uplift"], row["uplift_lower"], row["uplift_upper"], cost, value)
    # Green or red only for a decision the interval settles; on the estimate alone, neutral.
    show = {economics.TREAT: st.success, economics.UNCERTAIN: st.warning}.get(decision.decision, st.error)
    if not decision.settled:
        show = st.info
    show(formatting.profit_sentence(decision))


def _thresholds(name: str, model, binary: bool) -> persuadability.Thresholds:
    """Class thresholds, defaulting to the holdout's and stated with the rules that use them."""
    default = persuadability.default_thresholds(model.holdout)
    scale = 100.0 if binary else 1.0
    with st.expander("Class thresholds"):
        values = [
            column.number_input(
                label, value=getattr(default, field) * scale, format="%.4f", key=_key(name, field)
            )
            / scale
            for column, (field, label) in zip(
                st.columns(3), formatting.threshold_labels(binary).items(), strict=True
            )
        ]
        st.caption(persuadability.CLASS_RULES)
    return persuadability.Thresholds(*values)


def _what_if(name: str, model, profile: dict, binary: bool) -> None:
    """The uplift across one feature's range, the rest of the profile fixed."""
    feature = st.selectbox("Feature to vary", list(model.schema.features), key=_key(name, "whatif"))
    sweep = whatif.sweep(model, profile, feature)
    if model.feature_profile[feature]["kind"] == "categorical":
        chart = charts.estimate_with_interval_chart(
            sweep,
            category="value",
            estimate="uplift",
            lower="uplift_lower",
            upper="uplift_upper",
            title=f"Uplift for each {shorten(feature)} (95% CI); this user: {shorten(profile[feature])}",
            unit=charts.effect_unit(binary),
        )
    else:
        chart = charts.sweep_chart(sweep, feature, profile[feature], percent=binary)
    st.altair_chart(chart, width="stretch")


def _why(model, profile: dict, binary: bool) -> None:
    table = explain_uplift(model, profiles.profile_frame(profile, model.schema))
    st.caption(
        f"Method: {METHOD}. Contributions add up to this user's uplift minus the typical user's "
        f"({format_estimate(table.attrs['uplift'], unit=effect_unit(binary))} − "
        f"{format_estimate(table.attrs['baseline_uplift'], unit=effect_unit(binary))})."
    )
    if not table["contribution"].any():
        st.info("This is the typical user: no feature differs from it.")
        return
    st.altair_chart(charts.contribution_chart(table, percent=binary), width="stretch")


def _batch(scope: str, model, thresholds: persuadability.Thresholds) -> None:
    """Score an uploaded file of profiles and offer it back with uplift, interval and class."""
    uploaded = st.file_uploader("Profiles (CSV, CSV.gz or Parquet)")
    if uploaded is None:
        return
    if st.session_state.get(BATCH, (None,))[0] != (uploaded.file_id, scope):
        progress = st.progress(0.0, text="Scoring…")
        try:
            scored = batch.score_batch(
                model,
                read_table(uploaded.getvalue(), filename=uploaded.name),
                thresholds=thresholds,
                on_progress=lambda done, total: progress.progress(
                    done / total, f"Scored {done:,} of {total:,} rows"
                ),
            )
        except ImpactIQError as error:
            progress.empty()
            common.show_error(error)
            return
        counts = scored["class"].value_counts().rename("users")
        st.session_state[BATCH] = ((uploaded.file_id, scope), csv_bytes(scored), counts)
    _, data, counts = st.session_state[BATCH]
    st.dataframe(counts, width="content")
    st.download_button(
        "Download scored profiles (CSV)",
        data,
        f"{file_stem('scored', table_stem(uploaded.name), scope)}.csv",
    )


def _results(name: str, model, profile: dict, thresholds, binary: bool, cost: float, value: float) -> None:
    """A and B side by side (scored in one call), and their difference."""
    st.subheader(f"Result: {plain(model.outcome)}, estimated by {model.estimator}")
    left, right = st.columns(2)
    with right:
        profile_b = _profile_b(name, model, profile)
    scores = profiles.score_profiles(model, [profile, profile_b], thresholds)
    with left:
        _show_score("A: this user", scores.iloc[0], binary, cost, value, thresholds)
    with right:
        _show_score("B", scores.iloc[1], binary, cost, value, thresholds)
    estimate, lower, upper = profiles.difference(scores.iloc[0], scores.iloc[1])
    st.metric("Uplift of B − A", format_estimate(estimate, unit=effect_unit(binary)))
    st.caption(
        f"Conservative 95% CI: {format_estimate(estimate, lower, upper, effect_unit(binary))}: the half-widths of the two intervals "
        "added, which holds whatever the correlation between the two estimates."
    )


def _channels(name: str, model: ArmView, profile: dict, binary: bool, cost: float, value: float) -> None:
    """Every channel of a multi-arm model for this user, side by side, and the one to use."""
    st.subheader("Every channel for this user")
    with st.expander("Cost per contact of each channel (the cost above by default)"):
        costs = {
            arm: st.number_input(
                plain(arm),
                min_value=economics.SMALLEST_COST,
                value=cost,
                format="%.4f",
                key=_key(name, f"cost:{arm}"),
            )
            for arm in model.arms
        }
    row = recommend_arms(
        model.base, profiles.profile_frame(profile, model.schema), costs=costs, value=value
    ).iloc[0]
    st.dataframe(channels_table(row, model.arms, binary=binary), hide_index=True, width="stretch")
    (st.success if row["clear"] else st.info)(plain(recommendation_sentence(row), MAX_MESSAGE_CHARS))


st.title("Simulator")
st.caption("Type a user profile, or start from a preset, and see what treating this user is worth.")
name, model = _pick_model()
binary = model.schema.is_binary(model.outcome)
_start(name, model, binary)
profile = _profile_form(name, model)
# Class thresholds and a scored file belong to one arm of a multi-arm model: scoped by it.
arm = model.arm if isinstance(model, ArmView) else None
scope = name if arm is None else f"{name}@{arm}"
thresholds = _thresholds(scope, model, binary)
left, right = st.columns(2)
cost = left.number_input("Cost per contact", min_value=economics.SMALLEST_COST, format="%.4f", key=COST)
value = right.number_input(formatting.value_label(binary), min_value=0.0, format="%.4f", key=VALUE)
st.session_state[_key(name, "value")] = value
try:
    _results(name, model, profile, thresholds, binary, cost, value)
    if isinstance(model, ArmView):
        _channels(name, model, profile, binary, cost, value)
    st.subheader("What if")
    _what_if(name, model, profile, binary)
    st.subheader("Why")
    _why(model, profile, binary)
except ImpactIQError as error:
    common.show_error(error)
st.subheader("Score a file of profiles")
_batch(scope, model, thresholds)
varied = st.session_state.get(_key(name, "whatif"), model.schema.features[0])
st.query_params.from_dict(
    scenario.encode_scenario(name, scenario.Scenario(profile, varied, cost, value), arm)
)
common.keep_workspace_in_url()
