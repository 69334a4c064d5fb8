"""Tests of impactiq.present.segment_tables: the Segments report as text."""

from __future__ import annotations

import pandas as pd
import pytest

from impactiq.decisions import segments
from impactiq.present import segment_tables
from tests.support import scored_by_channel


@pytest.fixture(scope="module")
def scored() -> pd.DataFrame:
    return scored_by_channel()


@pytest.mark.parametrize(("binary", "word"), [(True, "conversions (y)"), (False, "y (amount)")])
def test_labels_say_conversions_or_amounts(scored, binary, word):
    table = segments.segment_table(scored, scored["channel"], cost=1.0, value=2.0)
    shown = segment_tables.segment_table_text(table, outcome="y", binary=binary)
    readable = segment_tables.readable_segment_table(table, outcome="y", binary=binary)
    assert f"credited {word}" in shown.columns
    assert f"incremental {word} lower" in readable.columns
    assert "causal ROI [95% CI]" in shown.columns
