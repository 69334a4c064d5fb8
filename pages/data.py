"""Data: bring in an experiment (upload or demo), map its columns, and see what it says."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from impactiq.data.demo import DEFAULT_ROWS, DEMO_DATASETS, HILLSTROM_ARMS
from impactiq.data.experiment import prepare_experiment
from impactiq.data.mapping import (
    MAX_LISTED_TREATMENT_VALUES,
    suggest_mapping,
    too_many_values_warning,
    treatment_values,
)
from impactiq.data.reader import read_table, read_warnings
from impactiq.data.schema import build_schema, detect_criteo
from impactiq.data.server_files import DATA_DIR_VARIABLE, data_folder, list_data_files, open_data_file
from impactiq.errors import ImpactIQError
from impactiq.present import charts
from impactiq.present.formatting import format_estimate
from impactiq.present.tables import arm_effects_table, data_files_table, effects_table, truth_table
from impactiq.present.text import MAX_MESSAGE_CHARS, plain, shorten
from pages import common

# Where a table came from, as the data source label says it.
UPLOADED = "uploaded file"
SERVER_FILE = "server file"
# How the Hillstrom choices read in the demo picker.
HILLSTROM_ARM_LABELS = {
    "any": "any e-mail",
    "mens": "men's e-mail",
    "womens": "women's e-mail",
    "separate": "each e-mail an arm",
}

common.use_app_navigation()

st.title("Data")
st.caption(
    "A randomized experiment: who was treated, what happened, and what we knew about each user "
    "beforehand. Upload your own, open a demo data set or a file on the server."
)


def _upload() -> None:
    """Read a new upload; a Criteo-layout file is used at once, anything else waits for a mapping."""
    uploaded = st.file_uploader(
        # Any file is accepted here and the reader says what it cannot read: a type filter would
        # only mark a wrong file with a red chip and no words.
        "Upload an experiment (CSV, CSV.gz or Parquet, up to 1 GB)"
    )
    if uploaded is None or uploaded.file_id == st.session_state.get(common.PROCESSED_UPLOAD):
        return
    st.session_state[common.PROCESSED_UPLOAD] = uploaded.file_id
    # getvalue() hands over the upload's own bytes, not a copy.
    _use_table(lambda: read_table(uploaded.getvalue(), filename=uploaded.name), uploaded.name, UPLOADED)


def _server_files() -> None:
    """List the tables in the server's data folder; open one like an upload, without a size limit."""
    folder = data_folder()
    if folder is None:
        st.info(
            f"To open large files that live on the server, set {DATA_DIR_VARIABLE} to a folder on the "
            "server and restart the app."
        )
        return
    try:
        files = list_data_files(folder)
    except ImpactIQError as error:
        common.show_error(error)
        return
    if not files:
        st.info(
            f"No CSV or Parquet file in the data folder {plain(folder, MAX_MESSAGE_CHARS)}: put the files "
            "there (its top level; subfolders are not listed)."
        )
        return
    st.dataframe(data_files_table(files), hide_index=True)
    name = st.selectbox("File on the server", [f.name for f in files], format_func=shorten)
    if not st.button("Open", type="primary"):
        return
    try:
        path = open_data_file(folder, name)
    except ImpactIQError as error:
        common.show_error(error)
        return
    _use_table(lambda: read_table(path, max_bytes=None), name, SERVER_FILE)


def _use_table(read: Callable[[], pd.DataFrame], name: str, source: str) -> None:
    """Read a table with `read()`: a Criteo-layout one becomes the data set at once, any other waits
    for a mapping (`_mapping_form`). `source` says where it came from ("uploaded file")."""
    try:
        with st.spinner(f"Reading {plain(name)}…"):
            table = read()
            if detect_criteo(table.columns) is None:
                st.session_state[common.PENDING_TABLE] = table
                st.session_state[common.PENDING_NAME] = name
                st.session_state[common.PENDING_SOURCE] = source
                return
            experiment = prepare_experiment(table, name=name)
            del table  # free the raw table before the summary is computed
    except ImpactIQError as error:
        common.show_error(error)
        return
    st.session_state.pop(common.PENDING_TABLE, None)
    common.use_experiment(experiment, None, f"{source} {name} (Criteo layout)")


def _mapping_form(table: pd.DataFrame, name: str) -> None:
    """Ask which column is the treatment, which values are treated, and the outcomes and features."""
    st.subheader(f"Map the columns of {plain(name)}")
    for warning in read_warnings(table):
        st.warning(plain(warning, MAX_MESSAGE_CHARS))
    st.write(
        f"{len(table):,} rows, {table.shape[1]} columns. This table is not in Criteo's layout: say what each column is."
    )
    suggestion = suggest_mapping(table)
    columns = list(table.columns)
    treatment = st.selectbox(
        "Treatment column", columns, index=columns.index(suggestion.treatment) if suggestion.treatment else 0
    )
    values = treatment_values(table, treatment)
    too_many = too_many_values_warning(treatment, len(values))
    if too_many:
        st.warning(plain(too_many, MAX_MESSAGE_CHARS))
        values = values[:MAX_LISTED_TREATMENT_VALUES]
    same_column = treatment == suggestion.treatment
    with st.form("mapping"):
        left, right = st.columns(2)
        treated = left.multiselect(
            "Treated values", values, default=list(suggestion.treated_values) if same_column else []
        )
        control = right.multiselect(
            "Control values", values, default=list(suggestion.control_values) if same_column else []
        )
        others = [c for c in columns if c != treatment]
        outcomes = st.multiselect(
            "Outcome columns", others, default=[c for c in suggestion.outcomes if c in others]
        )
        features = st.multiselect(
            "Feature columns (measured before treatment)",
            others,
            default=[c for c in suggestion.features if c in others],
        )
        separate = st.checkbox(
            "Keep the treated values apart: each is an arm of its own (a channel), compared with control "
            "and with the others",
            help="Leave it off to pool every treated value into one treatment.",
        )
        submitted = st.form_submit_button("Use this mapping", type="primary")
    if not submitted:
        return
    try:
        schema = build_schema(
            table,
            treatment=treatment,
            treated_values=treated,
            control_values=control,
            outcomes=outcomes,
            features=features,
            separate_arms=separate,
        )
        experiment = prepare_experiment(table, schema, name=name)
    except ImpactIQError as error:
        common.show_error(error)
        return
    st.session_state.pop(common.PENDING_TABLE, None)
    del table  # free the raw table before the summary is computed
    common.use_experiment(experiment, None, f"{st.session_state.get(common.PENDING_SOURCE, UPLOADED)} {name}")
    st.rerun()


def _demo_picker() -> None:
    """Pick and load one of the built-in data sets."""
    name = st.selectbox("Demo data set", list(DEMO_DATASETS), format_func=lambda n: DEMO_DATASETS[n])
    n_rows, arm = DEFAULT_ROWS, "any"
    if name in ("synthetic", "multichannel"):
        n_rows = st.number_input("Rows", 1_000, 2_000_000, DEFAULT_ROWS, step=50_000)
    if name == "hillstrom":
        arm = st.radio(
            "Treated arm versus no e-mail",
            list(HILLSTROM_ARMS),
            format_func=HILLSTROM_ARM_LABELS.get,
            horizontal=True,
        )
    if st.button("Load demo data", type="primary"):
        try:
            common.use_demo(name, n_rows=int(n_rows), arm=arm)
        except ImpactIQError as error:
            common.show_error(error)  # a table waiting to be mapped stays, as does the data set
        else:
            st.session_state.pop(common.PENDING_TABLE, None)


def _show_summary() -> None:
    """The current data set: arms, outcome rates, naive effects, balance and randomization."""
    experiment, summary = common.current_experiment(), common.current_summary()
    st.divider()
    st.subheader(f"Current data set: {plain(experiment.name)}")
    st.caption(plain(st.session_state[common.DATA_SOURCE], MAX_MESSAGE_CHARS))
    for warning in experiment.warnings:
        st.warning(plain(warning, MAX_MESSAGE_CHARS))
    arms = summary.arms.set_index("arm")
    cols = st.columns(3)
    cols[0].metric("Rows", f"{summary.n_rows:,}")
    for column, arm in zip(cols[1:], ("treated", "control"), strict=True):
        column.metric(arm.capitalize(), f"{arms.loc[arm, 'rows']:,}")
        column.caption(f"{format_estimate(arms.loc[arm, 'share'], unit='share')} of rows")
    st.markdown("**Naive average effect** (difference in means, treated − control, with its 95% CI)")
    st.dataframe(effects_table(summary.effects), hide_index=True)
    if summary.arm_effects is not None:
        st.markdown(
            "**Arm by arm** (difference in means of each arm against control, then against each other arm, "
            "with its 95% CI)"
        )
        st.dataframe(arm_effects_table(summary.arm_effects), hide_index=True)
    if summary.truth is not None:
        st.markdown("**True average effect** (known for synthetic data) against the naive estimate")
        st.dataframe(truth_table(summary.truth), hide_index=True)
    outcome = st.selectbox("Outcome to chart", list(experiment.schema.outcomes))
    rates = summary.rates[summary.rates["outcome"] == outcome]
    left, right = st.columns(2)
    left.altair_chart(
        charts.estimate_with_interval_chart(
            rates,
            category="arm",
            estimate="mean",
            lower="mean_lower",
            upper="mean_upper",
            title=f"{outcome} by arm (95% CI)",
            unit="rate" if experiment.schema.is_binary(outcome) else "level",
        ),
        width="stretch",
    )
    right.altair_chart(
        charts.balance_chart(summary.balance, passed=summary.randomization.passed), width="stretch"
    )
    check = summary.randomization
    # The verdict names imbalanced features, which come from the file.
    (st.success if check.passed else st.warning)(
        f"Randomization check: {plain(check.verdict, MAX_MESSAGE_CHARS)}"
    )
    for arm, arm_check in (summary.arm_randomization or {}).items():
        (st.success if arm_check.passed else st.warning)(
            f"Randomization check, {plain(arm)} against control: {plain(arm_check.verdict, MAX_MESSAGE_CHARS)}"
        )


def _pending_mapping(source: str) -> None:
    """The mapping form of a table read from `source` that still waits for one."""
    if (
        common.PENDING_TABLE in st.session_state
        and st.session_state.get(common.PENDING_SOURCE, UPLOADED) == source
    ):
        _mapping_form(st.session_state[common.PENDING_TABLE], st.session_state[common.PENDING_NAME])


upload_tab, demo_tab, server_tab = st.tabs(["Upload a file", "Demo data", "Server files"])
with upload_tab:
    _upload()
    _pending_mapping(UPLOADED)
with demo_tab:
    _demo_picker()
with server_tab:
    _server_files()
    _pending_mapping(SERVER_FILE)
_show_summary()
