"""Tests of impactiq.present.formatting: one way to write every estimate, and the words around it."""

from __future__ import annotations

import pytest

from impactiq.decisions import economics
from impactiq.present import formatting
from tests.support import FORM_PROFILE


def test_describe_feature_states_range_and_quantiles():
    text = formatting.describe_feature(FORM_PROFILE["visits"])
    assert "range 0 to 9" in text and "50%: 2" in text and "10.0% missing" in text
    assert "Web: 60.0%" in formatting.describe_feature(FORM_PROFILE["channel"])


def test_describe_feature_cuts_long_category_names():
    long = "c" * 100_000
    spec = {"kind": "categorical", "categories": [long, "Web"], "frequencies": {long: 0.7, "Web": 0.3}}
    text = formatting.describe_feature(spec)
    assert len(text) < 200 and "…: 70.0%" in text and "Web: 30.0%" in text


@pytest.mark.parametrize(
    ("args", "unit", "expected"),
    [
        ((0.01234,), "pp", "+1.23 pp"),
        ((0.01234, -0.001, 0.025), "pp", "+1.23 pp [-0.10 pp, +2.50 pp]"),
        ((0.0425,), "rate", "4.25%"),
        ((-2.5, -3.25, 1.0), "effect", "-2.500 [-3.250, +1.000]"),
        ((1234.5,), "level", "1,234.500"),
        ((0.125, -0.05, 0.3), "change", "+12.5% [-5.0%, +30.0%]"),
        ((0.953,), "share", "95.3%"),
        ((1033.6, 980.2, 1090.0), "count", "1,034 [980, 1,090]"),
        ((12.34,), "total", "12.3"),
        ((-0.0312, -0.12, 0.05), "money", "-0.03 [-0.12, 0.05]"),
        ((0.14412,), "score", "0.1441"),
    ],
)
def test_every_unit_has_one_way_to_be_written(args, unit, expected):
    assert formatting.format_estimate(*args, unit=unit) == expected


def test_missing_values_and_bounds():
    assert formatting.format_estimate(float("nan"), unit="pp") == "–"
    assert formatting.format_estimate(None, unit="count") == "–"
    assert formatting.format_estimate(0.01, float("nan"), 0.02, "pp") == "+1.00 pp"
    assert formatting.format_estimate(5, unit="count", signed=True) == "+5"
    with pytest.raises(ValueError, match="unknown unit"):
        formatting.format_estimate(1.0, unit="furlongs")


def test_profit_sentence_states_the_profit_its_interval_and_the_decision():
    decision = economics.profit_decision(0.03, 0.02, 0.04, 0.1, 10.0)
    assert formatting.profit_sentence(decision) == (
        "Expected incremental profit per contact: +0.20 [+0.10, +0.30]. "
        "Treat: profitable even at the interval's lower bound."
    )


@pytest.mark.parametrize(
    ("n_bytes", "text"),
    [
        (500, "0.5 KB"),
        (300 * 1024**2 // 1000, "0.3 MB"),
        (int(1.6 * 1024**2), "1.6 MB"),
        (3 * 1024**3 + 10, "3.0 GB"),
    ],
)
def test_file_size_in_megabytes_or_gigabytes(n_bytes, text):
    assert formatting.file_size(n_bytes) == text


def test_the_value_input_has_one_label_per_kind_of_outcome():
    assert formatting.value_label(True) == "Value per conversion"
    assert formatting.value_label(False) == "Value per unit of the outcome"
    assert formatting.unit_labels("visit", binary=True)["per"] == "per conversion"
