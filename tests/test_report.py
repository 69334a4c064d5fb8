"""The metrics table: units, intervals and reasons for missing scores."""

from __future__ import annotations

import math

import pytest

from impactiq.report import format_value, metrics_table, models_table

METRICS = {
    "qini_auc_score": {"estimate": 0.1234, "lower": 0.05, "upper": 0.2},
    "uplift_auc_score": {"unavailable": "the uplift AUC is defined for 0/1 outcomes only"},
    "ate": {"estimate": 0.0105, "lower": 0.002, "upper": 0.019, "method": "doubly robust (AIPW)"},
    "naive_ate": {"estimate": 0.01, "lower": 0.001, "upper": 0.02, "method": "difference in means"},
    "mean_uplift": {"estimate": 0.0098, "lower": 0.0095, "upper": 0.0101},
    "uplift_at_k": {"overall": {"0.3": {"estimate": 0.03, "lower": 0.01, "upper": 0.05}}},
    "pehe": 0.0185,
    "interval_coverage": 0.948,
}


def test_rows_carry_estimates_intervals_and_notes():
    table = metrics_table(METRICS, binary=True).set_index("metric")
    qini = table.loc["Qini coefficient (normalised, scikit-uplift)"]
    assert (qini["estimate"], qini["95% CI"]) == ("0.1234", "[0.0500, 0.2000]")
    ate = table.loc["Average effect, doubly robust (AIPW)"]
    assert (ate["estimate"], ate["95% CI"], ate["note"]) == (
        "+1.050 pp",
        "[+0.200 pp, +1.900 pp]",
        "doubly robust (AIPW)",
    )
    assert table.loc["Uplift AUC (normalised, scikit-uplift)", "note"].startswith("the uplift AUC is defined")
    assert table.loc["Uplift at top 30% (overall)", "estimate"] == "+3.000 pp"
    assert table.loc["PEHE (root mean squared error vs true effect)", "estimate"] == "1.850 pp"
    assert table.loc["Coverage of the 95% intervals of the true effect", "estimate"] == "94.8%"


def test_truth_rows_only_with_known_effect():
    table = metrics_table(
        {k: v for k, v in METRICS.items() if k not in ("pehe", "interval_coverage")}, binary=True
    )
    assert not table["metric"].str.contains("PEHE|Coverage").any()


@pytest.mark.parametrize(
    ("value", "unit", "binary", "expected"),
    [
        (0.01234, "effect", True, "+1.234 pp"),
        (-0.5, "effect", False, "-0.5000"),
        (0.25, "score", True, "0.2500"),
        (math.nan, "score", True, "–"),
        (0.01, "size", False, "0.0100"),
    ],
)
def test_format_value(value, unit, binary, expected):
    assert format_value(value, unit, binary) == expected


def test_models_table_shows_the_qini_interval_and_problems():
    models = [
        {
            "name": "a",
            "estimator": "causal_forest",
            "outcome": "visit",
            "rows": 1000,
            "qini": 0.1,
            "qini_lower": 0.02,
            "qini_upper": 0.18,
            "created": "2026-11-22T10:00:00+00:00",
            "error": None,
        },
        {
            "name": "b",
            "estimator": None,
            "outcome": None,
            "rows": None,
            "qini": None,
            "qini_lower": None,
            "qini_upper": None,
            "created": None,
            "error": "metadata.json is missing",
        },
    ]
    table = models_table(models)
    assert list(table["Qini coefficient (95% CI)"]) == ["0.1000 [0.0200, 0.1800]", "–"]
    assert list(table["problem"]) == ["", "metadata.json is missing"]
    assert table.loc[0, "created (UTC)"] == "2026-11-22 10:00:00"
