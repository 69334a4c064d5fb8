"""Tables out as CSV, safe to open in a spreadsheet: the one writer of every CSV export.

A spreadsheet treats a cell that starts with `=`, `+`, `-` or `@` (or a tab or carriage
return before one) as a formula, so a category or column name such as `=cmd|' /C calc'!A0`
taken from an uploaded file would run when someone opens the export. Following OWASP's CSV
injection guidance, every such text cell, and every such column name, gets a leading `'`, which
spreadsheets read as "this is text" and do not show. Numbers stay numbers: a negative uplift is
written as -0.012, not '-0.012. Fields holding a comma, quote or line break are quoted (RFC
4180), so a value cannot open a new cell either.

Used by the Simulator's and the Segments page's downloads and by `python -m impactiq score`.
"""

from __future__ import annotations

import io
import re
from os import PathLike
from typing import IO

import pandas as pd

# First characters that make a spreadsheet read a cell as a formula (OWASP, CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TEXT_MARKER = "'"
# A download's file name is built from outside names (an upload, a column): kept short and tame.
MAX_STEM_CHARS = 60
_UNSAFE_IN_FILE_NAME = re.compile(r"[^A-Za-z0-9.-]+")


def neutralise_cell(value: object) -> object:
    """`value` with a leading `'` when it is text that a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return TEXT_MARKER + value
    return value


def safe_for_spreadsheet(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` whose text cells and column names cannot start a formula."""
    safe = frame.copy(deep=False)
    safe.columns = [neutralise_cell(c) for c in frame.columns]
    for position in range(frame.shape[1]):
        safe.isetitem(position, _neutralise_column(frame.iloc[:, position]))
    return safe


def _neutralise_column(column: pd.Series) -> pd.Series:
    """`neutralise_cell` on every cell of a column (on the categories of a categorical one)."""
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_datetime64_any_dtype(column):
        return column
    return column.map(neutralise_cell)


def write_csv(frame: pd.DataFrame, target: str | PathLike | IO[str], *, append: bool = False) -> None:
    """Write `frame` as CSV (no index) to a path or text buffer, made safe for spreadsheets.

    With `append`, the rows are added to an existing file without a header, so a large table
    can be written in chunks.
    """
    safe_for_spreadsheet(frame).to_csv(target, mode="a" if append else "w", header=not append, index=False)


def file_stem(*parts: object) -> str:
    """A download's file name stem from outside parts, joined by `_`.

    Each run of characters other than letters, digits, `-` and `.` becomes one `_`, and the stem
    is cut to `MAX_STEM_CHARS`.
    """
    stem = _UNSAFE_IN_FILE_NAME.sub("_", "_".join(str(p) for p in parts)).strip("._")
    return stem[:MAX_STEM_CHARS] or "export"


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """`frame` as the UTF-8 bytes of a CSV download, made safe for spreadsheets."""
    buffer = io.StringIO()
    write_csv(frame, buffer)
    return buffer.getvalue().encode()
