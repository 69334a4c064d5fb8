import json

import numpy as np
import pandas as pd
import pytest

from impactiq.data.schema import CRITEO_FEATURES, Schema, build_schema, detect_criteo, suggest_treated_values
from impactiq.errors import ImpactIQError

CRITEO_COLUMNS = [*CRITEO_FEATURES, "treatment", "conversion", "visit", "exposure"]


def hillstrom_like() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "recency": [10, 6, 7, 9],
            "history": [142.44, 329.08, 180.65, 675.83],
            "zip_code": ["Surburban", "Rural", "Surburban", "Urban"],
            "newbie": [True, False, False, True],
            "segment": ["Womens E-Mail", "No E-Mail", "Mens E-Mail", "No E-Mail"],
            "visit": [0, 1, 0, 1],
            "spend": [0.0, 29.99, 0.0, 0.0],
            "exposure": [0, 1, 1, 0],
        }
    )


def test_detects_the_criteo_layout():
    schema = detect_criteo(CRITEO_COLUMNS)
    assert schema.treatment == "treatment"
    assert (schema.treated_values, schema.control_values) == ((1,), (0,))
    assert schema.outcomes == ("visit", "conversion") == schema.binary_outcomes
    assert schema.features == CRITEO_FEATURES and schema.categorical_features == ()
    assert schema.excluded == ("exposure",)
    assert schema.truth == {}
    assert "exposure" not in schema.features


def test_criteo_truth_columns_and_a_single_outcome():
    schema = detect_criteo([*CRITEO_FEATURES, "treatment", "visit", "tau_visit"])
    assert schema.outcomes == ("visit",)
    assert schema.truth == {"visit": "tau_visit"}
    assert schema.excluded == ()


@pytest.mark.parametrize(
    "columns",
    [
        [c for c in CRITEO_COLUMNS if c != "f5"],
        [c for c in CRITEO_COLUMNS if c != "treatment"],
        [c for c in CRITEO_COLUMNS if c not in ("visit", "conversion")],
        list(hillstrom_like().columns),
    ],
)
def test_other_layouts_are_not_criteo(columns):
    assert detect_criteo(columns) is None


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([0, 1], ((1,), (0,))),
        (np.array([1, 0]), ((1,), (0,))),
        ([1.0, 0.0], ((1.0,), (0.0,))),
        ([0, 1, 2], ((1, 2), (0,))),
        ([True, False], ((True,), (False,))),
        (["Mens E-Mail", "Womens E-Mail", "No E-Mail"], (("Mens E-Mail", "Womens E-Mail"), ("No E-Mail",))),
        (["treatment", "control"], (("treatment",), ("control",))),
        (["holdout", "promo", None], (("promo",), ("holdout",))),
        (["A", "B"], None),
        (["control", "ctrl"], None),
        ([1], None),
        ([], None),
    ],
)
def test_suggests_treated_and_control_values(values, expected):
    suggestion = suggest_treated_values(values)
    assert suggestion == expected
    if suggestion:
        assert all(type(v) in (int, float, bool, str) for group in suggestion for v in group)


def test_builds_a_schema_from_the_users_choices():
    frame = hillstrom_like()
    schema = build_schema(
        frame,
        treatment="segment",
        treated_values=["Mens E-Mail", "Womens E-Mail"],
        control_values=["No E-Mail"],
        outcomes=["visit", "spend"],
    )
    assert schema.treated_values == ("Mens E-Mail", "Womens E-Mail")
    assert schema.binary_outcomes == ("visit",)
    assert schema.numeric_features == ("recency", "history")
    assert schema.categorical_features == ("zip_code", "newbie")  # booleans are categories
    assert schema.excluded == ("exposure",)
    assert schema.features == ("recency", "history", "zip_code", "newbie")


def test_a_post_treatment_column_may_be_an_outcome():
    schema = build_schema(
        hillstrom_like(),
        treatment="segment",
        treated_values=["Mens E-Mail"],
        control_values=["No E-Mail"],
        outcomes=["exposure"],
    )
    assert schema.outcomes == ("exposure",) and schema.excluded == ()
    assert "exposure" not in schema.features


@pytest.mark.parametrize(
    ("choices", "match"),
    [
        ({"treatment": "arm"}, "The treatment column 'arm' is not in the table. Columns found: recency"),
        ({"outcomes": ["buy"]}, "The outcome column 'buy' is not in the table"),
        ({"outcomes": []}, "Choose at least one outcome"),
        ({"outcomes": ["segment"]}, "'segment' cannot be both the treatment and an outcome"),
        ({"treated_values": []}, "both groups need at least one value"),
        (
            {"control_values": ["No E-Mail", "Mens E-Mail"]},
            r"\['Mens E-Mail'\] .* marked both treated and control",
        ),
        ({"features": ["age"]}, "The feature column 'age' is not in the table"),
        ({"features": ["visit"]}, "Column 'visit' cannot be a feature"),
        ({"features": ["exposure"]}, "Column 'exposure' cannot be a feature.*post-treatment"),
    ],
)
def test_bad_choices_name_the_column(choices, match):
    arguments = {
        "treatment": "segment",
        "treated_values": ["Mens E-Mail"],
        "control_values": ["No E-Mail"],
        "outcomes": ["visit"],
        **choices,
    }
    with pytest.raises(ImpactIQError, match=match):
        build_schema(hillstrom_like(), **arguments)


@pytest.mark.parametrize("values_from_frame", [False, True])
def test_schema_survives_a_json_round_trip(values_from_frame):
    frame = pd.DataFrame({"arm": np.array([0, 1, 1, 0]), "y": [0, 1, 0, 1], "x": [1.0, 2.0, 3.0, 4.0]})
    treated, control = (
        (frame["arm"].unique()[1:], frame["arm"].unique()[:1]) if values_from_frame else ([1], [0])
    )
    schema = build_schema(
        frame, treatment="arm", treated_values=treated, control_values=control, outcomes=["y"]
    )
    restored = Schema.from_dict(json.loads(json.dumps(schema.to_dict())))
    assert restored == schema
    assert restored.treated_values == (1,) and restored.control_values == (0,)


def test_criteo_schema_survives_a_json_round_trip():
    schema = detect_criteo([*CRITEO_COLUMNS, "tau_visit"])
    assert Schema.from_dict(json.loads(json.dumps(schema.to_dict()))) == schema


def test_is_binary():
    schema = build_schema(
        hillstrom_like(),
        treatment="segment",
        treated_values=["Mens E-Mail"],
        control_values=["No E-Mail"],
        outcomes=["visit", "spend"],
    )
    assert schema.is_binary("visit") and not schema.is_binary("spend")


def test_separate_arms_keep_each_treated_value_and_reserve_their_truth():
    frame = pd.DataFrame(
        {
            "channel": ["none", "email", "social"] * 10,
            "x": range(30),
            "conversion": [0, 1] * 15,
            "tau_conversion_email": 0.01,
            "tau_conversion_social": 0.02,
        }
    )
    schema = build_schema(
        frame,
        treatment="channel",
        treated_values=["email", "social"],
        control_values=["none"],
        outcomes=["conversion"],
        separate_arms=True,
    )
    assert schema.arms == ("email", "social")
    assert schema.arm_truth == {
        "conversion": {"email": "tau_conversion_email", "social": "tau_conversion_social"}
    }
    assert schema.features == ("x",)  # the truth columns are never features
    assert Schema.from_dict(json.loads(json.dumps(schema.to_dict()))) == schema
    pooled = build_schema(
        frame,
        treatment="channel",
        treated_values=["email", "social"],
        control_values=["none"],
        outcomes=["conversion"],
    )
    assert pooled.arms == () and pooled.arm_truth == {}


def test_separate_arms_need_two_treated_values():
    frame = pd.DataFrame({"channel": ["none", "email"] * 5, "x": range(10), "y": [0, 1] * 5})
    with pytest.raises(ImpactIQError, match="two or more treated values"):
        build_schema(
            frame,
            treatment="channel",
            treated_values=["email"],
            control_values=["none"],
            outcomes=["y"],
            separate_arms=True,
        )


def test_no_true_effect_column_becomes_a_default_feature():
    """Truth of another outcome or another arm is the answer, not something known before treatment."""
    frame = pd.DataFrame(
        {
            "channel": ["none", "email", "social"] * 10,
            "x": range(30),
            "conversion": [0, 1] * 15,
            "tau_visit": 0.1,
            "tau_conversion_email": 0.01,
        }
    )
    schema = build_schema(
        frame,
        treatment="channel",
        treated_values=["email", "social"],
        control_values=["none"],
        outcomes=["conversion"],
    )
    assert schema.features == ("x",)


def test_an_arm_named_twice_is_refused():
    frame = pd.DataFrame({"channel": ["none", "email", "social"] * 10, "x": range(30), "y": [0, 1] * 15})
    with pytest.raises(ImpactIQError, match="named once"):
        build_schema(
            frame,
            treatment="channel",
            treated_values=["email", "email"],
            control_values=["none"],
            outcomes=["y"],
            separate_arms=True,
        )
