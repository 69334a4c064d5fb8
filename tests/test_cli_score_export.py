"""`python -m impactiq score` writes a CSV that a spreadsheet cannot run as formulas."""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pytest

from impactiq import cli
from impactiq.data.synthetic import make_criteo_like

FORMULA = "=cmd|' /C calc'!A0"
CELLS = [FORMULA, "-2+3+cmd|' /C calc'!A0", "@SUM(A1:A9)", "+1", "Web"]


@pytest.fixture(scope="module")
def hostile_csv(tmp_path_factory):
    """Rows to score with two columns from outside: one named like a formula, one holding formulas."""
    rng = np.random.default_rng(7)
    frame = make_criteo_like(600, seed=7)
    frame[FORMULA] = rng.normal(size=len(frame)) - 5.0
    frame["channel"] = rng.choice(CELLS, len(frame))
    path = tmp_path_factory.mktemp("cli_score_export") / "hostile.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("chunk_rows", [100_000, 250], ids=["one-chunk", "chunks"])
def test_score_neutralises_formula_cells_and_column_names(
    models_dir, saved_model_name, hostile_csv, tmp_path, monkeypatch, chunk_rows
):
    monkeypatch.setattr(cli, "SCORE_CHUNK_ROWS", chunk_rows)
    out = tmp_path / "scored.csv"
    model = models_dir / saved_model_name
    assert cli.main(["score", "--model", str(model), "--data", str(hostile_csv), "--out", str(out)]) == 0
    with out.open(newline="") as handle:
        header, *rows = list(csv.reader(handle))
    original = pd.read_csv(hostile_csv)
    assert len(rows) == len(original)
    assert "'" + FORMULA in header and FORMULA not in header
    channel = [row[header.index("channel")] for row in rows]
    assert channel == [f"'{c}" if c[0] in "=+-@" else c for c in original["channel"]]
    # Numbers stay numbers: negative values are written as they are, never quoted.
    scored = pd.read_csv(out)
    np.testing.assert_allclose(scored["'" + FORMULA], original[FORMULA], rtol=1e-12)
    assert (scored["'" + FORMULA] < 0).all() and scored["uplift_lower"].dtype == np.float64
    assert (scored["uplift_lower"] < 0).any()
