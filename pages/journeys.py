"""Journeys: multi-touch attribution from touchpoint logs, held against what experiments measure."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from impactiq.data.reader import read_table
from impactiq.errors import ImpactIQError
from impactiq.journeys import summary
from impactiq.journeys.attribution import MODELS, AttributionSettings, attribute, credit_by_group
from impactiq.journeys.check import causal_check
from impactiq.journeys.events import ConversionColumns, TouchpointColumns, prepare_events
from impactiq.journeys.heuristics import PositionShares
from impactiq.journeys.kept import KeptJourneys, journeys_as_tables, journeys_from_tables
from impactiq.journeys.paths import MAX_LOOKBACK_DAYS
from impactiq.journeys.revenue import CREDITS, conversions_from_revenue, revenue_kinds
from impactiq.journeys.spend import channel_roi, group_roi
from impactiq.journeys.synthetic import make_journeys
from impactiq.journeys.uploads import link_uploads
from impactiq.present import charts, journey_tables
from impactiq.present.export import csv_bytes
from impactiq.present.text import MAX_MESSAGE_CHARS, plain
from pages import common

common.use_app_navigation()

# Role -> (label, required)
FILES = {
    "touchpoints": ("Touchpoints: time, channel, and a customer id, phone or e-mail", True),
    "conversions": ("Conversions: identifier(s), time, optional stage and revenue", True),
    "customers": ("Customers (CRM): customer_id, phone, email, one row per pair", False),
    "holdouts": ("Holdouts: per channel, its eligible people and whether each was held out", False),
    "channel_map": ("Channel map: source, channel, optional group", False),
    "spend": ("Spend: channel, spend, optional date", False),
}
CONVERSION_KINDS = {
    "conversions": "one row per conversion",
    "revenue": "revenue events: each customer's first event of a kind is the conversion",
}
DEMO_SIZES = (5_000, 20_000, 50_000)
# Where the linked logs are kept in the session's workspace.
KEPT = "journeys"
NONE = "(none)"
# The roles each file's column choosers offer, with their labels; the required ones have no "(none)".
TOUCH_ROLES = {
    "timestamp": "Time",
    "channel": "Channel or source",
    "customer_id": "Customer id",
    "phone": "Phone",
    "email": "E-mail",
}
CONVERSION_ROLES = {
    "timestamp": "Time",
    "customer_id": "Customer id",
    "phone": "Phone",
    "email": "E-mail",
    "stage": "Stage",
    "revenue": "Revenue",
}
REQUIRED = {"timestamp", "channel"}

st.title("Journeys")
st.caption(
    "Multi-touch attribution credits each conversion to the channels on the path before it. Where people "
    "eligible for a channel were held out of it at random, the experiment shows how many conversions the "
    "channel caused: the causal check below holds every model's credit against that."
)


def _read_uploads() -> None:
    """Read each newly uploaded file once and keep it by role; a bad file says why and keeps the rest."""
    tables = st.session_state.setdefault(common.JOURNEY_TABLES, {})
    # One container per file, made up front in a fixed order, so that what a file adds below its
    # uploader (its caption) never moves the uploaders after it.
    required, optional = st.columns(2)
    slots = {role: required.container() for role, (_, needed) in FILES.items() if needed}
    with optional.expander("Optional files"):
        slots |= {role: st.container() for role, (_, needed) in FILES.items() if not needed}
    for role, (label, _) in FILES.items():
        where = slots[role]
        uploaded = where.file_uploader(label, key=f"journey_upload_{role}")
        if uploaded is None:
            tables.pop(role, None)
            continue
        if role not in tables or tables[role][0] != uploaded.file_id:
            try:
                with st.spinner(f"Reading {plain(uploaded.name)}…"):
                    tables[role] = (
                        uploaded.file_id,
                        uploaded.name,
                        read_table(uploaded.getvalue(), filename=uploaded.name),
                    )
            except ImpactIQError as error:
                tables.pop(role, None)
                common.show_error(error)
                continue
        _, name, table = tables[role]
        where.caption(f"Read {plain(name)}: {len(table):,} rows, {table.shape[1]} columns.")


def _pick(label: str, columns: list[str], default: str | None, *, optional: bool, key: str) -> str | None:
    """A column chooser; its key includes the columns, so another file starts from its own defaults."""
    options = [NONE, *columns] if optional else columns
    index = options.index(default) if default in options else 0
    chosen = st.selectbox(label, options, index=index, key=f"{key}:{hash(tuple(columns))}")
    return None if chosen == NONE else chosen


def _column_form(kind, upload, roles: dict[str, str], prefix: str):
    """One file's column choosers (`roles`: role -> label), defaulting to the usual names."""
    _, name, table = upload
    st.markdown(f"**{plain(name)}**")
    default = kind.suggest(table.columns)
    columns = list(map(str, table.columns))
    return kind(
        **{
            role: _pick(
                label, columns, getattr(default, role), optional=role not in REQUIRED, key=f"{prefix}_{role}"
            )
            for role, label in roles.items()
        }
    )


def _mapping(tables: dict) -> dict:
    """Which column holds what, per file, from the widgets (defaults: the usual names)."""
    with st.expander("Columns", expanded=False):
        left, right = st.columns(2)
        with left:
            touch_columns = _column_form(TouchpointColumns, tables["touchpoints"], TOUCH_ROLES, "jt")
        with right:
            conversion_columns = _column_form(
                ConversionColumns, tables["conversions"], CONVERSION_ROLES, "jc"
            )
        region = st.text_input("Country of phone numbers written without a country code", "US", max_chars=2)
    return {
        "touch_columns": touch_columns,
        "conversion_columns": conversion_columns,
        "region": region.upper(),
    }


def _upload_logs() -> None:
    _read_uploads()
    tables = st.session_state[common.JOURNEY_TABLES]
    if not {"touchpoints", "conversions"} <= set(tables):
        st.caption("Upload a touchpoint log and a conversion log (CSV, CSV.gz or Parquet) to begin.")
        return
    try:
        conversions = _conversions(tables["conversions"])
    except ImpactIQError as error:
        common.show_error(error)
        return
    if conversions is None:
        return
    tables = {**tables, "conversions": (*tables["conversions"][:2], conversions)}
    mapping = _mapping(tables)
    if not st.button("Link people and attribute", type="primary"):
        return
    files = {role: (name, table) for role, (_, name, table) in tables.items()}
    try:
        with st.spinner("Linking people and cutting journeys…"):
            kept = link_uploads(files, **mapping)
    except ImpactIQError as error:
        common.show_error(error)
        return
    _use(kept)


def _conversions(upload) -> pd.DataFrame | None:
    """The conversions table: as uploaded, or made from revenue events (None until a kind is chosen)."""
    _, name, table = upload
    kind = st.radio(
        "The conversions file holds",
        list(CONVERSION_KINDS),
        format_func=CONVERSION_KINDS.get,
        horizontal=True,
    )
    if kind == "conversions":
        return table
    columns = list(map(str, table.columns))
    left, middle, right = st.columns(3)
    date = left.selectbox("Date column", columns, index=columns.index("date") if "date" in columns else 0)
    amount = middle.selectbox(
        "Amount column", columns, index=columns.index("amount") if "amount" in columns else 0
    )
    category = right.selectbox(
        "Category column", columns, index=columns.index("category") if "category" in columns else 0
    )
    kinds = revenue_kinds(table, category, name=name)
    chosen = left.selectbox("Conversion: the first event of", kinds)
    credit = middle.radio(
        "Revenue credited",
        CREDITS,
        format_func={"customer": "all the customer's revenue", "kind": "that kind's only"}.get,
    )
    return conversions_from_revenue(
        table, kind=chosen, timestamp=date, amount=amount, category=category, credit=credit, name=name
    )


def _demo_logs() -> None:
    st.caption(
        "Synthetic journeys over five channels with a random 15% holdout per channel and known effects: "
        "search and display mostly reach people who would convert anyway."
    )
    people = st.selectbox("People", DEMO_SIZES, index=1, format_func=lambda n: f"{n:,}")
    if st.button("Open the demo journeys"):
        with st.spinner("Generating and linking journeys…"):
            data = make_journeys(people, seed=0)
            events = prepare_events(
                data.touchpoints, data.conversions, customers=data.customers, holdouts=data.holdouts
            )
        _use(KeptJourneys(events, f"demo journeys of {people:,} people", data.truth, data.spend))


def _use(kept: KeptJourneys, *, keep: bool = True) -> None:
    """Make these the journeys the page shows; kept in the session's workspace for a reload."""
    st.session_state[common.JOURNEY_EVENTS] = kept.events
    st.session_state[common.JOURNEY_SOURCE] = kept.source
    st.session_state[common.JOURNEY_TRUTH] = kept.truth
    st.session_state[common.JOURNEY_SPEND] = kept.spend
    st.session_state.pop(common.JOURNEY_RESULT, None)
    if keep:
        common.workspace().save_tables(KEPT, *journeys_as_tables(kept))


def _restore() -> None:
    """After a reload, the journeys kept in the workspace named by the URL, if any."""
    if common.JOURNEY_EVENTS in st.session_state or common.WORKSPACE not in st.session_state:
        return
    try:
        loaded = st.session_state[common.WORKSPACE].load_tables(KEPT)
        if loaded is None:
            return
        kept = journeys_from_tables(*loaded)
    except ImpactIQError as error:
        common.show_error(error)
        return
    _use(kept, keep=False)


def _settings(events) -> tuple[tuple[str, ...], AttributionSettings]:
    left, middle, right = st.columns(3)
    models = left.multiselect(
        "Models", MODELS, default=list(MODELS), format_func=lambda m: journey_tables.MODEL_NAMES[m]
    )
    stages = ["all stages", *events.stages]
    stage = left.selectbox("Conversion stage", stages)
    lookback = middle.number_input(
        "Lookback window (days)", min_value=1.0, max_value=float(MAX_LOOKBACK_DAYS), value=30.0, step=1.0
    )
    half_life = middle.number_input(
        "Time-decay half-life (days)", min_value=0.1, max_value=365.0, value=7.0, step=1.0
    )
    first = right.slider("Position-based: first touch share", 0.0, 1.0, 0.4, 0.05)
    room = round(1.0 - first, 2)  # what the first touch leaves for the last
    if room > 0:
        last = right.slider("Position-based: last touch share", 0.0, room, min(0.4, room), 0.05)
    else:  # a slider from 0 to 0 cannot be drawn
        last = 0.0
        right.caption("Position-based: the first touch takes all the credit, the last touch none.")
    by_day = right.checkbox("Touches on the same day share that day's credit")
    settings = AttributionSettings(
        lookback_days=lookback,
        half_life_days=half_life,
        shares=PositionShares(first=first, last=last),
        by_day=by_day,
        stage=None if stage == "all stages" else stage,
    )
    return tuple(models), settings


def _attribution(events, models, settings):
    """The attribution for these settings, computed once and kept until a setting changes."""
    key = (id(events), models, settings)
    kept = st.session_state.get(common.JOURNEY_RESULT)
    if kept is None or kept[0] != key:
        kept = (key, attribute(events, models, settings))
        st.session_state[common.JOURNEY_RESULT] = kept
    return kept[1]


def _credit(events, result) -> None:
    st.subheader("Credit per channel, every model side by side")
    journeys = result.journeys
    st.caption(
        f"{result.attributed:,} of {journeys.n_conversions:,} conversions have a touch of the same person in the "
        f"{result.settings.lookback_days:g} days before them; {journeys.unattributed:,} have none and are counted, not "
        "credited. Each attributed conversion's credit sums to 1 in every model. Markov: first-order removal effects; "
        "Shapley: conversion rate of journeys with exactly each set of channels (both as in marketing-attribution-models)."
    )
    tabs = st.tabs(["Conversions", "Revenue", *(["By channel group"] if events.grouped else [])])
    tabs[0].dataframe(journey_tables.credit_table(result.credit), hide_index=True, width="stretch")
    tabs[1].dataframe(
        journey_tables.credit_table(result.credit, measure="revenue"), hide_index=True, width="stretch"
    )
    if events.grouped:
        by_group = journey_tables.credit_table(credit_by_group(result.credit, events.channel_groups))
        tabs[2].dataframe(by_group.rename(columns={"channel": "group"}), hide_index=True, width="stretch")
    st.altair_chart(charts.credit_share_chart(journey_tables.credit_shares(result.credit)), width="stretch")
    st.download_button(
        "Download the credit table (CSV)",
        csv_bytes(result.credit),
        file_name="attribution_credit.csv",
        mime="text/csv",
    )


def _roi(events, result, spend) -> None:
    st.subheader("Return on spend, by the credit of each model")
    if spend is None:
        st.info(
            "Add a spend file (channel, spend, optional date) to see each channel's ROI under every model."
        )
        return
    models = list(result.credit["model"].unique())
    model = st.selectbox("ROI under the credit of", models, format_func=journey_tables.MODEL_NAMES.get)
    st.caption(
        "ROAS = credited revenue / spend; ROI = (credited revenue - spend) / spend; cost per credited conversion = "
        "spend / credited conversions. The same spend earns very different returns under different models."
    )
    rows = channel_roi(result.credit, spend)
    st.dataframe(journey_tables.roi_table(rows[rows["model"] == model]), hide_index=True, width="stretch")
    if events.grouped:
        grouped = group_roi(result.credit, spend, events.channel_groups)
        st.dataframe(
            journey_tables.roi_table(grouped[grouped["model"] == model], by="group"),
            hide_index=True,
            width="stretch",
        )


def _paths(result) -> None:
    st.subheader("What converting journeys look like")
    left, right = st.columns(2)
    left.dataframe(
        journey_tables.paths_table(summary.top_paths(result.journeys)), hide_index=True, width="stretch"
    )
    left.dataframe(summary.path_statistics(result.journeys).round(2), hide_index=True, width="stretch")
    right.altair_chart(charts.touches_chart(summary.touches_histogram(result.journeys)), width="stretch")


def _causal_check(events, result, truth) -> None:
    st.subheader("The causal check: credit against what each channel caused")
    check = causal_check(events, result.credit, result.settings.stage, truth)
    if check is None:
        st.info(
            "Add a holdouts file (per channel, its eligible people and whether each was held out at random) to hold "
            "each model's credit against the conversions the channel caused."
        )
        return
    st.caption(
        "Per channel, among the people eligible for it: conversion rate of the exposed minus that of the randomly "
        "held out (difference in means, unpooled 95% CI), times the people exposed."
    )
    st.dataframe(journey_tables.lift_table(check.lift), hide_index=True, width="stretch")
    st.dataframe(journey_tables.check_table(check.table, check.models), hide_index=True, width="stretch")
    if check.errors is None:
        st.info(plain(check.unavailable, MAX_MESSAGE_CHARS))
        return
    st.dataframe(
        journey_tables.error_table(check.errors, against=check.against), hide_index=True, width="stretch"
    )
    st.altair_chart(
        charts.credit_against_incremental_chart(
            journey_tables.credit_shares(result.credit), check.incremental, label=check.against
        ),
        width="stretch",
    )
    st.info(plain(journey_tables.closest_model_sentence(check), MAX_MESSAGE_CHARS))


upload_tab, demo_tab = st.tabs(["Upload logs", "Demo journeys"])
with upload_tab:
    _upload_logs()
with demo_tab:
    _demo_logs()

_restore()
events = st.session_state.get(common.JOURNEY_EVENTS)
if events is None:
    st.info("Upload a touchpoint log and a conversion log, or open the demo journeys.")
    st.stop()
st.caption(f"Journeys from {plain(st.session_state[common.JOURNEY_SOURCE], MAX_MESSAGE_CHARS)}.")
for warning in events.warnings:
    st.warning(plain(warning, MAX_MESSAGE_CHARS))
with st.expander("People linked across the files"):
    for line in journey_tables.identity_sentences(events.identity):
        st.text(line)

models, settings = _settings(events)
if not models:
    st.info("Choose at least one model.")
    st.stop()
try:
    result = _attribution(events, models, settings)
except ImpactIQError as error:
    common.show_error(error)
    st.stop()
for note in result.notes:
    st.info(plain(note, MAX_MESSAGE_CHARS))
_credit(events, result)
_roi(events, result, st.session_state.get(common.JOURNEY_SPEND))
_paths(result)
_causal_check(events, result, st.session_state.get(common.JOURNEY_TRUTH))
