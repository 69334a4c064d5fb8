"""Tests of impactiq.decisions.scenario: a Simulator scenario through a URL and back."""

from __future__ import annotations

import math

import pytest

from impactiq.decisions import economics, profiles, scenario
from tests.support import FORM_PROFILE, FORM_SCHEMA


def test_scenario_round_trip():
    chosen = scenario.Scenario({"age": 33.25, "visits": math.nan, "channel": "Shop"}, "channel", 0.25, 12.5)
    params = scenario.encode_scenario("demo", chosen)
    assert params[scenario.QUERY_MODEL] == "demo" and params["x.visits"] == ""
    decoded, warnings = scenario.decode_scenario(params, FORM_SCHEMA, FORM_PROFILE)
    assert warnings == []
    assert decoded.profile["age"] == 33.25 and math.isnan(decoded.profile["visits"])
    assert (decoded.whatif, decoded.cost, decoded.value, decoded.profile["channel"]) == (
        "channel",
        0.25,
        12.5,
        "Shop",
    )


def test_an_empty_url_gives_defaults_without_warnings():
    decoded, warnings = scenario.decode_scenario({}, FORM_SCHEMA, FORM_PROFILE)
    assert warnings == []
    assert decoded == scenario.Scenario(
        profiles.default_profile(FORM_PROFILE, FORM_SCHEMA),
        "age",
        economics.DEFAULT_COST,
        economics.DEFAULT_VALUE,
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"x.age": "old"}, "not a number"),
        ({"x.age": "nan"}, "not a number"),
        ({"x.age": "120"}, "outside the training range 18 to 80"),
        ({"x.channel": "Fax"}, "not one of its categories"),
        ({"x.visits": "2.5"}, "whole number"),
        ({"x.age": ""}, "never missing"),
        ({"whatif": "income"}, "not a feature"),
        ({"cost": "-1"}, "positive amount"),
        ({"value": "lots"}, "0 or more"),
        ({"x.income": "3"}, "x.income"),
    ],
)
def test_invalid_url_values_fall_back_with_a_warning(params, message):
    decoded, warnings = scenario.decode_scenario(params, FORM_SCHEMA, FORM_PROFILE)
    assert len(warnings) == 1 and message in warnings[0]
    defaults, _ = scenario.decode_scenario({}, FORM_SCHEMA, FORM_PROFILE)
    assert decoded == defaults


@pytest.mark.parametrize("key", ["x.age", "x.channel", "whatif", "cost", "value"])
def test_a_long_link_value_is_quoted_cut(key):
    long = "A" * 100_000
    _, warnings = scenario.decode_scenario({key: long}, FORM_SCHEMA, FORM_PROFILE)
    assert len(warnings) == 1
    assert "A" * scenario.MAX_QUOTED_CHARS not in warnings[0]
    assert "A" * (scenario.MAX_QUOTED_CHARS - 1) + "…'" in warnings[0]


def test_unknown_features_are_listed_cut_and_counted():
    params = {f"x.{name}": "1" for name in ("b" * 1_000, "c", "d", "e", "f", "g", "h")}
    _, warnings = scenario.decode_scenario(params, FORM_SCHEMA, FORM_PROFILE)
    assert len(warnings) == 1 and len(warnings[0]) < 300
    assert "x.c, x.d, x.e, x.f" in warnings[0] and "and 2 more" in warnings[0]
