"""The feature encoder: the same matrix at fit and score time, clear errors when a table does not fit."""

import json

import numpy as np
import pandas as pd
import pytest

from impactiq.errors import ImpactIQError
from impactiq.uplift.encoding import MAX_LEVELS, FeatureEncoder, is_categorical


@pytest.fixture
def table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": [30.0, np.nan, 50.0, 20.0],
            "channel": pd.Series(["web", "phone", "web", "multi"], dtype="category"),
            "newbie": [True, False, False, True],
            "visits": np.array([1, 2, 3, 4], dtype=np.int64),
        }
    )


def test_encoding_matches_hand_computation(table):
    encoder = FeatureEncoder().fit(table)
    assert encoder.feature_names_out_ == (
        "age",
        "age__missing",
        "channel=phone",
        "channel=web",
        "newbie=True",
        "visits",
    )
    expected = np.array(
        [
            [30.0, 0.0, 0.0, 1.0, 1.0, 1.0],
            [30.0, 1.0, 1.0, 0.0, 0.0, 2.0],  # median of 30, 50, 20 fills the gap
            [50.0, 0.0, 0.0, 1.0, 0.0, 3.0],
            [20.0, 0.0, 0.0, 0.0, 1.0, 4.0],
        ]
    )
    np.testing.assert_array_equal(encoder.transform(table), expected)
    assert encoder.categories_ == {"channel": ("multi", "phone", "web"), "newbie": ("False", "True")}
    assert encoder.medians_ == {"age": 30.0, "visits": 2.5}


def test_score_time_table_may_differ_in_dtype_and_column_order(table):
    encoder = FeatureEncoder().fit(table)
    as_read_from_csv = pd.DataFrame(
        {
            "visits": ["1", "2", "3", "4"],
            "newbie": ["True", "False", "False", "True"],
            "extra": [9, 9, 9, 9],
            "channel": ["web", "phone", "web", "multi"],
            "age": [30.0, np.nan, 50.0, 20.0],
        }
    )
    np.testing.assert_array_equal(encoder.transform(as_read_from_csv), encoder.transform(table))


def test_gap_in_a_column_that_had_none_is_filled_without_an_indicator(table):
    encoder = FeatureEncoder().fit(table)
    scored = table.assign(visits=[np.nan, 2, 3, 4])
    matrix = encoder.transform(scored)
    assert matrix.shape == (4, 6)
    assert matrix[0, -1] == 2.5


def test_missing_category_value_is_a_level_of_its_own():
    fit_table = pd.DataFrame({"zip": ["a", None, "b", "a"]})
    encoder = FeatureEncoder().fit(fit_table)
    assert encoder.categories_["zip"] == ("(missing)", "a", "b")
    np.testing.assert_array_equal(
        encoder.transform(pd.DataFrame({"zip": [None, "b"]})), [[0.0, 0.0], [0.0, 1.0]]
    )


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [
        ("float32", False),
        ("int8", False),
        ("bool", True),
        ("object", True),
        ("category", True),
        ("string", True),
    ],
)
def test_is_categorical_by_dtype(dtype, expected):
    assert is_categorical(pd.Series([1, 0, 1]).astype(dtype)) is expected


def test_unseen_category_names_the_column_the_value_and_the_known_values(table):
    encoder = FeatureEncoder().fit(table)
    with pytest.raises(ImpactIQError, match=r"'channel'.*'mail'.*'multi', 'phone', 'web'"):
        encoder.transform(table.assign(channel=["web", "mail", "web", "web"]))


def test_missing_column_is_named(table):
    encoder = FeatureEncoder().fit(table)
    with pytest.raises(ImpactIQError, match="'newbie'.*missing"):
        encoder.transform(table.drop(columns="newbie"))


def test_text_in_a_numeric_column_is_named(table):
    encoder = FeatureEncoder().fit(table)
    with pytest.raises(ImpactIQError, match="'visits'.*'many'"):
        encoder.transform(table.assign(visits=["1", "many", "3", "4"]))


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"id": [f"user{i}" for i in range(MAX_LEVELS + 1)]}), "'id' has 101 distinct values"),
        (pd.DataFrame(index=range(3)), "no feature columns"),
        (np.zeros((3, 2)), "pandas DataFrame"),
    ],
)
def test_unusable_training_tables_are_refused(frame, message):
    with pytest.raises(ImpactIQError, match=message):
        FeatureEncoder().fit(frame)


def test_transform_before_fit_is_refused(table):
    with pytest.raises(ImpactIQError, match="not fitted"):
        FeatureEncoder().transform(table)


def test_a_numeric_column_with_no_value_in_the_training_rows_is_kept_as_a_constant():
    """A feature missing from a training sample (constant elsewhere) must not stop training."""
    encoder = FeatureEncoder().fit(pd.DataFrame({"a": [np.nan, np.nan, np.nan], "b": [1.0, 2.0, 3.0]}))
    assert encoder.feature_names_out_ == ("a", "a__missing", "b")
    encoded = encoder.transform(pd.DataFrame({"a": [np.nan, 5.0], "b": [1.0, 2.0]}))
    np.testing.assert_array_equal(encoded, [[0.0, 1.0, 1.0], [5.0, 0.0, 2.0]])


def test_the_encoding_survives_its_json_form(table):
    encoder = FeatureEncoder().fit(table)
    rebuilt = FeatureEncoder.from_dict(json.loads(json.dumps(encoder.to_dict())))
    assert rebuilt.feature_names_out_ == encoder.feature_names_out_
    np.testing.assert_array_equal(rebuilt.transform(table), encoder.transform(table))


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d.pop("medians"),
        lambda d: d.update(features="abc"),
        lambda d: d.update(flag_missing=["not_a_feature"]),
        lambda d: d["categories"].update({d["features"][0]: ["x"]}),
        lambda d: d["categories"].update(channel=[str(i) for i in range(MAX_LEVELS + 1)]),
        lambda d: d["categories"].update(channel=[]),
    ],
)
def test_a_damaged_json_encoding_is_refused(table, damage):
    data = FeatureEncoder().fit(table).to_dict()
    damage(data)
    with pytest.raises(ImpactIQError, match="encoding"):
        FeatureEncoder.from_dict(data)
