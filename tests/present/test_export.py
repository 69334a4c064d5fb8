"""Tests of impactiq.present.export: CSV exports that a spreadsheet cannot run as formulas."""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
import pytest

from impactiq.present.export import FORMULA_STARTS, csv_bytes, file_stem, neutralise_cell, write_csv

FORMULA = "=cmd|' /C calc'!A0"


def _rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode())))


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        (FORMULA, "'" + FORMULA),
        ("+1+1", "'+1+1"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("Web", "Web"),
        ("a=b", "a=b"),
        ("", ""),
        (-1.5, -1.5),
        (3, 3),
        (None, None),
    ],
)
def test_a_cell_that_would_start_a_formula_gets_a_leading_quote(cell, expected):
    assert neutralise_cell(cell) == expected


def test_every_formula_start_is_covered():
    assert set(FORMULA_STARTS) == {"=", "+", "-", "@", "\t", "\r"}
    for start in FORMULA_STARTS:
        assert neutralise_cell(start + "x") == "'" + start + "x"


def test_text_cells_and_column_names_are_neutralised_and_numbers_stay_numbers():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            FORMULA: rng.normal(size=6) - 3.0,
            "channel": [FORMULA, "Web", "-5", "@x", "+1", "Phone"],
            "segment": pd.Categorical(["=A1", "Web", "=A1", "Web", "=A1", "Web"]),
            "mixed": pd.Series([-1.5, "=1+1", None, 2, "ok", -7], dtype=object),
            "flag": [True, False, True, False, True, False],
        }
    )
    header, *rows = _rows(csv_bytes(frame))
    assert header == ["'" + FORMULA, "channel", "segment", "mixed", "flag"]
    assert [r[1] for r in rows] == ["'" + FORMULA, "Web", "'-5", "'@x", "'+1", "Phone"]
    assert [r[2] for r in rows] == ["'=A1", "Web"] * 3
    assert [r[3] for r in rows] == ["-1.5", "'=1+1", "", "2", "ok", "-7"]
    back = pd.read_csv(io.BytesIO(csv_bytes(frame)))
    np.testing.assert_array_equal(back["'" + FORMULA], frame[FORMULA])  # negative numbers, no quote
    assert (back["'" + FORMULA] < 0).all()
    assert list(back["flag"]) == list(frame["flag"])


def test_the_frame_itself_is_left_unchanged():
    frame = pd.DataFrame({FORMULA: [FORMULA]})
    csv_bytes(frame)
    assert list(frame.columns) == [FORMULA] and frame.iloc[0, 0] == FORMULA


def test_a_separator_or_quote_cannot_open_a_new_cell():
    frame = pd.DataFrame({"name": ["a,=cmd", 'b",=cmd', "c\n=cmd"]})
    _, *rows = _rows(csv_bytes(frame))
    assert rows == [["a,=cmd"], ['b",=cmd'], ["c\n=cmd"]]


def test_writing_in_chunks_gives_the_same_file_as_at_once(tmp_path):
    frame = pd.DataFrame({"channel": [FORMULA, "Web", "@x", "Shop"], "uplift": [-0.5, 0.25, -1e-9, 3.0]})
    path = tmp_path / "scored.csv"
    write_csv(frame.iloc[:2], path)
    write_csv(frame.iloc[2:], path, append=True)
    assert path.read_bytes() == csv_bytes(frame)


@pytest.mark.parametrize(
    ("parts", "stem"),
    [
        (("segments", "visit", "kmeans:4"), "segments_visit_kmeans_4"),
        (("scored", "![i](http://host/x)"), "scored_i_http_host_x"),
        (("scored", "a" * 500), "scored_" + "a" * 53),
        (("", "..."), "export"),
    ],
)
def test_file_stems_are_short_and_tame(parts, stem):
    assert file_stem(*parts) == stem
