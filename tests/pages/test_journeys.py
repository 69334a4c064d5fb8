"""AppTest of the Journeys page: demo journeys to the causal check, uploaded logs, bad files."""

from __future__ import annotations

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from impactiq.journeys.synthetic import make_journeys
from impactiq.present.text import plain
from pages import common

APP = "../../streamlit_app.py"


@pytest.fixture
def app(monkeypatch, tmp_path):
    monkeypatch.setattr(common, "MODELS_DIR", str(tmp_path))
    monkeypatch.setattr(common, "WORKSPACE_DIR", str(tmp_path / "workspaces"))
    at = AppTest.from_file(APP, default_timeout=300)
    at.switch_page("pages/journeys.py")
    at.run()
    assert not at.exception, at.exception
    return at


def _labelled(elements, label: str):
    return next(e for e in elements if e.label == label)


def _frame(at, column: str):
    return next(d.value for d in at.dataframe if column in d.value.columns)


def test_the_page_says_how_to_begin(app):
    assert any("Upload a touchpoint log" in i.value for i in app.info)
    assert not app.dataframe


def test_demo_journeys_reach_the_causal_check(app):
    _labelled(app.selectbox, "People").set_value(5_000)
    _labelled(app.button, "Open the demo journeys").click().run()
    assert not app.exception and not app.error
    credit = _frame(app, "Markov")
    assert list(credit.columns) == [
        "channel",
        "first touch",
        "last touch",
        "linear",
        "time decay",
        "position-based",
        "Markov",
        "Shapley",
    ]
    assert set(credit["channel"]) == {"call", "display", "email", "search", "social"}
    check = _frame(app, "incremental, true")
    assert check["incremental, measured [95% CI]"].str.count(r"\[").eq(1).all()
    errors = _frame(app, "credit misplaced against the truth")
    assert len(errors) == 7
    assert any(i.value.startswith(plain("Closest to the truth")) for i in app.info)
    roi = _frame(app, "ROAS (revenue / spend)")
    assert set(roi["channel"]) == {"call", "display", "email", "search", "social"}
    _labelled(app.selectbox, "ROI under the credit of").set_value("last").run()
    assert (
        _frame(app, "ROAS (revenue / spend)")["credited conversions"].tolist()
        != roi["credited conversions"].tolist()
    )


def test_settings_change_the_credit(app):
    _labelled(app.selectbox, "People").set_value(5_000)
    _labelled(app.button, "Open the demo journeys").click().run()
    before = _frame(app, "linear")["linear"].tolist()
    _labelled(app.checkbox, "Touches on the same day share that day's credit").check().run()
    _labelled(app.number_input, "Lookback window (days)").set_value(3.0).run()
    assert not app.exception
    assert _frame(app, "linear")["linear"].tolist() != before
    _labelled(app.multiselect, "Models").set_value(["first", "last"]).run()
    assert list(_frame(app, "first touch").columns) == ["channel", "first touch", "last touch"]


def test_uploaded_logs_are_linked_and_attributed(app):
    data = make_journeys(3_000, seed=1)
    _labelled(app.file_uploader, "Touchpoints: time, channel, and a customer id, phone or e-mail").upload(
        "touches.csv", data.touchpoints.to_csv(index=False).encode(), "text/csv"
    )
    _labelled(app.file_uploader, "Conversions: identifier(s), time, optional stage and revenue").upload(
        "orders.csv", data.conversions.to_csv(index=False).encode(), "text/csv"
    )
    app.run()
    _labelled(app.file_uploader, "Customers (CRM): customer_id, phone, email, one row per pair").upload(
        "crm.csv", data.customers.to_csv(index=False).encode(), "text/csv"
    )
    _labelled(
        app.file_uploader, "Holdouts: per channel, its eligible people and whether each was held out"
    ).upload("holdouts.csv", data.holdouts.to_csv(index=False).encode(), "text/csv")
    app.run()
    # Each file says it was read, and how large it is, before anything is linked.
    captions = [c.value for c in app.caption]
    for name, table in (("touches.csv", data.touchpoints), ("holdouts.csv", data.holdouts)):
        assert f"Read {plain(name)}: {len(table):,} rows, {table.shape[1]} columns." in captions
    _labelled(app.button, "Link people and attribute").click().run()
    assert not app.exception and not app.error
    assert any(plain("uploaded files touches.csv and orders.csv") in c.value for c in app.caption)
    check = _frame(app, "incremental, measured [95% CI]")
    assert "incremental, true" not in check.columns
    assert _frame(app, "credit misplaced against the experiment") is not None


def test_a_bad_log_says_what_is_wrong_and_keeps_the_journeys(app):
    _labelled(app.selectbox, "People").set_value(5_000)
    _labelled(app.button, "Open the demo journeys").click().run()
    data = make_journeys(500, seed=2)
    broken = data.touchpoints.assign(timestamp="yesterday")
    _labelled(app.file_uploader, "Touchpoints: time, channel, and a customer id, phone or e-mail").upload(
        "touches.csv", broken.to_csv(index=False).encode(), "text/csv"
    )
    _labelled(app.file_uploader, "Conversions: identifier(s), time, optional stage and revenue").upload(
        "orders.csv", data.conversions.to_csv(index=False).encode(), "text/csv"
    )
    app.run()
    _labelled(app.button, "Link people and attribute").click().run()
    assert not app.exception
    assert any("do not parse" in e.value for e in app.error)
    # The demo journeys are still the ones shown.
    assert any(plain("demo journeys of 5,000 people") in c.value for c in app.caption)


def test_revenue_events_become_the_conversions(app):
    data = make_journeys(2_000, seed=6)
    billing = data.conversions.rename(columns={"timestamp": "date", "revenue": "amount"}).assign(
        category="paid"
    )
    refunds = billing.head(20).assign(category="refund", amount=-5.0)
    _labelled(app.file_uploader, "Touchpoints: time, channel, and a customer id, phone or e-mail").upload(
        "touches.csv", data.touchpoints.to_csv(index=False).encode(), "text/csv"
    )
    _labelled(app.file_uploader, "Conversions: identifier(s), time, optional stage and revenue").upload(
        "billing.csv", pd.concat([billing, refunds]).to_csv(index=False).encode(), "text/csv"
    )
    _labelled(app.file_uploader, "Customers (CRM): customer_id, phone, email, one row per pair").upload(
        "crm.csv", data.customers.to_csv(index=False).encode(), "text/csv"
    )
    app.run()
    _labelled(app.radio, "The conversions file holds").set_value("revenue").run()
    assert _labelled(app.selectbox, "Conversion: the first event of").options == ["paid", "refund"]
    _labelled(app.button, "Link people and attribute").click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    credit = _frame(app, "linear")
    assert set(credit["channel"]) == {"call", "display", "email", "search", "social"}
    assert any(plain(f"of {len(billing):,} conversions") in c.value for c in app.caption)


def test_a_reload_brings_back_the_journeys(app):
    """Nothing lost: the linked logs are kept in the workspace the URL names."""
    _labelled(app.selectbox, "People").set_value(5_000)
    _labelled(app.button, "Open the demo journeys").click().run()
    workspace_id = app.query_params[common.QUERY_WORKSPACE]
    before = _frame(app, "Markov")
    again = AppTest.from_file(APP, default_timeout=300)
    again.query_params[common.QUERY_WORKSPACE] = workspace_id
    again.switch_page("pages/journeys.py")
    again.run()
    assert not again.exception, again.exception
    assert any(plain("demo journeys of 5,000 people") in c.value for c in again.caption)
    pd.testing.assert_frame_equal(_frame(again, "Markov"), before)
    assert _frame(again, "incremental, true") is not None  # the truth came back with them
    assert _frame(again, "ROAS (revenue / spend)") is not None  # and the spend


def test_all_credit_to_the_first_touch_leaves_no_slider_to_break(app):
    """Seen: a first-touch share of 1 gave the last-touch slider a range from 0 to 0, which
    Streamlit refuses with a traceback."""
    _labelled(app.selectbox, "People").set_value(5_000)
    _labelled(app.button, "Open the demo journeys").click().run()
    _labelled(app.slider, "Position-based: first touch share").set_value(1.0).run()
    assert not app.exception, app.exception
    assert not [s for s in app.slider if s.label == "Position-based: last touch share"]
    assert any("the last touch none" in c.value for c in app.caption)
    assert _frame(app, "position-based") is not None
