"""The metrics table: units, intervals and reasons for missing scores."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from impactiq.data.server_files import DataFile
from impactiq.present.tables import (
    broken_models_table,
    channels_table,
    data_files_table,
    effects_table,
    heterogeneity_verdict,
    metrics_table,
    models_table,
    policies_table,
    policy_edge_sentence,
    quality_verdict,
    recommendation_sentence,
    truth_table,
    uncalibrated_reason,
)

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
    assert qini["estimate [95% CI]"] == "0.1234 [0.0500, 0.2000]"
    ate = table.loc["Average effect, doubly robust (AIPW)"]
    assert (ate["estimate [95% CI]"], ate["note"]) == (
        "+1.05 pp [+0.20 pp, +1.90 pp]",
        "doubly robust (AIPW)",
    )
    assert table.loc["Uplift AUC (normalised, scikit-uplift)", "note"].startswith("the uplift AUC is defined")
    assert table.loc["Uplift at top 30% (overall)", "estimate [95% CI]"] == "+3.00 pp [+1.00 pp, +5.00 pp]"
    assert table.loc["PEHE (root mean squared error vs true effect)", "estimate [95% CI]"] == "1.85 pp"
    assert table.loc["Coverage of the 95% intervals of the true effect", "estimate [95% CI]"] == "94.8%"


def test_an_amount_outcome_is_shown_in_its_own_units():
    table = metrics_table(METRICS, binary=False).set_index("metric")
    assert table.loc["Average effect, doubly robust (AIPW)", "estimate [95% CI]"] == "+0.011 [+0.002, +0.019]"
    assert table.loc["PEHE (root mean squared error vs true effect)", "estimate [95% CI]"] == "0.018"


def test_truth_rows_only_with_known_effect():
    table = metrics_table(
        {k: v for k, v in METRICS.items() if k not in ("pehe", "interval_coverage")}, binary=True
    )
    assert not table["metric"].str.contains("PEHE|Coverage").any()


def test_effects_table_writes_rates_in_percent_and_effects_in_points():
    effects = pd.DataFrame(
        {
            "outcome": ["visit", "spend"],
            "kind": ["rate", "mean"],
            "treated": [0.1668, 1.4226],
            "control": [0.1062, 0.6528],
            "effect": [0.0606, 0.7698],
            "effect_lower": [0.0551, 0.5411],
            "effect_upper": [0.0661, 0.9985],
            "p_value": [1e-99, 3e-11],
            "lift": [0.5706, 1.1793],
            "lift_lower": [0.51, 0.7],
            "lift_upper": [0.63, 1.8],
        }
    )
    table = effects_table(effects).set_index("outcome")
    assert table.loc["visit", "treated"] == "16.68%"
    assert table.loc["visit", "effect [95% CI]"] == "+6.06 pp [+5.51 pp, +6.61 pp]"
    assert table.loc["spend", "effect [95% CI]"] == "+0.770 [+0.541, +0.999]"
    assert table.loc["spend", "relative lift [95% CI]"] == "+117.9% [+70.0%, +180.0%]"
    # Seen: '+nan%' relative lift when a control rate is 0. Missing, and saying why.
    zero = effects.iloc[[0]].assign(
        control=0.0, lift=float("nan"), lift_lower=float("nan"), lift_upper=float("nan")
    )
    assert effects_table(zero).loc[0, "relative lift [95% CI]"] == "– (control is 0)"


def test_truth_table_says_whether_the_interval_covers_the_truth():
    truth = pd.DataFrame(
        {
            "outcome": ["visit"],
            "true_effect": [0.01],
            "estimate": [0.012],
            "estimate_lower": [0.008],
            "estimate_upper": [0.016],
            "covered": [True],
        }
    )
    row = truth_table(truth).iloc[0]
    assert (row["true effect"], row["naive estimate [95% CI]"], row["truth inside the CI"]) == (
        "+1.00 pp",
        "+1.20 pp [+0.80 pp, +1.60 pp]",
        "yes",
    )


def test_models_table_shows_what_a_model_was_trained_on_and_its_qini_interval():
    models = [
        {
            "name": "a",
            "data_set": "criteo.csv",
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
            "data_set": None,
            "estimator": "t_learner",
            "outcome": "visit",
            "rows": 500,
            "qini": None,
            "qini_lower": None,
            "qini_upper": None,
            "created": "2026-11-21T10:00:00+00:00",
            "error": None,
        },
    ]
    table = models_table(models)
    assert list(table.columns) == [
        "name",
        "data set",
        "rows",
        "outcome",
        "estimator",
        "created (UTC)",
        "holdout Qini coefficient [95% CI]",
    ]
    assert list(table["holdout Qini coefficient [95% CI]"]) == ["0.1000 [0.0200, 0.1800]", "–"]
    assert list(table["data set"]) == ["criteo.csv", "–"]
    assert table.loc[0, "created (UTC)"] == "2026-11-22 10:00:00"


def test_broken_models_table_gives_the_reason():
    table = broken_models_table([{"name": "b", "error": "metadata.json is missing"}])
    assert table.to_dict(orient="records") == [{"name": "b", "problem": "metadata.json is missing"}]


def test_channels_table_and_recommendation_read_every_channel_with_its_interval():
    row = pd.Series(
        {
            "uplift_email": 0.02,
            "uplift_email_lower": 0.01,
            "uplift_email_upper": 0.03,
            "profit_email": 0.18,
            "profit_email_lower": 0.08,
            "profit_email_upper": 0.28,
            "uplift_social": -0.01,
            "uplift_social_lower": -0.02,
            "uplift_social_upper": 0.0,
            "profit_social": -0.15,
            "profit_social_lower": -0.25,
            "profit_social_upper": -0.05,
            "recommended": "email",
            "runner_up": "none",
            "margin": 0.18,
            "margin_lower": -0.02,
            "margin_upper": 0.38,
            "clear": False,
        }
    )
    table = channels_table(row, ("email", "social"), binary=True)
    assert list(table["channel"]) == ["email", "social"]
    assert table.loc[0, "uplift [95% CI]"] == "+2.00 pp [+1.00 pp, +3.00 pp]"
    assert table.loc[1, "profit per contact [95% CI]"].startswith("-0.15 [")
    assert list(table["recommended"]) == ["yes", ""]
    sentence = recommendation_sentence(row)
    assert sentence.startswith("Recommended: email.") and "no clear winner" in sentence


def _policy_values(edge_lower: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "policy": ["best channel for each user", "everyone: email", "everyone: social", "nobody"],
            "contacted": [0.8, 1.0, 1.0, 0.0],
            "outcome": [0.06, 0.055, 0.052, 0.05],
            "outcome_lower": [0.055, 0.05, 0.047, 0.045],
            "outcome_upper": [0.065, 0.06, 0.057, 0.055],
            "net_value": [0.55, 0.5, 0.47, 0.5],
            "net_value_lower": [0.5, 0.45, 0.42, 0.45],
            "net_value_upper": [0.6, 0.55, 0.52, 0.55],
            "gain": [0.05, 0.0, -0.03, 0.0],
            "gain_lower": [0.01, -0.02, -0.05, 0.0],
            "gain_upper": [0.09, 0.02, -0.01, 0.0],
            "edge": [0.05, 0.0, -0.03, 0.0],
            "edge_lower": [edge_lower, 0.0, -0.05, -0.02],
            "edge_upper": [0.08, 0.0, -0.01, 0.02],
        }
    )


def test_policies_table_gives_every_value_its_interval():
    table = policies_table(_policy_values(0.02), binary=True)
    assert table.loc[0, "contacted"] == "80.0%"
    assert table.loc[0, "gain over nobody [95% CI]"] == "+0.05 [+0.01, +0.09]"
    assert table.loc[0, "vs the best single channel [95% CI]"] == "+0.05 [+0.02, +0.08]"
    assert table["outcome per user [95% CI]"].str.count(r"\[").eq(1).all()


@pytest.mark.parametrize(
    ("edge_lower", "clear", "words"), [(0.02, True, "a clear gain"), (-0.01, False, "no clear gain")]
)
def test_the_policy_edge_is_said_in_words(edge_lower, clear, words):
    said_clear, sentence = policy_edge_sentence(_policy_values(edge_lower))
    assert said_clear is clear and words in sentence
    assert "best single channel (everyone: email)" in sentence


@pytest.mark.parametrize(
    ("qini", "level", "words"),
    [
        ({"estimate": 0.0078, "lower": -0.0122, "upper": 0.0299}, "none", "no better than random"),
        ({"estimate": 0.05, "lower": 0.02, "upper": 0.08}, "good", "better than random"),
        ({"estimate": -0.05, "lower": -0.08, "upper": -0.01}, "bad", "worse than random"),
        ({"unavailable": "one arm is empty"}, "unknown", "one arm is empty"),
    ],
)
def test_model_quality_is_said_in_words_from_the_qini_interval(qini, level, words):
    """Seen: Qini 0.0078 [-0.0122, 0.0299] and nothing said it ranks no better than random."""
    said, sentence = quality_verdict({"qini_auc_score": qini})
    assert said == level and words in sentence


@pytest.mark.parametrize(
    ("slope", "se", "p", "level", "words"),
    [
        (0.95, 0.2, 1e-6, "good", "calibrated"),
        (0.4, 0.1, 1e-6, "off", "overconfident"),
        (2.5, 0.3, 1e-6, "off", "underconfident"),
        (0.1, 0.3, 0.37, "none", "No evidence"),
        # Seen: "p = nan" when the predictions do not vary (a slope standard error of 0).
        (0.0, 0.0, float("nan"), "none", "no p-value: the predictions do not vary"),
    ],
)
def test_the_heterogeneity_test_is_said_in_words(slope, se, p, level, words):
    from impactiq.evaluation.validation import BestLinearPredictor

    blp = BestLinearPredictor(ate=0.01, ate_se=0.002, slope=slope, slope_se=se, p_value=p, n=1000)
    said, sentence = heterogeneity_verdict(blp, binary=True)
    assert said == level and words in sentence and "slope" in sentence


def test_data_files_table_shows_name_size_and_time():
    when = dt.datetime(2026, 3, 1, 9, 30, 59, tzinfo=dt.UTC)
    files = [DataFile("criteo.csv.gz", Path("/srv/criteo.csv.gz"), 3 * 1024**3, when)]
    table = data_files_table(files)
    assert table.to_dict("records") == [
        {"name": "criteo.csv.gz", "size": "3.0 GB", "modified (UTC)": "2026-03-01 09:30"}
    ]


def test_a_heterogeneity_test_that_cannot_run_says_why_and_a_saved_model_reads_in_one_line():
    from impactiq.present.tables import holdout_heterogeneity_verdict, model_caption

    too_few = pd.DataFrame(
        {"y": [0, 1], "t": [0, 1], "uplift": [0.1, 0.2], "y0_pred": [0.1, 0.1], "y1_pred": [0.2, 0.3]}
    )
    level, sentence = holdout_heterogeneity_verdict(too_few, binary=True)
    assert level == "unknown" and sentence.startswith("The heterogeneity test could not be run: ")
    entry = {
        "name": "visit",
        "estimator": "causal_forest",
        "outcome": "visit",
        "data_set": None,
        "rows": 35000,
        "created": "2026-12-02T10:15:42+00:00",
    }
    assert model_caption(entry) == (
        "Results of model visit: causal_forest on visit, trained on a data set not recorded (35,000 rows), "
        "saved 2026-12-02 10:15 UTC."
    )
    assert "(rows not recorded)" in model_caption({**entry, "rows": None})


def test_an_uncalibrated_width_says_why_in_one_sentence():
    assert uncalibrated_reason({"interval_calibration": {"scale": [0.9], "twin_scale": [0.9]}}) is None
    assert uncalibrated_reason({"interval_calibration": {"unavailable": "too few validation rows"}}) == (
        "The interval width is not calibrated: too few validation rows"
    )
    off = uncalibrated_reason({})
    assert off.startswith("The interval width is not calibrated: the model was trained with calibration off")
    assert "retrain it to calibrate" in off
