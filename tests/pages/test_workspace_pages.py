"""Nothing lost on a reload: the workspace in the URL brings back the data set and the last model."""

from __future__ import annotations

import io

import pytest
from streamlit.testing.v1 import AppTest

from impactiq.data.synthetic import make_criteo_like
from impactiq.present.text import plain
from impactiq.uplift.store import list_models
from impactiq.uplift.workspace import open_workspace
from pages import common

APP = "../../streamlit_app.py"
UPLOAD = "Upload an experiment (CSV, CSV.gz or Parquet, up to 1 GB)"


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    """A new browser session (a reload), optionally opening a URL with a workspace id."""
    monkeypatch.setattr(common, "WORKSPACE_DIR", str(tmp_path / "workspaces"))
    monkeypatch.setattr(common, "MODELS_DIR", str(tmp_path / "models"))

    def session(page: str = "pages/data.py", ws: str | None = None) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=300)
        if ws is not None:
            at.query_params[common.QUERY_WORKSPACE] = ws
        at.switch_page(page)
        at.run()
        assert not at.exception, at.exception
        return at

    return session


def _labelled(elements, label: str):
    return next(e for e in elements if e.label == label)


def _upload(at: AppTest) -> str:
    buffer = io.StringIO()
    make_criteo_like(3_000, seed=8).to_csv(buffer, index=False)
    _labelled(at.file_uploader, UPLOAD).upload("campaign.csv", buffer.getvalue().encode(), "text/csv")
    at.run()
    assert not at.exception
    return at.query_params[common.QUERY_WORKSPACE]


def test_a_visit_makes_no_workspace(fresh):
    at = fresh()
    assert common.QUERY_WORKSPACE not in at.query_params


def test_a_reload_brings_back_the_uploaded_data_set(fresh):
    """Seen: reloading lost the uploaded data set and fell back to the synthetic demo without a word."""
    workspace_id = _upload(fresh())
    again = fresh(ws=workspace_id)
    assert f"Current data set: {plain('campaign.csv')}" in [s.value for s in again.subheader]
    assert any("Restored from this link" in t.value for t in again.toast)
    assert again.query_params[common.QUERY_WORKSPACE] == workspace_id


def test_a_reload_brings_back_the_unsaved_model_which_can_still_be_saved(fresh, tmp_path):
    at = fresh()
    workspace_id = _upload(at)
    at.switch_page("pages/train.py").run()
    _labelled(at.number_input, "Bootstrap replicates for metric intervals").set_value(50)
    _labelled(at.button, "Train").click().run()
    assert any("causal_forest on visit" in s.value for s in at.subheader)

    again = fresh("pages/train.py", ws=workspace_id)
    assert any("causal_forest on visit" in s.value for s in again.subheader)
    assert not any("another data set" in w.value for w in again.warning)
    _labelled(again.button, "Save model").click().run()
    assert not again.exception and any("Saved as" in s.value for s in again.success)
    assert len(list_models(tmp_path / "models")) == 1


def test_a_reload_during_training_says_the_training_was_interrupted(fresh, tmp_path):
    """Seen: reloading during training left no result and no message."""
    workspace_id = _upload(fresh())
    open_workspace(tmp_path / "workspaces", workspace_id).start_training("visit", "causal_forest")
    again = fresh("pages/train.py", ws=workspace_id)
    assert any("was interrupted" in w.value for w in again.warning)
    # Said once: the next run does not repeat it.
    again.run()
    assert not any("was interrupted" in w.value for w in again.warning)


@pytest.mark.parametrize("ws", ["A" * 22, "../../etc/passwd"])
def test_a_link_to_a_missing_workspace_says_so(fresh, ws):
    at = fresh(ws=ws)
    assert any("no longer exists" in w.value for w in at.warning)
