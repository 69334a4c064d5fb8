"""Tests of impactiq.decisions.persuadability: the class rules and their default thresholds."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from impactiq.decisions import persuadability
from impactiq.decisions.persuadability import Thresholds, settled
from impactiq.present.formatting import class_label
from tests.support import form_holdout

THRESHOLDS = persuadability.Thresholds(persuadable=0.01, harm=0.02, baseline=0.05)


@pytest.mark.parametrize(
    ("uplift", "upper", "y0", "expected"),
    [
        (0.005, -0.001, 0.50, persuadability.DO_NOT_DISTURB),  # the interval lies below zero
        (-0.02, 0.010, 0.50, persuadability.DO_NOT_DISTURB),  # at the harm threshold
        (-0.019, 0.010, 0.50, persuadability.SURE_THING),
        (0.010, 0.030, 0.01, persuadability.PERSUADABLE),  # at the persuadable threshold
        (0.009, 0.030, 0.05, persuadability.SURE_THING),  # at the baseline threshold
        (0.009, 0.030, 0.049, persuadability.LOST_CAUSE),
        (0.009, math.nan, 0.01, persuadability.LOST_CAUSE),  # no interval: uplift rules only
    ],
)
def test_classify(uplift, upper, y0, expected):
    assert persuadability.classify(uplift, upper, y0, THRESHOLDS) == expected


def test_classify_is_vectorised():
    classes = persuadability.classify([0.02, -0.05, 0.0], [0.03, 0.0, 0.01], [0.0, 0.0, 0.9], THRESHOLDS)
    assert list(classes) == [
        persuadability.PERSUADABLE,
        persuadability.DO_NOT_DISTURB,
        persuadability.SURE_THING,
    ]


def test_default_thresholds_from_theform_holdout():
    thresholds = persuadability.default_thresholds(form_holdout())
    assert thresholds == persuadability.Thresholds(persuadable=0.02, harm=0.02, baseline=0.25)
    no_gain = pd.DataFrame({"uplift": [-0.01, -0.03, -0.02], "y0_pred": [0.1, 0.2, 0.3]})
    assert persuadability.default_thresholds(no_gain).persuadable == pytest.approx(0.02)


@pytest.mark.parametrize(
    ("klass", "lower", "upper", "expected"),
    [
        ("persuadable", 0.01, 0.05, True),
        ("persuadable", -0.01, 0.05, False),
        ("do-not-disturb", -0.05, -0.01, True),
        ("do-not-disturb", -0.05, 0.01, False),
        ("sure thing", -0.005, 0.005, True),
        ("sure thing", -0.005, 0.05, False),
        ("lost cause", float("nan"), float("nan"), False),
    ],
)
def test_a_class_is_settled_only_when_its_interval_says_so(klass, lower, upper, expected):
    thresholds = Thresholds(persuadable=0.02, harm=0.02, baseline=0.3)
    assert settled(klass, lower, upper, thresholds) is expected
    assert class_label(klass, expected) == (klass if expected else f"likely {klass}")


def test_representative_users_are_typical_settled_members_of_their_class():
    frame = pd.DataFrame(
        {
            "uplift": [0.05, 0.06, 0.07, 0.001, 0.0, 0.03],
            "uplift_lower": [0.01, 0.02, 0.03, -0.005, -0.004, -0.01],
            "uplift_upper": [0.09, 0.1, 0.11, 0.006, 0.005, 0.07],
            "y0_pred": [0.1, 0.1, 0.1, 0.5, 0.6, 0.1],
        }
    )
    thresholds = Thresholds(persuadable=0.02, harm=0.02, baseline=0.3)
    # Persuadable and settled: rows 0, 1, 2 (row 5's interval reaches below zero); median uplift: row 1.
    # Sure things: rows 3 and 4; the 90th percentile of their outcome without contact: row 4.
    assert persuadability.representative_users(frame, thresholds) == {"persuadable": 1, "sure thing": 4}
