"""Stream: what the stream scorers are doing, live from their score log.

The log is the one `python -m impactiq stream` writes: $IMPACTIQ_SCORE_LOG, else scores.sqlite
in the folder the app runs from. Event text (keys, ids, dead letters' payloads and reasons)
comes from outside, so it is shown in tables only, never as markdown.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import streamlit as st

from impactiq.errors import ImpactIQError
from impactiq.present.tables import recent_scores_table
from impactiq.present.text import MAX_MESSAGE_CHARS, plain
from impactiq.serving.scorelog import SCORE_LOG_ENV, default_log_path, read_score_log
from impactiq.uplift.store import read_metadata
from pages import common

common.use_app_navigation()

# Throughput and latency are over the events scored in this last stretch of time.
WINDOW_SECONDS = 60
RECENT_SCORES = 200
RECENT_DEAD_LETTERS = 50
REFRESH_SECONDS = 2
START_COMMAND = "python -m impactiq stream --model models/demo --kafka localhost:9092 --in events --out scores --log {log}"

st.title("Stream")
st.caption(
    "Events scored as they arrive from Kafka by `python -m impactiq stream`: throughput and latency from "
    "produce to score over the last minute, events that could not be scored (dead letters), and events "
    "read again after a restart (duplicates: delivery is at-least-once, and the log keeps each event once)."
)
path = default_log_path()
live = st.toggle(f"Live: refresh every {REFRESH_SECONDS} s", value=True)


def _show_summary(log) -> None:
    summary = log.summary(WINDOW_SECONDS)
    rate, latency, totals = st.columns(3)
    rate.metric(f"Events/s, last {WINDOW_SECONDS} s", f"{summary.events_per_second:,.0f}")
    if summary.latency_ms:
        latency.metric(
            f"Latency p50 / p99, last {WINDOW_SECONDS} s",
            f"{summary.latency_ms[50]:,.0f} / {summary.latency_ms[99]:,.0f} ms",
            help="From the event's Kafka timestamp (when it was produced) to its score.",
        )
    else:
        latency.metric(f"Latency p50 / p99, last {WINDOW_SECONDS} s", "none scored")
    totals.metric("Scored", f"{summary.scored:,}")
    dead, duplicates, last = st.columns(3)
    dead.metric("Dead letters", f"{summary.dead_letters:,}")
    duplicates.metric("Duplicates", f"{summary.duplicates:,}", help="Events read again after a restart.")
    if summary.last_scored_at is not None:
        when = dt.datetime.fromtimestamp(summary.last_scored_at, dt.UTC)
        last.metric("Last scored (UTC)", when.strftime("%Y-%m-%d %H:%M:%S"))


def _binary_outcomes(models: set[str]) -> dict[str, bool]:
    """Whether each named model's outcome is 0/1, from its saved metadata; models not found (one
    since deleted, or saved elsewhere) are left out and keep the outcome's own unit."""
    binary = {}
    for name in models:
        try:
            metadata = read_metadata(Path(common.MODELS_DIR) / str(name))
        except (ImpactIQError, OSError):
            continue
        binary[name] = metadata.get("outcome_kind") == "binary"
    return binary


@st.fragment(run_every=REFRESH_SECONDS if live else None)
def show_log() -> None:
    try:
        log = read_score_log(path)
    except ImpactIQError as error:
        st.error(plain(error, MAX_MESSAGE_CHARS))
        return
    if log is None:
        st.info(
            plain(
                f"No score log at {path} yet. Start a scorer: it writes the log there "
                f"(the page reads ${SCORE_LOG_ENV}, else scores.sqlite in the folder the app runs from).",
                MAX_MESSAGE_CHARS,
            )
        )
        st.code(START_COMMAND.format(log=path), language="bash")
        return
    with log:
        _show_summary(log)
        st.subheader("Recent scores")
        recent = log.recent(RECENT_SCORES)
        st.dataframe(recent_scores_table(recent, _binary_outcomes(set(recent["model"]))), hide_index=True)
        letters = log.recent_dead_letters(RECENT_DEAD_LETTERS)
        if len(letters):
            st.subheader("Recent dead letters")
            st.dataframe(letters, hide_index=True)


show_log()
