"""Validation, refutation and comparison in words: verdicts follow the intervals, units are right."""

from __future__ import annotations

import numpy as np
import pandas as pd

from impactiq.evaluation.comparison import AVERAGE_EFFECT, Candidate, Comparison
from impactiq.present.validation import (
    calibration_rows,
    calibration_sentence,
    comparison_of,
    comparison_sentence,
    readable_comparison,
    readable_refutation,
    refutation_verdict,
    targeting_sentence,
)

CALIBRATION = pd.DataFrame(
    {
        "group": [1, 2, 3],
        "n": [1000, 1000, 1000],
        "predicted": [0.01, 0.02, 0.05],
        "observed": [0.012, 0.018, 0.01],
        "observed_lower": [0.0, 0.005, -0.01],
        "observed_upper": [0.02, 0.03, 0.03],
    }
)


def test_calibration_counts_groups_inside_their_interval():
    rows = calibration_rows(CALIBRATION, binary=True)
    assert list(rows["prediction inside the CI"]) == ["yes", "yes", "no"]
    assert rows["mean prediction"].iloc[0] == "+1.00 pp"
    # One miss in three groups is what chance allows.
    assert "2 of 3 groups" in calibration_sentence(CALIBRATION)
    assert "consistent with calibrated" in calibration_sentence(CALIBRATION)
    two_misses = CALIBRATION.assign(predicted=[0.05, 0.05, 0.05])
    assert "more misses than chance allows" in calibration_sentence(two_misses)


def test_a_group_too_small_for_an_interval_is_neither_a_hit_nor_a_miss():
    """Seen: tied predictions made a one-row group whose NaN interval counted as a miss."""
    table = pd.concat(
        [
            CALIBRATION.iloc[:2],
            pd.DataFrame(
                {
                    "group": [3],
                    "n": [1],
                    "predicted": [0.05],
                    "observed": [0.0],
                    "observed_lower": [np.nan],
                    "observed_upper": [np.nan],
                }
            ),
        ],
        ignore_index=True,
    )
    rows = calibration_rows(table, binary=True)
    assert list(rows["prediction inside the CI"]) == ["yes", "yes", "– (no interval: 1 row)"]
    sentence = calibration_sentence(table)
    assert sentence.startswith("In 2 of 2 groups (1 group too small for an interval left out)")
    assert "consistent with calibrated" in sentence


def test_targeting_sentence_follows_the_interval():
    assert "beats targeting at random" in targeting_sentence(
        {"estimate": 0.01, "lower": 0.002, "upper": 0.02}, binary=True
    )
    assert "no evidence" in targeting_sentence(
        {"estimate": 0.01, "lower": -0.002, "upper": 0.02}, binary=True
    )
    assert "does worse" in targeting_sentence(
        {"estimate": -0.01, "lower": -0.02, "upper": -0.002}, binary=True
    )
    assert "could not be computed" in targeting_sentence(
        {"estimate": 0.01, "lower": float("nan"), "upper": 0.1}, binary=True
    )


CHECKS = [
    {
        "check": "placebo treatment",
        "arm": None,
        "estimate": 0.001,
        "expected": 0.0,
        "tolerance": 0.004,
        "passed": True,
        "rank_correlation": 0.05,
        "detail": "treatment shuffled",
    },
    {
        "check": "data subsets",
        "arm": "email",
        "estimate": 0.03,
        "expected": 0.02,
        "tolerance": 0.004,
        "passed": False,
        "rank_correlation": 0.8,
        "detail": "refitted on subsets",
    },
]


def test_refutation_in_words_and_percentage_points():
    table = readable_refutation(CHECKS, binary=True)
    assert list(table["result"]) == ["passed", "FAILED"]
    assert table["mean effect"].iloc[1] == "+3.00 pp" and table["arm"].iloc[0] == "all"
    level, sentence = refutation_verdict(CHECKS)
    assert level == "bad" and "1 of 2" in sentence and "data subsets (email)" in sentence
    assert refutation_verdict(CHECKS[:1])[0] == "good"


def _candidate(name, loss, excess, excess_se, fit=1.0):
    scored = {} if name == AVERAGE_EFFECT else {"estimate": 0.1, "lower": 0.05, "upper": 0.15}
    return Candidate(
        name, 0.0 if name == AVERAGE_EFFECT else fit, loss, 0.01, excess, excess_se, scored, scored, scored
    )


def test_comparison_table_and_sentence():
    comparison = Comparison(
        [
            _candidate("t_learner", 0.52, 0.02, 0.005),
            _candidate("causal_forest", 0.50, 0.0, 0.0),
            _candidate(AVERAGE_EFFECT, 0.51, 0.01, 0.004),
        ],
        chosen="causal_forest",
        n_fit=1000,
        n_validation=300,
        n_holdout=600,
    )
    table = readable_comparison(comparison, binary=True)
    assert list(table["estimator"]) == ["causal_forest", AVERAGE_EFFECT, "t_learner"]
    assert list(table["chosen"]) == ["yes", "", ""]
    assert table["holdout Qini [95% CI]"].iloc[1].endswith("(no ranking)")
    assert table["uplift at top 30% [95% CI]"].iloc[0].endswith("pp]")
    sentence = comparison_sentence(comparison)
    assert "Chosen: causal_forest" in sentence and "beats the average effect alone" in sentence
    unclear = Comparison(
        [*comparison.candidates[:2], _candidate(AVERAGE_EFFECT, 0.501, 0.001, 0.004)],
        chosen="causal_forest",
        n_fit=1000,
        n_validation=300,
        n_holdout=600,
    )
    assert "does not clearly beat" in comparison_sentence(unclear)
    assert comparison_of({"selection": comparison.to_dict()}) == comparison
    assert comparison_of({}) is None
