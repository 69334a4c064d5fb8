"""Default column mappings for tables that are not in Criteo's layout."""

from __future__ import annotations

import pandas as pd
import pytest

from impactiq.data.demo import HILLSTROM_FILE
from impactiq.data.mapping import (
    MAX_LISTED_TREATMENT_VALUES,
    suggest_mapping,
    too_many_values_warning,
    treatment_values,
)


def test_hillstrom_defaults_match_its_design():
    suggestion = suggest_mapping(pd.read_csv(HILLSTROM_FILE))
    assert suggestion.treatment == "segment"
    assert suggestion.treated_values == ("Mens E-Mail", "Womens E-Mail")
    assert suggestion.control_values == ("No E-Mail",)
    assert suggestion.outcomes == ("visit", "conversion", "spend")
    assert "segment" not in suggestion.features and "visit" not in suggestion.features


@pytest.mark.parametrize(
    ("frame", "treatment", "treated", "control"),
    [
        (pd.DataFrame({"age": [1, 2], "treatment": [0, 1], "conversion": [0, 1]}), "treatment", (1,), (0,)),
        (pd.DataFrame({"group": ["control", "test"], "y": [0, 1]}), "group", ("test",), ("control",)),
        (pd.DataFrame({"arm": ["A", "B"], "visit": [0, 1]}), "arm", (), ()),
    ],
)
def test_treatment_column_and_split(frame, treatment, treated, control):
    suggestion = suggest_mapping(frame)
    assert suggestion.treatment == treatment
    assert (suggestion.treated_values, suggestion.control_values) == (treated, control)


def test_post_treatment_and_truth_columns_are_not_suggested_as_features():
    frame = pd.DataFrame(
        {"treatment": [0, 1], "visit": [0, 1], "exposure": [0, 1], "tau_visit": [0.1, 0.2], "age": [3, 4]}
    )
    assert suggest_mapping(frame).features == ("age",)


def test_no_plausible_treatment_column():
    suggestion = suggest_mapping(pd.DataFrame({"a": [1, 2, 3], "b": [4, 5, 6]}))
    assert suggestion.treatment is None
    assert suggestion.treated_values == ()


def test_treatment_values_are_sorted_and_skip_missing():
    frame = pd.DataFrame({"segment": ["b", None, "a", "b"]})
    assert treatment_values(frame, "segment") == ["a", "b"]


@pytest.mark.parametrize("values", [[1, 10, 11, 2, 0], ["1", "10", "11", "2", "0"]])
def test_numbered_treatment_values_sort_as_numbers(values):
    """Seen: treatment values sorted as text (1, 10, 11, 2)."""
    frame = pd.DataFrame({"group": values})
    assert [str(v) for v in treatment_values(frame, "group")] == ["0", "1", "2", "10", "11"]
    mixed = pd.DataFrame({"group": ["control", "2", "10"]})
    assert treatment_values(mixed, "group") == ["2", "10", "control"]


def test_a_column_with_too_many_values_is_named_with_what_to_pick():
    assert too_many_values_warning("user_id", MAX_LISTED_TREATMENT_VALUES) is None
    message = too_many_values_warning("user_id", 12_000)
    assert "'user_id' has 12,000 distinct values" in message
    assert f"first {MAX_LISTED_TREATMENT_VALUES} are listed" in message
    assert "Pick the column" in message
