"""Tests of impactiq.uplift.features: what each feature looked like in training."""

from __future__ import annotations

import pandas as pd

from impactiq.uplift.features import feature_profile
from tests.support import FORM_SCHEMA


def test_a_category_no_training_row_holds_is_not_in_the_profile():
    """Seen: a category present only in rows left out of training (the holdout, an unsampled
    part) was in the profile, so the stream's check passed an event the model's encoder then
    refused while scoring, which stopped the stream on every restart."""
    channel = pd.Categorical(["Web", "Phone", "Web"], categories=["Multichannel", "Phone", "Web"])
    X = pd.DataFrame({"age": [31.0, 42.0, 55.0], "visits": [1.0, 2.0, 3.0], "channel": channel})
    profile = feature_profile(X, FORM_SCHEMA)
    assert profile["channel"]["categories"] == ["Phone", "Web"]
    assert profile["channel"]["n_categories"] == 2
