"""Tests of impactiq.serving.events: decoding, per-event reasons, and scores equal to a scored file's."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest

from impactiq.decisions.batch import score_batch
from impactiq.decisions.persuadability import default_thresholds
from impactiq.errors import ImpactIQError
from impactiq.serving import events as events_module
from impactiq.serving.events import check_events, decode_event, event_features, score_events
from impactiq.uplift.arms import arm_columns
from impactiq.uplift.scoring import score_rows


def _events(model, n: int, seed: int = 0) -> list[dict]:
    """`n` holdout users of `model` as events (features by name, and an id)."""
    rows = model.holdout[list(model.schema.features)].sample(n, random_state=seed)
    return [{"id": i, **row} for i, row in enumerate(rows.to_dict("records"))]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "no value"),
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe\x00garbage", "not valid JSON"),
        (b"[1, 2]", "is an array, not a JSON object"),
        (b'"f0"', "is a string, not a JSON object"),
        (b"null", "is null, not a JSON object"),
        (b"3.5", "is a number, not a JSON object"),
        (b"[" * 100_000, "nests JSON too deeply"),
    ],
)
def test_a_value_that_is_not_a_json_object_is_refused_with_the_reason(value, reason):
    with pytest.raises(ImpactIQError, match=reason):
        decode_event(value)


def test_a_json_object_is_an_event():
    assert decode_event(b'{"id": 7, "f0": 1.5}') == {"id": 7, "f0": 1.5}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"intent": None, "drop": "intent"}, "lacks the feature 'intent'"),
        ({"intent": "high"}, "'intent' should hold numbers, but row 1 holds 'high'"),
        ({"engagement": [3, 4]}, "'engagement' should hold numbers"),
        ({"loyal": 10**400}, "'loyal' hold an integer too large"),
        ({"device": "smart-fridge"}, "'device' holds 'smart-fridge'.*never saw in training"),
    ],
)
def test_a_bad_event_gets_a_reason_naming_the_feature(multi_arm_model, change, reason):
    events = _events(multi_arm_model, 9)
    bad = dict(events[4], **{k: v for k, v in change.items() if k != "drop"})
    bad.pop(change.get("drop"), None)
    features, good, problems = check_events(multi_arm_model, [*events[:4], bad, *events[5:]])
    assert good == [0, 1, 2, 3, 5, 6, 7, 8]
    assert list(problems) == [4]
    assert re.search(reason, problems[4]), problems[4]
    pd.testing.assert_frame_equal(
        features, event_features(multi_arm_model, [e for i, e in enumerate(events) if i != 4])
    )


def test_tolerated_values_are_read_as_a_scored_file_reads_them(two_arm_model):
    """Missing values, numbers written as text, and extra fields are not errors."""
    event = dict(_events(two_arm_model, 1)[0], f0=None, f1="0.5", note="extra fields are ignored")
    features, good, problems = check_events(two_arm_model, [event])
    assert good == [0] and not problems
    assert math.isnan(features.loc[0, "f0"]) and features.loc[0, "f1"] == np.float32(0.5)


def test_a_good_batch_is_checked_once_and_a_bad_event_costs_a_few_halvings(two_arm_model, monkeypatch):
    calls = []
    checked = events_module.event_features
    monkeypatch.setattr(events_module, "event_features", lambda m, e: calls.append(len(e)) or checked(m, e))
    events = _events(two_arm_model, 1_024)
    check_events(two_arm_model, events)
    assert calls == [1_024]
    calls.clear()
    events[700] = {"id": "broken"}
    _, good, problems = check_events(two_arm_model, events)
    assert list(problems) == [700] and len(good) == 1_023
    assert len(calls) == 1 + 2 * 10  # the batch, then both halves at each of log2(1024) levels


def test_every_event_of_a_batch_may_be_bad(two_arm_model):
    features, good, problems = check_events(two_arm_model, [{"id": 1}, {"id": 2}])
    assert features.empty and good == [] and sorted(problems) == [0, 1]


def test_two_arm_scores_equal_a_scored_files(two_arm_model):
    events = _events(two_arm_model, 50, seed=1)
    scores = score_events(
        two_arm_model, event_features(two_arm_model, events), default_thresholds(two_arm_model.holdout)
    )
    rows = pd.DataFrame(events)[list(two_arm_model.schema.features)]
    expected = score_batch(two_arm_model, rows)
    assert list(scores.columns) == ["uplift", "uplift_lower", "uplift_upper", "class"]
    np.testing.assert_allclose(scores["uplift"], expected["uplift"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(scores["uplift_upper"], expected["uplift_upper"], rtol=0, atol=1e-12)
    assert scores["class"].tolist() == expected["class"].tolist()


def test_multi_arm_scores_name_the_best_arm_and_carry_every_arm(multi_arm_model):
    model = multi_arm_model
    events = _events(model, 60, seed=2)
    scores = score_events(model, event_features(model, events), None)
    expected = score_rows(model, pd.DataFrame(events)[list(model.schema.features)])
    assert scores["best_arm"].tolist() == expected["best_arm"].tolist()
    assert set(scores["best_arm"]) <= {*model.arms, "none"}
    per_arm = np.column_stack([expected[arm_columns(arm)["uplift"]] for arm in model.arms])
    np.testing.assert_allclose(scores["uplift"], per_arm.max(axis=1), rtol=0, atol=1e-12)
    for arm in model.arms:
        for name in arm_columns(arm).values():
            if name in expected:
                np.testing.assert_allclose(scores[name], expected[name], rtol=0, atol=1e-12)


def test_event_values_survive_a_json_round_trip(two_arm_model):
    """Events are produced as JSON: float32 features written and read back score identically."""
    events = _events(two_arm_model, 20, seed=3)
    again = [json.loads(json.dumps(e)) for e in events]
    pd.testing.assert_frame_equal(event_features(two_arm_model, events), event_features(two_arm_model, again))
