"""Tests of impactiq.decisions.batch: scoring a file of profiles, and bad files explained."""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import pytest

from impactiq.data.demo import load_demo
from impactiq.data.reader import read_table
from impactiq.decisions import batch, persuadability
from impactiq.errors import ImpactIQError
from impactiq.evaluation.training import train_model


@pytest.fixture(scope="module")
def hillstrom_model():
    """A small, quick model with numeric and categorical features (about 2 s)."""
    experiment = load_demo("hillstrom")
    return train_model(experiment, outcome="visit", sample=4_000, n_boot=20, params={"n_estimators": 40})


def _csv(frame: pd.DataFrame) -> bytes:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue().encode()


def _profiles(model, n: int = 60) -> pd.DataFrame:
    experiment = load_demo("hillstrom")
    return experiment.frame[list(model.schema.features)].sample(n, random_state=1).reset_index(drop=True)


@pytest.mark.parametrize("chunk_size", [batch.CHUNK_ROWS, 7])
def test_batch_round_trip(hillstrom_model, chunk_size):
    model = hillstrom_model
    profiles = _profiles(model).assign(customer_id=np.arange(60), uplift=1.0)
    table = read_table(_csv(profiles), filename="profiles.csv")
    progress = []
    scored = batch.score_batch(
        model, table, chunk_size=chunk_size, on_progress=lambda d, t: progress.append((d, t))
    )
    assert list(scored.columns) == [c for c in profiles.columns if c != "uplift"] + list(batch.RESULT_COLUMNS)
    assert scored["customer_id"].tolist() == list(range(60))
    lower, upper = model.effect_interval(profiles)
    np.testing.assert_allclose(scored["uplift"], model.effect(profiles), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(scored["uplift_lower"], lower, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(scored["uplift_upper"], upper, rtol=1e-10, atol=1e-12)
    thresholds = persuadability.default_thresholds(model.holdout)
    expected = persuadability.classify(
        scored["uplift"], scored["uplift_upper"], scored["y0_pred"], thresholds
    )
    assert list(scored["class"]) == list(expected)
    assert progress[-1] == (60, 60) and len(progress) == math.ceil(60 / chunk_size)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns="history"), "lacks the feature column.*'history'"),
        (
            lambda f: f.assign(recency=f["recency"].astype(str).where(f.index != 4, "ten")),
            "'recency'.*row 5.*'ten'",
        ),
        (
            lambda f: f.assign(channel=f["channel"].astype(str).where(f.index != 2, "Fax")),
            "'channel'.*'Fax'.*row 3",
        ),
    ],
)
def test_bad_batch_files_are_explained(hillstrom_model, change, message):
    table = read_table(_csv(change(_profiles(hillstrom_model))), filename="profiles.csv")
    with pytest.raises(ImpactIQError, match=message):
        batch.score_batch(hillstrom_model, table)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00binary", "not a CSV or Parquet table"),
        (b"recency,history\n", "no data rows"),
    ],
)
def test_files_that_are_not_tables_are_refused(data, message):
    with pytest.raises(ImpactIQError, match=message):
        read_table(data, filename="profiles.csv")


def test_an_empty_table_is_refused(hillstrom_model):
    with pytest.raises(ImpactIQError, match="no rows"):
        batch.score_batch(hillstrom_model, _profiles(hillstrom_model).iloc[:0])
