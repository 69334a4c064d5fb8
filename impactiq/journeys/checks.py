"""The checks every journeys table shares: named columns present, amounts that are numbers.

Touchpoints, conversions, revenue events and spend tables come from users in their own layout;
each check names the table, the column and the first rows, and says how to fix them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from impactiq.errors import ImpactIQError

# How many rows a message lists.
MAX_SHOWN = 5


def require_columns(table: pd.DataFrame, where: str, columns: list[str]) -> None:
    """Refuse a table that lacks a named column, listing the columns it has."""
    for column in columns:
        if column not in table.columns:
            raise ImpactIQError(
                f"'{where}' has no column '{column}'. Its columns: {', '.join(map(str, list(table.columns)[:20]))}. "
                "Map the column that holds it, or rename the header."
            )


def amounts_of(table: pd.DataFrame, column: str, where: str) -> np.ndarray:
    """A column of amounts as floats, a blank one as 0; text, infinities and the like refused by row."""
    require_columns(table, where, [column])
    values = table[column]
    written = values.notna() & (values.astype("string").str.strip() != "").fillna(False)
    numbers = pd.to_numeric(values, errors="coerce")
    bad = (numbers.isna() & written).to_numpy() | ~np.isfinite(numbers.fillna(0).to_numpy(dtype=float))
    if bad.any():
        rows = np.flatnonzero(bad)[:MAX_SHOWN]
        listed = ", ".join(f"row {r + 1} ({quoted(values.iloc[r])})" for r in rows)
        raise ImpactIQError(
            f"Column '{column}' of '{where}' should hold amounts, but {bad.sum():,} value(s) are not numbers: "
            f"{listed}. Write plain numbers (1234.5, no currency sign or thousands separator) or remove those rows."
        )
    return numbers.fillna(0.0).to_numpy(dtype=np.float64)


def quoted(value: object) -> str:
    """A value as a message shows it: text quoted, a number as written (not "np.float64(inf)")."""
    return repr(value) if isinstance(value, str) else str(value)
