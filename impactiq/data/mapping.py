"""Sensible first choices for the column mapping of a table that is not in Criteo's layout.

The user confirms or changes every choice on the Data page; these defaults only save clicks on
common layouts (Hillstrom's `segment`, a `treatment`/`group` column, `visit`/`conversion`
outcomes) and never decide anything silently.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from impactiq.data.schema import POST_TREATMENT_COLUMNS, TRUTH_PREFIX, suggest_treated_values

TREATMENT_NAMES = ("treatment", "treated", "treat", "group", "arm", "variant", "segment", "test", "campaign")
OUTCOME_NAMES = (
    "conversion",
    "converted",
    "visit",
    "visited",
    "purchase",
    "purchased",
    "spend",
    "revenue",
    "outcome",
    "response",
    "click",
    "clicked",
    "y",
)
# A treatment column has a handful of groups; more than this reads as a feature.
MAX_TREATMENT_GROUPS = 10
# The mapping step lists at most this many of a column's values to mark treated or control. A
# treatment may have more groups than `MAX_TREATMENT_GROUPS` when they are pooled (campaign
# variants), but a column with more than this many is a feature or an identifier, and a list of
# thousands would freeze the page.
MAX_LISTED_TREATMENT_VALUES = 50


@dataclass(frozen=True)
class MappingSuggestion:
    """Default choices for each role; any of them may be empty when nothing fits."""

    treatment: str | None
    treated_values: tuple
    control_values: tuple
    outcomes: tuple[str, ...]
    features: tuple[str, ...]


def suggest_mapping(df: pd.DataFrame) -> MappingSuggestion:
    """The most plausible treatment column, its split, outcomes and features for `df`."""
    columns = [str(c) for c in df.columns]
    treatment = _treatment_column(df, columns)
    treated, control = _split(df, treatment)
    outcomes = tuple(c for c in columns if c.lower() in OUTCOME_NAMES and c != treatment)
    reserved = {treatment, *outcomes, *POST_TREATMENT_COLUMNS}
    features = tuple(c for c in columns if c not in reserved and not c.startswith(TRUTH_PREFIX))
    return MappingSuggestion(treatment, treated, control, outcomes, features)


def treatment_values(df: pd.DataFrame, treatment: str) -> list:
    """The distinct non-missing values of a treatment column, sorted for display: numbers (or
    text that reads as a number) as numbers, so 2 comes before 10, then any other text."""
    return sorted(df[treatment].dropna().unique().tolist(), key=_display_order)


def too_many_values_warning(treatment: str, n_values: int) -> str | None:
    """What to say when `treatment` has more values than the mapping step lists; None if it has not."""
    if n_values <= MAX_LISTED_TREATMENT_VALUES:
        return None
    return (
        f"'{treatment}' has {n_values:,} distinct values; a treatment column has a few groups, so only the "
        f"first {MAX_LISTED_TREATMENT_VALUES} are listed. Pick the column that says which group each user "
        "was in (treated or control)."
    )


def _display_order(value) -> tuple:
    try:
        return (0, float(value), "")
    except (TypeError, ValueError):
        return (1, 0.0, str(value))


def _treatment_column(df: pd.DataFrame, columns: list[str]) -> str | None:
    """A column named like a treatment with a few groups, else the first column with two values."""
    for name in TREATMENT_NAMES:
        for column in columns:
            if column.lower() == name and 2 <= df[column].nunique() <= MAX_TREATMENT_GROUPS:
                return column
    return next((c for c in columns if df[c].nunique() == 2 and c.lower() not in OUTCOME_NAMES), None)


def _split(df: pd.DataFrame, treatment: str | None) -> tuple[tuple, tuple]:
    """The obvious treated/control split of the treatment column's values, or nothing."""
    if treatment is None:
        return (), ()
    split = suggest_treated_values(treatment_values(df, treatment))
    return split if split is not None else ((), ())
