"""Tests of impactiq.uplift.scoring: scored rows of a labelled table, and their guards."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from impactiq.data.experiment import prepare_experiment
from impactiq.data.schema import build_schema
from impactiq.decisions import segmentation, segments
from impactiq.errors import ImpactIQError
from impactiq.evaluation.training import train_model
from impactiq.uplift import scoring
from impactiq.uplift.scoring import predictions_frame
from tests.support import scored_by_channel


@pytest.fixture(scope="module")
def scored() -> pd.DataFrame:
    return scored_by_channel()


def test_unscored_rows_are_refused(scored):
    with pytest.raises(ImpactIQError, match="y0_pred"):
        segments.segment_table(scored.drop(columns="y0_pred"), scored["channel"])


def test_score_experiment_scores_a_labelled_table_like_a_holdout():
    rng = np.random.default_rng(4)
    n = 2_000
    df = pd.DataFrame(
        {
            "group": np.where(rng.random(n) < 0.5, "email", "none"),
            "x": rng.normal(size=n),
            "channel": rng.choice(["web", "phone"], size=n),
        }
    )
    df["y"] = (rng.random(n) < 0.3 + 0.1 * (df["group"] == "email")).astype(int)
    schema = build_schema(
        df, treatment="group", treated_values=["email"], control_values=["none"], outcomes=["y"]
    )
    experiment = prepare_experiment(df, schema)
    model = train_model(
        experiment, outcome="y", n_boot=5, params={"n_estimators": 20, "min_samples_leaf": 20}, test_size=0.3
    )
    frame = scoring.score_experiment(model, experiment)
    expected = predictions_frame(
        model, model.features(experiment.frame), experiment.y("y"), experiment.t, None
    )
    pd.testing.assert_frame_equal(frame[expected.columns], expected)
    np.testing.assert_array_equal(frame["channel"].astype(str), experiment.frame["channel"].astype(str))
    table = segments.segment_table(frame, segmentation.assign_segments(frame, schema, "channel").labels)
    assert table["users"].sum() == n
