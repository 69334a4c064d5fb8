"""What every page shares: session-state keys, the current data set, and error display.

Keys live here, and only here, so that pages never disagree on a string literal.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, TypeVar

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from impactiq.data.experiment import Experiment
from impactiq.errors import ImpactIQError
from impactiq.present.tables import model_caption
from impactiq.present.text import MAX_MESSAGE_CHARS, plain
from impactiq.uplift.arms import ArmView
from impactiq.uplift.store import SavedModel, load_model, usable_models
from impactiq.uplift.workspace import MAX_AGE_DAYS, Workspace, new_workspace, open_workspace

# The demo data and the summary pull in scipy (a second of start-up): imported where they are
# used, so that a page that needs neither (the Demo page) opens fast on a server's first visit.
if TYPE_CHECKING:
    from impactiq.data.summary import Summary
    from impactiq.evaluation.progress import Progress

T = TypeVar("T")

# The validated Experiment every page works on, and its summary (computed once per load).
EXPERIMENT = "experiment"
SUMMARY = "summary"
# Where the current data came from, shown as a caption on every page.
DATA_SOURCE = "data_source"
# An uploaded table that still needs a column mapping before it becomes the experiment.
PENDING_TABLE = "pending_table"
PENDING_NAME = "pending_name"
# Where the pending table came from ("uploaded file", "server file"), for the data source label.
PENDING_SOURCE = "pending_source"
# The file id of the last upload we processed, so a rerun does not process it again.
PROCESSED_UPLOAD = "processed_upload"
# The model every page uses: a folder name under models/; for a multi-arm model, the arm shown.
MODEL_NAME = "model_name"
MODEL_ARM = "model_arm"
ARM_WIDGET = "model_arm_widget"
# The last training result shown on the Train page, the name it is saved under, and a
# replace or delete waiting for the user's confirmation.
TRAINED = "trained"
# Which data set the last trained model belongs to: `use_experiment` gives every data set a new
# token, and training records the token of the data it saw.
DATA_TOKEN = "data_token"
TRAINED_DATA_TOKEN = "trained_data_token"
SAVE_NAME = "save_name"
PENDING_REPLACE = "pending_replace"
PENDING_DELETE = "pending_delete"

# Set once a session has run a page through streamlit_app.py's navigation.
IN_APP_NAVIGATION = "in_app_navigation"

# Simulator state: the model whose scenario the widgets hold, the last scored batch file, and
# the cost and value inputs; widget keys that depend on a model's features come from
# `simulator_key`, one set per model.
SIMULATOR_LOADED = "simulator_loaded"
SIMULATOR_BATCH = "simulator_batch"
SIMULATOR_COST = "simulator_cost"
SIMULATOR_VALUE = "simulator_value"

# Journeys page: the linked logs (`journeys.events.Events`), where they came from, the true
# incremental conversions of demo journeys, the uploaded tables by role, and the last result.
JOURNEY_EVENTS = "journey_events"
JOURNEY_SOURCE = "journey_source"
JOURNEY_TRUTH = "journey_truth"
JOURNEY_TABLES = "journey_tables"
JOURNEY_RESULT = "journey_result"
JOURNEY_SPEND = "journey_spend"

DEFAULT_DEMO = "synthetic"
# The model `make setup` trains; pages pick it first when it exists.
DEMO_MODEL = "demo"
# Tests point the app at a temporary folder so they never touch saved models.
MODELS_DIR = os.environ.get("IMPACTIQ_MODELS_DIR", "models")
# Each visitor's workspace (`uplift.workspace`): its id rides in the URL as ?ws=...
WORKSPACE_DIR = os.environ.get("IMPACTIQ_WORKSPACE_DIR", os.path.join(MODELS_DIR, ".workspaces"))
QUERY_WORKSPACE = "ws"
WORKSPACE = "workspace"
# Set once per session when the workspace in the URL has been read (or found missing).
WORKSPACE_CHECKED = "workspace_checked"
# What a reload found: a training that never finished, shown once on the Train page.
INTERRUPTED_TRAINING = "interrupted_training"
# The data token of the data set the workspace holds (saved once per data set).
PERSISTED_TOKEN = "persisted_token"


def simulator_key(model_name: str, part: str) -> str:
    """The session key of a Simulator widget that belongs to one model's features."""
    return f"simulator:{model_name}:{part}"


def use_app_navigation() -> None:
    """Run this page inside streamlit_app.py's navigation, even when reached by a direct link.

    Streamlit treats the folder named `pages/` as a legacy page list until some session has run
    `st.navigation`; a shared link opened first after the server starts would otherwise run a
    page on its own, without the app's layout or menu. For a session that has not yet been
    through the app's navigation, clearing that flag and rerunning sends the request through
    the entry point, which resolves the same URL to the same page. Sessions that have (the
    only ones that can have clicked anything) are never rerun here.
    """
    if not PagesManager.uses_pages_directory:
        st.session_state[IN_APP_NAVIGATION] = True
    elif not st.session_state.get(IN_APP_NAVIGATION):
        PagesManager.uses_pages_directory = False
        st.rerun()
    _restore_workspace()


def _restore_workspace() -> None:
    """Bring back the data set and last model of the workspace in the URL, once per session.

    A reload starts a new session with an empty state; the URL still names the workspace, so
    the data set, its source and the last trained model come back, and a training that the
    reload cut short is reported. The id is kept in the URL on every page."""
    space = st.session_state.get(WORKSPACE)
    if not st.session_state.get(WORKSPACE_CHECKED):
        st.session_state[WORKSPACE_CHECKED] = True
        wanted = st.query_params.get(QUERY_WORKSPACE)
        if wanted is not None:
            space = open_workspace(WORKSPACE_DIR, wanted)
            if space is None:
                st.warning(
                    "This link's workspace no longer exists (workspaces are kept for "
                    f"{MAX_AGE_DAYS} days without use); the demo data is shown instead."
                )
            else:
                _load_workspace(space)
    if space is not None:
        st.query_params[QUERY_WORKSPACE] = space.id


def keep_workspace_in_url() -> None:
    """Put the workspace id back after a page rewrote the URL's parameters (a Simulator scenario)."""
    if WORKSPACE in st.session_state:
        st.query_params[QUERY_WORKSPACE] = st.session_state[WORKSPACE].id


def _load_workspace(space: Workspace) -> None:
    st.session_state[WORKSPACE] = space
    try:
        kept = space.load_experiment()
        trained = space.load_trained() if kept is not None else None
    except ImpactIQError as error:
        show_error(error)
        return
    if kept is None:
        return
    experiment, source = kept
    use_experiment(experiment, None, source, persist=False)
    st.session_state[PERSISTED_TOKEN] = st.session_state[DATA_TOKEN]
    if trained is not None:
        st.session_state[TRAINED] = trained
        st.session_state[TRAINED_DATA_TOKEN] = st.session_state[DATA_TOKEN]
    st.session_state[INTERRUPTED_TRAINING] = space.interrupted_training()
    space.forget_training()
    st.toast(
        f"Restored from this link: {plain(experiment.name)}" + (" and its last model." if trained else ".")
    )


def workspace() -> Workspace:
    """The session's workspace, made (and put in the URL) on first use."""
    if WORKSPACE not in st.session_state:
        st.session_state[WORKSPACE] = new_workspace(WORKSPACE_DIR)
        st.session_state[WORKSPACE_CHECKED] = True
    space = st.session_state[WORKSPACE]
    st.query_params[QUERY_WORKSPACE] = space.id
    return space


def show_table(frame) -> None:
    """A small table of formatted text that wraps instead of being cut off.

    `st.dataframe` sizes columns to their content and scrolls sideways, so a long note or a
    tenth column disappears past the edge; a static table wraps every cell. For tables of a few
    dozen rows (metrics, segments, strategies); long tables stay interactive dataframes."""
    st.table(frame.set_index(frame.columns[0]))


def show_verdict(level: str, verdict: str) -> None:
    """A verdict in words (`present.tables.quality_verdict`, `heterogeneity_verdict`): green when
    good, amber when bad or off, blue otherwise."""
    {"good": st.success, "bad": st.warning, "off": st.warning}.get(level, st.info)(
        plain(verdict, MAX_MESSAGE_CHARS)
    )


def show_error(error: ImpactIQError) -> None:
    """Show a user-fixable problem; what the user had before stays loaded.

    Messages quote column names, values and file names from outside: shown as plain text.
    """
    st.error(plain(error, MAX_MESSAGE_CHARS), icon=":material/error:")


# How often a long piece of work's progress line is redrawn.
PROGRESS_POLL_SECONDS = 0.5


class _Cancelled(Exception):
    """Raised in the worker at its next stage once the page that started it has stopped."""


def run_with_progress(
    work: Callable[[Callable[[str], None]], T],
    progress: Progress,
    show: Callable[[str], None],
    *,
    every: float = PROGRESS_POLL_SECONDS,
) -> T:
    """`work(on_stage)`, run in a worker thread while this thread calls `show(progress.line())`
    every `every` seconds; its result, or its exception raised here.

    Streamlit elements can be updated only from the script's own thread, hence the worker.
    `on_stage` records each stage in `progress`. When the script is stopped meanwhile (a rerun,
    the visitor leaving), the worker stops at its next stage and is waited for, so that no
    training goes on unseen.
    """
    cancelled = threading.Event()

    def on_stage(stage: str) -> None:
        if cancelled.is_set():
            raise _Cancelled
        progress.start(stage)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="impactiq-work") as pool:
        future = pool.submit(work, on_stage)
        try:
            while not future.done():
                show(progress.line())
                wait([future], timeout=every)
        except BaseException:
            cancelled.set()
            raise
    result = future.result()
    progress.finish()
    return result


@st.cache_data(show_spinner=False, max_entries=8)
def _demo(name: str, n_rows: int, arm: str) -> tuple[Experiment, Summary]:
    """A demo data set and its summary, computed once per choice and shared by reruns."""
    from impactiq.data.demo import load_demo
    from impactiq.data.summary import summarise

    experiment = load_demo(name, n_rows=n_rows, arm=arm)
    return experiment, summarise(experiment)


def use_experiment(
    experiment: Experiment, summary: Summary | None, source: str, *, persist: bool = True
) -> None:
    """Make `experiment` the data set every page works on; only a valid one ever gets here.

    With `persist` it is also kept in the session's workspace, so that a reload brings it back."""
    st.session_state[EXPERIMENT] = experiment
    if summary is None:
        from impactiq.data.summary import summarise

        summary = summarise(experiment)
    st.session_state[SUMMARY] = summary
    st.session_state[DATA_SOURCE] = source
    st.session_state[DATA_TOKEN] = uuid.uuid4().hex
    if persist:
        keep_data()


def keep_data() -> Workspace:
    """The session's workspace, holding the current data set (written there once per data set)."""
    space = workspace()
    if st.session_state.get(PERSISTED_TOKEN) != st.session_state.get(DATA_TOKEN):
        space.save_experiment(current_experiment(), st.session_state[DATA_SOURCE])
        st.session_state[PERSISTED_TOKEN] = st.session_state[DATA_TOKEN]
    return space


def use_demo(name: str, *, n_rows: int | None = None, arm: str = "any", persist: bool = True) -> None:
    """Load a demo data set into the session (`n_rows` None: the demo's default size)."""
    from impactiq.data.demo import DEFAULT_ROWS, DEMO_DATASETS

    experiment, summary = _demo(name, DEFAULT_ROWS if n_rows is None else n_rows, arm)
    use_experiment(experiment, summary, f"demo data set: {DEMO_DATASETS[name]}", persist=persist)


def current_experiment() -> Experiment:
    """The session's data set; the default demo set on a first visit, so no page starts empty."""
    if EXPERIMENT not in st.session_state:
        # Nothing chosen yet: nothing to keep, so no workspace is made for a mere visit.
        use_demo(DEFAULT_DEMO, persist=False)
    return st.session_state[EXPERIMENT]


def current_summary() -> Summary:
    """The summary of the session's data set."""
    current_experiment()
    return st.session_state[SUMMARY]


@st.cache_resource(show_spinner="Loading the model…", max_entries=4)
def load_saved_model(path: str, version: str) -> SavedModel:
    """A saved model, loaded once per saved version and shared by reruns (read-only).

    `version` is the folder the name leads to (`list_models`): a replaced model is a new
    version, so it is never served from the cache of the old one.
    """
    return load_model(path)


def pick_model(
    *, linked: str | None = None, linked_arm: str | None = None
) -> tuple[dict, SavedModel | ArmView]:
    """The saved model chosen in a select box, and its `list_models` entry.

    The default is the model named by a shared link, else the session's, else the demo model,
    else the newest. A multi-arm model is seen one arm against control at a time, chosen in a
    second select box (`ArmView`), first set to the link's arm when there is one. Without a usable model, or when the chosen one fails its
    checks, the page says what to do and stops.
    """
    models = usable_models(MODELS_DIR)
    if not models:
        st.info("No saved model yet: train one on the Train page and save it, then come back.")
        st.stop()
    names = [m["name"] for m in models]
    if linked is not None and linked not in names:
        st.warning(f"The link's model '{plain(linked)}' does not exist here; using another model.")
    ranked = [linked, st.session_state.get(MODEL_NAME), DEMO_MODEL, names[0]]
    default = next(n for n in ranked if n in names)
    name = st.selectbox("Model", names, index=names.index(default), help="Saved models, newest first.")
    st.session_state[MODEL_NAME] = name
    entry = models[names.index(name)]
    # Every result below belongs to this model and the data it was trained on: said once, here.
    st.caption(plain(model_caption(entry), MAX_MESSAGE_CHARS))
    try:
        model = load_saved_model(str(entry["path"]), entry["version"])
        _ = model.holdout  # parsed here, so a damaged file stops the page with its reason
    except ImpactIQError as error:
        show_error(error)
        st.stop()
    if not model.arms:
        return entry, model
    arms = list(model.arms)
    if linked_arm is not None:
        if linked_arm in arms:
            st.session_state[ARM_WIDGET] = linked_arm
        else:
            st.warning(f"The link's arm '{plain(linked_arm)}' is not an arm of this model; showing another.")
    # The widget's own state is dropped when the user visits another page; the choice is kept
    # under MODEL_ARM and handed back to the widget when it is drawn again.
    if st.session_state.get(ARM_WIDGET) not in arms:
        chosen = st.session_state.get(MODEL_ARM)
        st.session_state[ARM_WIDGET] = chosen if chosen in arms else arms[0]
    arm = st.selectbox(
        f"Arm, against {', '.join(plain(value) for value in model.schema.control_values)}",
        arms,
        key=ARM_WIDGET,
        help="This model compares several arms with control; the page shows one arm at a time.",
    )
    st.session_state[MODEL_ARM] = arm
    return entry, ArmView(model, arm)
