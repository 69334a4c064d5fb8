"""Train: fit an uplift model on the session's data, evaluate it on a holdout, save and manage models."""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from impactiq.data.sampling import SMALLEST_SAMPLE
from impactiq.errors import ImpactIQError
from impactiq.evaluation.comparison import AUTO, AUTO_DESCRIPTION
from impactiq.evaluation.holdout import N_BOOT
from impactiq.evaluation.progress import format_duration, training_progress
from impactiq.evaluation.refutation import refute
from impactiq.evaluation.training import train_model
from impactiq.evaluation.validation import validation_summary
from impactiq.present import charts
from impactiq.present.report import model_report, report_filename, report_unavailable
from impactiq.present.tables import (
    broken_models_table,
    holdout_heterogeneity_verdict,
    metrics_table,
    models_table,
    quality_verdict,
    uncalibrated_reason,
)
from impactiq.present.text import MAX_MESSAGE_CHARS, plain
from impactiq.present.validation import (
    calibration_sentence,
    comparison_of,
    comparison_sentence,
    readable_comparison,
    readable_refutation,
    refutation_verdict,
    targeting_sentence,
)
from impactiq.uplift.arms import ArmView
from impactiq.uplift.estimators import ESTIMATOR_DESCRIPTIONS, ESTIMATORS, MULTI_ARM_ESTIMATORS
from impactiq.uplift.store import ModelExistsError, default_model_name, delete_model, list_models, save_model
from pages import common

common.use_app_navigation()

st.title("Train")
st.caption(
    "Estimate each user's uplift (the change in the outcome that treatment causes) and check it on "
    "users the model never saw. Scores follow scikit-uplift's definitions."
)


def _train_form() -> None:
    """Choose what to model and how; training runs when the form is submitted."""
    experiment = common.current_experiment()
    st.caption(f"Data: {plain(experiment.name)}; change it on the Data page.")
    schema = experiment.schema
    with st.form("train"):
        left, right = st.columns(2)
        outcome = left.selectbox("Outcome", list(schema.outcomes))
        # A multi-arm experiment is offered only the estimators that model several arms, and `auto`,
        # which compares those.
        offered = [*(MULTI_ARM_ESTIMATORS if experiment.arm is not None else ESTIMATORS), AUTO]
        descriptions = {**ESTIMATOR_DESCRIPTIONS, AUTO: AUTO_DESCRIPTION}
        estimator = right.selectbox("Estimator", offered, format_func=lambda e: descriptions[e])
        features = st.multiselect("Features", list(schema.features), default=list(schema.features))
        sample = st.number_input(
            "Rows to use (a seeded, stratified sample; all rows by default)",
            min_value=min(SMALLEST_SAMPLE, experiment.n_rows),
            max_value=experiment.n_rows,
            value=experiment.n_rows,
            step=10_000,
        )
        with st.expander("Advanced settings"):
            test_size = st.slider("Holdout share", 0.1, 0.5, 0.3, 0.05)
            seed = st.number_input("Seed", 0, 2**31 - 1, 0)
            n_boot = st.number_input("Bootstrap replicates for metric intervals", 50, 1000, N_BOOT, step=50)
        submitted = st.form_submit_button("Train", type="primary")
    if not submitted:
        return
    space = common.keep_data()
    space.start_training(outcome, estimator)
    options = {
        "outcome": outcome,
        "estimator": estimator,
        "features": features,
        "sample": None if sample >= experiment.n_rows else int(sample),
        "test_size": test_size,
        "seed": int(seed),
        "n_boot": int(n_boot),
    }
    # The stage, the time elapsed and a forecast of the time left, redrawn while a stage runs.
    progress = training_progress(experiment.n_rows, **options)
    with st.status("Training…", expanded=True) as status:
        line = st.empty()
        try:
            trained = common.run_with_progress(
                lambda on_stage: train_model(experiment, on_stage=on_stage, **options), progress, line.caption
            )
        except ImpactIQError as error:
            status.update(label="Training stopped", state="error")
            space.forget_training()
            common.show_error(error)
            return
        line.caption(progress.line())
        status.update(
            label=f"Trained in {format_duration(progress.elapsed())}", state="complete", expanded=False
        )
    st.session_state[common.TRAINED] = trained
    st.session_state[common.TRAINED_DATA_TOKEN] = st.session_state.get(common.DATA_TOKEN)
    space.save_trained(trained)  # a reload brings it back
    st.session_state[common.SAVE_NAME] = default_model_name(trained)
    st.session_state.pop(common.PENDING_REPLACE, None)


def _results(model, title: str) -> None:
    """Holdout evidence of a model (just trained or saved): scores, curves, deciles, distribution."""
    holdout = model.holdout
    binary = model.schema.is_binary(model.outcome)
    st.subheader(title)
    common.show_verdict(*quality_verdict(model.metrics))
    common.show_verdict(*holdout_heterogeneity_verdict(holdout, binary=binary))
    common.show_table(metrics_table(model.metrics, binary=binary))
    _side_by_side(charts.holdout_charts(holdout, model.deciles, binary=binary))
    summary = validation_summary(holdout)
    _side_by_side(charts.validation_charts(summary, binary=binary))
    targeting = summary["targeting"]
    left, right = st.columns(2)
    left.caption(calibration_sentence(pd.DataFrame(summary["calibration"])))
    if "unavailable" in targeting:
        right.info(targeting["unavailable"])
    else:
        right.caption(targeting_sentence(targeting["autoc"], binary=binary))


def _side_by_side(shown) -> None:
    """Charts two to a row."""
    for start in range(0, len(shown), 2):
        for column, chart in zip(st.columns(2), shown[start : start + 2], strict=False):
            column.altair_chart(chart, width="stretch")


def _save(trained) -> None:
    """Save the model just trained under a name; the other pages then use it.

    The suggested name is unique (outcome, estimator, data set, time stamp), so two people
    saving with the default never collide; a name that is taken is replaced only after the
    user confirms it.
    """
    with st.form("save"):
        # The suggestion lives under its own key, not the widget's: Streamlit forgets widget
        # state when the user visits another page, and the suggestion must survive that.
        suggested = st.session_state.setdefault(common.SAVE_NAME, default_model_name(trained))
        name = st.text_input("Save as (letters, digits, - and _)", value=suggested)
        submitted = st.form_submit_button("Save model")
    pending = st.session_state.get(common.PENDING_REPLACE)
    if submitted:
        _save_as(trained, name, replace=False)
    elif pending is not None:
        st.warning(f"A model named '{plain(pending)}' already exists. Replace it with this one?")
        confirm, cancel = st.columns(2)
        if confirm.button(f"Replace '{plain(pending)}'", type="primary"):
            _save_as(trained, pending, replace=True)
        elif cancel.button("Keep the existing model"):
            del st.session_state[common.PENDING_REPLACE]
            st.rerun()


def _save_as(trained, name: str, *, replace: bool) -> None:
    st.session_state.pop(common.PENDING_REPLACE, None)
    try:
        path = save_model(trained, name, models_dir=common.MODELS_DIR, replace=replace)
    except ModelExistsError:
        st.session_state[common.PENDING_REPLACE] = name
        st.rerun()
    except ImpactIQError as error:
        common.show_error(error)
        return
    st.session_state[common.MODEL_NAME] = path.name
    st.success(f"Saved as {plain(path.name)}. The Simulator and Segments pages now use it.")


def _saved_models() -> None:
    """Pick, inspect and delete saved models; broken ones are listed apart, with the reason."""
    st.divider()
    st.subheader("Saved models")
    models = list_models(common.MODELS_DIR)
    if not models:
        st.info("No saved models yet: train one above and save it.")
        return
    usable = [m for m in models if m["error"] is None]
    broken = [m for m in models if m["error"] is not None]
    if usable:
        st.dataframe(models_table(usable), hide_index=True, width="stretch")
    if broken:
        st.warning(
            f"{len(broken)} saved model(s) cannot be used; they are never offered to a page. Delete them."
        )
        st.dataframe(broken_models_table(broken), hide_index=True, width="stretch")
    names = [m["name"] for m in usable + broken]
    current = st.session_state.get(common.MODEL_NAME)
    name = st.selectbox("Model", names, index=names.index(current) if current in names else 0)
    entry = (usable + broken)[names.index(name)]
    use, inspect, delete = st.columns(3)
    if use.button("Use this model", disabled=entry["error"] is not None):
        st.session_state[common.MODEL_NAME] = name
    show = inspect.toggle("Inspect", disabled=entry["error"] is not None)
    if delete.button("Delete…", type="secondary"):
        st.session_state[common.PENDING_DELETE] = name
    if st.session_state.get(common.PENDING_DELETE) == name:
        _confirm_delete(name)
    else:
        st.session_state.pop(common.PENDING_DELETE, None)  # asked about another model: not this one
    if show and entry["error"] is None:
        try:
            _evidence(common.load_saved_model(entry["path"], entry["version"]), f"Saved model {plain(name)}")
        except ImpactIQError as error:
            common.show_error(error)


def _evidence(model, title: str, *, current: bool = False) -> None:
    """A model's holdout evidence (a multi-arm model's arm by arm against control, in tabs), then
    its intervals, the comparison that chose it, its refutation checks and its report.

    `current` marks the model just trained on the current data: only that one can be refitted
    for the refutation checks.
    """
    if not model.arms:
        _results(model, title)
    else:
        st.caption(f"{title}: {len(model.arms)} arms, each judged against control on its own holdout rows.")
        for tab, arm in zip(st.tabs([plain(a) for a in model.arms]), model.arms, strict=True):
            with tab:
                view = ArmView(model, arm)
                _results(view, f"{plain(view.label)}: holdout of {len(view.holdout):,} users")
    reason = uncalibrated_reason(model.data) if model.has_intervals else None
    uncalibrated = f" {reason}" if reason else ""
    st.caption(
        f"Intervals: {plain(model.model.interval_method, max_chars=None)}.{plain(uncalibrated, max_chars=None)}"
    )
    comparison = comparison_of(model.data)
    if comparison is not None:
        st.subheader("Model comparison")
        st.markdown(plain(comparison_sentence(comparison), MAX_MESSAGE_CHARS))
        common.show_table(readable_comparison(comparison, binary=model.schema.is_binary(model.outcome)))
    _refutation(model, current=current)
    unavailable = report_unavailable()
    if unavailable:
        st.warning(unavailable)
        return
    st.download_button(
        "Download the report (HTML)",
        data=lambda: model_report(model),
        file_name=report_filename(model),
        mime="text/html",
        help="One self-contained file: data, model, metrics with intervals, validation, charts.",
    )


def _refutation(model, *, current: bool) -> None:
    """Stored refutation checks with their verdict; for the current model, a button that runs them."""
    st.subheader("Refutation checks")
    checks = model.data.get("refutation")
    if checks:
        common.show_verdict(*refutation_verdict(checks))
        common.show_table(readable_refutation(checks, binary=model.schema.is_binary(model.outcome)))
    elif not current:
        st.caption(
            "Not run for this model: they refit it, so they run on the Train page right after training."
        )
        return
    if not current or not st.button(
        "Run the refutation checks" if not checks else "Run them again",
        help="A placebo treatment, a random common cause and three data subsets: five refits of this model.",
    ):
        return
    started = time.perf_counter()
    with st.status("Refuting…", expanded=True) as status:

        def on_step(step: str) -> None:
            status.update(label=f"Refitting: {step}… ({time.perf_counter() - started:.0f} s elapsed)")
            st.write(f"{time.perf_counter() - started:5.1f} s · {step}")

        try:
            result = refute(common.current_experiment(), model, on_step=on_step)
        except ImpactIQError as error:
            status.update(label="Refutation stopped", state="error")
            common.show_error(error)
            return
        status.update(
            label=f"Refuted in {time.perf_counter() - started:.0f} s", state="complete", expanded=False
        )
    model.data["refutation"] = [check.to_dict() for check in result]
    common.keep_data().save_trained(model)  # a reload keeps the checks
    st.rerun()


def _confirm_delete(name: str) -> None:
    """Delete only after a second click; the demo model comes back with `make setup`."""
    again = " (`make setup` trains it again)" if name == common.DEMO_MODEL else ""
    st.warning(f"Delete the model '{plain(name)}'{again}? This cannot be undone.")
    confirm, cancel = st.columns(2)
    if confirm.button(f"Delete '{plain(name)}'", type="primary"):
        del st.session_state[common.PENDING_DELETE]
        try:
            delete_model(f"{common.MODELS_DIR}/{name}")
        except ImpactIQError as error:
            common.show_error(error)
            return
        if st.session_state.get(common.MODEL_NAME) == name:
            del st.session_state[common.MODEL_NAME]
        st.rerun()
    elif cancel.button("Keep it"):
        del st.session_state[common.PENDING_DELETE]
        st.rerun()


def _last_trained() -> None:
    """The model trained last in this session, as current only if it was trained on the current data."""
    trained = st.session_state[common.TRAINED]
    title = f"{trained.estimator} on {plain(trained.outcome)}: holdout of {len(trained.holdout):,} users"
    if st.session_state.get(common.TRAINED_DATA_TOKEN) == st.session_state.get(common.DATA_TOKEN):
        _evidence(trained, title, current=True)
        _save(trained)
        return
    st.warning(
        f"The last model was trained on another data set ({plain(trained.data.get('name', 'unknown'))}), not on "
        f"the current one ({plain(common.current_experiment().name)}). Train again for the current data, or "
        "open the earlier model below to save it."
    )
    with st.expander(f"Earlier model, trained on {plain(trained.data.get('name', 'another data set'))}"):
        _evidence(trained, title)
        _save(trained)


interrupted = st.session_state.pop(common.INTERRUPTED_TRAINING, None)
if interrupted:
    st.warning(
        f"A training of {plain(interrupted['estimator'])} on {plain(interrupted['outcome'])} was interrupted (the page "
        "was reloaded or closed before it finished) and left no model. Train again."
    )
_train_form()
if common.TRAINED in st.session_state:
    _last_trained()
_saved_models()
