"""AppTest of every page with a multi-arm experiment: arms on the Data page, one arm at a time elsewhere."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from impactiq.data.demo import load_demo
from impactiq.evaluation.comparison import AUTO_DESCRIPTION
from impactiq.evaluation.training import train_model
from impactiq.present.text import plain
from impactiq.uplift.estimators import ESTIMATOR_DESCRIPTIONS
from impactiq.uplift.store import list_models, save_model
from pages import common

APP = "../../streamlit_app.py"
ARM_BOX = "Arm, against none"
FAST = {"n_estimators": 40}


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    """A models folder holding one three-channel causal forest on the synthetic multi-channel data."""
    root = tmp_path_factory.mktemp("models")
    trained = train_model(
        load_demo("multichannel", n_rows=9_000, seed=1), outcome="conversion", n_boot=20, params=FAST
    )
    save_model(trained, "channels", models_dir=root)
    return root


@pytest.fixture
def open_page(models_dir, monkeypatch):
    monkeypatch.setenv("IMPACTIQ_MODELS_DIR", str(models_dir))
    monkeypatch.setattr(common, "MODELS_DIR", str(models_dir))

    def run(page: str) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=300)
        at.switch_page(page)
        at.run()
        assert not at.exception, at.exception
        return at

    return run


def _labelled(elements, label: str):
    return next(e for e in elements if e.label == label)


def test_the_data_page_shows_each_hillstrom_arm_against_control_and_each_other(open_page):
    at = open_page("pages/data.py")
    at.tabs[1].selectbox[0].set_value("hillstrom").run()
    at.radio[0].set_value("separate").run()
    _labelled(at.button, "Load demo data").click().run()
    assert not at.exception
    table = next(d.value for d in at.dataframe if "comparison" in d.value.columns)
    visits = table[table["outcome"] == "visit"].set_index("comparison")
    assert visits.loc["Mens E-Mail vs No E-Mail", "difference [95% CI]"].startswith(
        "+7.66 pp [+7.00 pp, +8.32 pp]"
    )
    assert "Mens E-Mail vs Womens E-Mail" in visits.index


def test_the_train_page_judges_every_arm_and_saves_one_model(open_page, models_dir):
    at = open_page("pages/train.py")
    at.session_state[common.EXPERIMENT] = load_demo("multichannel", n_rows=6_000, seed=2)
    at.session_state[common.SUMMARY] = None
    at.session_state[common.DATA_SOURCE] = "test"
    at.run()
    assert _labelled(at.selectbox, "Estimator").options == [
        *(ESTIMATOR_DESCRIPTIONS[e] for e in ("causal_forest", "dr", "t_learner", "s_learner")),
        AUTO_DESCRIPTION,
    ]
    _labelled(at.number_input, "Bootstrap replicates for metric intervals").set_value(50)
    _labelled(at.button, "Train").click().run()
    assert not at.exception and not at.error
    assert [t.label for t in at.tabs] == ["email", "social", "display"]
    assert any(s.value.startswith(plain("social vs none")) for s in at.subheader)
    _labelled(at.button, "Save model").click().run()
    assert not at.exception
    saved = [m for m in list_models(models_dir) if m["arms"] and m["name"] != "channels"]
    assert len(saved) == 1 and saved[0]["arms"] == ("email", "social", "display")
    table = next(d.value for d in at.dataframe if "holdout Qini coefficient [95% CI]" in d.value.columns)
    assert table["holdout Qini coefficient [95% CI]"].str.contains("social: ").all()


def test_auto_with_arms_compares_the_estimators_of_several_arms_arm_by_arm(open_page):
    at = open_page("pages/train.py")
    at.session_state[common.EXPERIMENT] = load_demo("multichannel", n_rows=4_000, seed=3)
    at.session_state[common.SUMMARY] = None
    at.session_state[common.DATA_SOURCE] = "test"
    at.run()
    _labelled(at.selectbox, "Estimator").set_value("auto")
    _labelled(at.number_input, "Bootstrap replicates for metric intervals").set_value(50)
    _labelled(at.button, "Train").click().run()
    assert not at.exception and not at.error
    table = next(t.value for t in at.table if "loss above the chosen [95% CI]" in t.value.columns)
    # Four estimators, each on its three arms, and the average effect alone once.
    assert len(table) == 4 * 3 + 1
    assert set(table["arm"]) == {"email", "social", "display", "every arm"}
    chosen = table[table["chosen"] == "yes"]
    # The table is shown indexed by its first column, the estimator.
    assert len(chosen) == 3 and chosen.index.nunique() == 1
    assert chosen.index[0] in ("causal_forest", "dr", "t_learner", "s_learner")
    assert [t.label for t in at.tabs] == ["email", "social", "display"], (
        "the chosen model is judged arm by arm"
    )


@pytest.mark.parametrize("page", ["pages/simulator.py", "pages/segments.py"])
def test_the_simulator_and_segments_show_one_arm_at_a_time(open_page, models_dir, page):
    at = open_page(page)
    box = _labelled(at.selectbox, ARM_BOX)
    assert box.options == ["email", "social", "display"]
    for arm in ("social", "display"):
        box.set_value(arm).run()
        assert not at.exception, at.exception
        box = _labelled(at.selectbox, ARM_BOX)
        assert box.value == arm
    if page == "pages/segments.py":
        assert any("Segments by" in s.value for s in at.subheader)
        policies = next(d.value for d in at.dataframe if "policy" in d.value.columns)
        assert list(policies["policy"]) == [
            "best channel for each user",
            "everyone: email",
            "everyone: social",
            "everyone: display",
            "nobody",
        ]
        assert policies["gain over nobody [95% CI]"].str.count(r"\[").eq(1).all()
        assert policies["vs the best single channel [95% CI]"].str.count(r"\[").eq(1).all()
        edge = next(m.value for m in [*at.success, *at.info] if m.value.startswith("Each user"))
        assert "…" not in edge, "the policy's sentence is shown whole, its interval included"
        assert any(s.value == "Which channel works for which segment" for s in at.subheader)
        by_channel = next(d.value for d in at.dataframe if {"segment", "channel"} <= set(d.value.columns))
        assert set(by_channel["channel"]) == {"email", "social", "display"}
        assert by_channel["observed uplift [95% CI]"].str.count(r"\[").eq(1).all()
        assert any(m.value.startswith("For the same") for m in [*at.success, *at.info])
        assert any(
            "channel_heatmap" in str(c.proto.spec) or "segment and channel" in c.proto.spec
            for c in at.get("vega_lite_chart")
        )
    else:
        assert any(s.value == "Every channel for this user" for s in at.subheader)
        table = next(d.value for d in at.dataframe if "channel" in d.value.columns)
        assert list(table["channel"]) == ["email", "social", "display"]
        assert (table["recommended"] == "yes").sum() <= 1
        assert any(m.value.startswith("Recommended") for m in [*at.success, *at.info])


def test_the_channel_plans_budget_reaches_the_whole_holdout(open_page, models_dir):
    at = open_page("pages/segments.py")
    _labelled(at.selectbox, "Model").set_value("channels").run()
    model = next(m for m in list_models(models_dir) if m["name"] == "channels")
    arm_budget = _labelled(at.slider, "Budget (money)")
    plans_budget = _labelled(at.slider, "Budget for the channel plans (money)")
    cost = _labelled(at.number_input, "Cost per contact").value
    holdout = common.load_saved_model(str(model["path"]), model["version"]).holdout
    # One arm's view holds control and that arm; the plans place contacts over every row.
    assert plans_budget.max == pytest.approx(round(len(holdout) * cost, 2))
    assert arm_budget.max < plans_budget.max
    plans_budget.set_value(plans_budget.max).run()
    assert not at.exception
    assert any(f"For the same {len(holdout):,} contacts" in m.value for m in [*at.success, *at.info])


@pytest.mark.parametrize(("arm", "warned"), [("display", False), ("sms", True)])
def test_a_shared_simulator_link_opens_on_its_arm(models_dir, monkeypatch, arm, warned):
    monkeypatch.setenv("IMPACTIQ_MODELS_DIR", str(models_dir))
    monkeypatch.setattr(common, "MODELS_DIR", str(models_dir))
    at = AppTest.from_file(APP, default_timeout=300)
    at.switch_page("pages/simulator.py")
    at.query_params.update({"model": "channels", "arm": arm})
    at.run()
    assert not at.exception
    box = _labelled(at.selectbox, ARM_BOX)
    assert box.value == (arm if not warned else "email")
    assert any("arm" in w.value and "sms" in w.value for w in at.warning) == warned
    assert at.query_params["arm"] == [box.value] or at.query_params["arm"] == box.value
