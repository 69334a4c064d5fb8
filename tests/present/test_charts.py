"""Chart builders: thinning keeps the curve's shape, and every chart serialises to Vega-Lite."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from impactiq.present import charts


def test_thin_curve_keeps_ends_and_shape():
    x = np.arange(10_001, dtype=float)
    y = np.sqrt(x)
    thin_x, thin_y = charts.thin_curve(x, y, points=101)
    assert len(thin_x) == 101
    assert (thin_x[0], thin_x[-1]) == (0.0, 10_000.0)
    np.testing.assert_allclose(thin_y, np.sqrt(thin_x), atol=0.05)


def test_short_curves_are_left_alone():
    x, y = np.array([0.0, 1.0, 2.0]), np.array([0.0, 2.0, 1.0])
    thin_x, thin_y = charts.thin_curve(x, y)
    np.testing.assert_array_equal(thin_x, x)
    np.testing.assert_array_equal(thin_y, y)


def test_gain_curve_chart_has_one_line_per_curve():
    x = np.arange(1_000, dtype=float)
    chart = charts.gain_curve_chart(
        {"model": (x, x**0.5), "random": (x, x / 40), "perfect": (x, x / 20)}, title="Qini", y_title="gain"
    )
    spec = chart.to_dict()
    values = next(iter(spec["datasets"].values()))
    assert {row["curve"] for row in values} == {"model", "random", "perfect"}
    assert max(row["share targeted"] for row in values) == 1.0


def test_histogram_is_binned_before_plotting():
    chart = charts.histogram_chart(
        np.random.default_rng(0).normal(size=100_000), title="h", x_title="x", bins=20
    )
    values = next(iter(chart.to_dict()["datasets"].values()))
    assert len(values) == 20
    assert sum(row["users"] for row in values) == 100_000


def test_interval_bars_run_from_the_lower_to_the_upper_bound():
    rates = pd.DataFrame(
        {"arm": ["treated", "control"], "mean": [0.05, 0.04], "lo": [0.04, 0.03], "hi": [0.06, 0.05]}
    )
    spec = charts.estimate_with_interval_chart(
        rates, category="arm", estimate="mean", lower="lo", upper="hi", title="t", unit="level"
    ).to_dict()
    bars = next(
        layer for layer in spec["layer"] if layer["mark"]["type"] == "rule" and "y2" in layer["encoding"]
    )
    assert (bars["encoding"]["y"]["field"], bars["encoding"]["y2"]["field"]) == ("lo", "hi")
    shown = next(v for v in spec["datasets"].values() if "lo" in v[0])
    assert [(row["lo"], row["hi"]) for row in shown] == [(0.04, 0.06), (0.03, 0.05)]


@pytest.mark.parametrize(("passed", "large"), [(False, "imbalanced"), (True, "large, within chance")])
def test_balance_chart_agrees_with_the_randomization_verdict(passed, large):
    """Seen: red balance bars beside a green "consistent with randomization"."""
    balance = pd.DataFrame({"feature": ["a", "b"], "smd": [0.02, -0.3]})
    spec = charts.balance_chart(balance, passed=passed).to_dict()
    status = [row["status"] for row in next(iter(spec["datasets"].values())) if "status" in row]
    assert status == ["within the rule of thumb", large]


def test_sweep_chart_marks_the_current_value():
    sweep = pd.DataFrame(
        {"value": [1.0, 2.0], "uplift": [0.1, 0.2], "uplift_lower": [0.0, 0.1], "uplift_upper": [0.2, 0.3]}
    )
    spec = charts.sweep_chart(sweep, "age", 1.5, percent=True).to_dict()
    assert len(spec["layer"]) == 3
    assert {"value": 1.5} in next(iter(v for k, v in spec["datasets"].items() if len(v) == 1))


def test_the_channel_heat_map_colours_uplift_around_zero_and_shows_the_interval_on_hover():
    table = pd.DataFrame(
        {
            "segment": ["mobile", "mobile", "desktop", "desktop"],
            "channel": ["email", "social", "email", "social"],
            "observed_uplift": [0.001, 0.02, 0.03, -0.01],
            "observed_uplift_lower": [-0.01, 0.01, 0.02, -0.02],
            "observed_uplift_upper": [0.012, 0.03, 0.04, 0.0],
            "treated": [100, 100, 100, 100],
            "control": [90, 90, 80, 80],
        }
    )
    spec = charts.channel_heatmap(table, percent=True).to_dict()
    data = next(iter(spec["datasets"].values()))
    assert [row["interval"] for row in data][:2] == ["[-1.00 pp, +1.20 pp]", "[+1.00 pp, +3.00 pp]"]
    assert [row["users"] for row in data] == [190, 190, 180, 180]
    color = spec["layer"][0]["encoding"]["color"]
    assert color["scale"]["domain"] == [-3.0, 3.0]


@pytest.mark.parametrize(
    ("unit", "scaled", "suffix"), [("pp", 2.0, " (pp)"), ("rate", 2.0, " (%)"), ("level", 0.02, "")]
)
def test_charts_draw_numbers_in_the_tables_units(unit, scaled, suffix):
    """Seen: percentage points in tables, percent on chart axes; repeated tick labels from a fixed format."""
    effects = pd.DataFrame({"arm": ["a"], "uplift": [0.02], "lo": [0.01], "hi": [0.03]})
    spec = charts.estimate_with_interval_chart(
        effects, category="arm", estimate="uplift", lower="lo", upper="hi", title="t", unit=unit
    ).to_dict()
    shown = next(v for v in spec["datasets"].values() if "lo" in v[0])
    assert shown[0]["uplift"] == pytest.approx(scaled)
    points = next(layer for layer in spec["layer"] if layer["mark"]["type"] == "point")
    assert points["encoding"]["y"]["axis"] == {"title": f"uplift{suffix}"}  # no fixed tick format


@pytest.mark.parametrize(("unit", "title"), [("pp", "uplift (pp)"), ("level", "uplift")])
def test_the_uplift_histogram_of_an_amount_is_in_its_own_units(unit, title):
    """Seen: a spend model's histogram read -100% to 300% for a dollar outcome."""
    spec = charts.histogram_chart(
        np.array([-1.0, 0.5, 3.0]), title="h", x_title="uplift", unit=unit, bins=2
    ).to_dict()
    values = next(iter(spec["datasets"].values()))
    assert spec["encoding"]["x"]["title"] == title and "format" not in spec["encoding"]["x"].get("axis", {})
    assert values[0]["start"] == pytest.approx(-100.0 if unit == "pp" else -1.0)


def test_the_sweep_band_is_drawn_from_the_sweeps_interval():
    sweep = pd.DataFrame(
        {
            "value": [1.0, 2.0],
            "uplift": [0.01, 0.02],
            "uplift_lower": [0.0, 0.01],
            "uplift_upper": [0.02, 0.03],
        }
    )
    spec = charts.sweep_chart(sweep, "age", 1.5, percent=True).to_dict()
    band = next(layer for layer in spec["layer"] if layer["mark"]["type"] == "area")
    assert (band["encoding"]["y"]["field"], band["encoding"]["y2"]["field"]) == (
        "uplift_lower",
        "uplift_upper",
    )
    data = next(v for v in spec["datasets"].values() if len(v) == 2)
    assert [row["uplift_upper"] for row in data] == pytest.approx([2.0, 3.0])


def test_the_perfect_curve_does_not_set_the_scale():
    """Seen: on the Qini chart the perfect curve set the scale and the model's looked flat."""
    x = np.linspace(0, 1000, 101)
    chart = charts.gain_curve_chart(
        {"model": (x, x / 50), "random": (x, x / 100), "perfect": (x, x)}, title="Qini", y_title="gain"
    )
    spec = chart.to_dict()
    assert spec["encoding"]["y"]["scale"]["domain"] == pytest.approx([0.0, 22.0])
    assert spec["mark"]["clip"] is True


def _scored(binary: bool, n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(9)
    uplift = rng.normal(0.02, 0.02, n)
    y = (rng.random(n) < 0.2).astype(float) if binary else rng.gamma(2.0, 10.0, n)
    return pd.DataFrame(
        {"y": y, "t": rng.integers(0, 2, n), "uplift": uplift, "y0_pred": 0.2, "y1_pred": 0.2 + uplift}
    )


@pytest.mark.parametrize(("binary", "count"), [(True, 4), (False, 3)])
def test_holdout_charts_are_the_curves_the_deciles_and_the_distribution(binary, count):
    from impactiq.evaluation.holdout import decile_table

    holdout = _scored(binary)
    shown = charts.holdout_charts(holdout, decile_table(holdout), binary=binary)
    titles = [
        str(chart.to_dict().get("title") or chart.to_dict().get("layer", [{}])[0].get("title"))
        for chart in shown
    ]
    assert len(shown) == count  # an amount has no uplift curve
    assert "Predicted uplift on the holdout" in titles[-1]
    assert len(charts.holdout_charts(holdout, pd.DataFrame(), binary=binary)) == count - 1


def test_validation_charts_leave_out_a_targeting_curve_that_could_not_be_computed():
    from impactiq.evaluation.validation import validation_summary

    summary = validation_summary(_scored(True))
    assert len(charts.validation_charts(summary, binary=True)) == 2
    summary["targeting"] = {"unavailable": "too few rows"}
    assert len(charts.validation_charts(summary, binary=True)) == 1
