"""A Simulator scenario in a URL: the profile, the what-if feature, cost and value.

A shared link must reopen the same scenario, and a link typed by hand (or tampered with) must
never break the page: every invalid entry falls back to its default with a warning.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from impactiq.decisions.economics import DEFAULT_COST, DEFAULT_VALUE, check_economics
from impactiq.decisions.profiles import default_profile, is_integral
from impactiq.errors import ImpactIQError

# Query-parameter names of a scenario; profile values are stored as `x.<feature>`.
QUERY_MODEL = "model"
# The arm of a multi-arm model the link shows (read by the page that picks the model).
QUERY_ARM = "arm"
QUERY_WHATIF = "whatif"
QUERY_COST = "cost"
QUERY_VALUE = "value"
QUERY_FEATURE_PREFIX = "x."
# A link is outside text: a warning quotes at most this many characters of one of its values,
# and names at most this many of its unknown features.
MAX_QUOTED_CHARS = 60
MAX_LISTED = 5


@dataclass(frozen=True)
class Scenario:
    """What the Simulator shows, as stored in the page's URL (the model name is stored beside it)."""

    profile: dict
    whatif: str
    cost: float
    value: float


def encode_scenario(model_name: str, scenario: Scenario, arm: str | None = None) -> dict[str, str]:
    """Query parameters that `decode_scenario` turns back into the same scenario; `arm` names
    the arm of a multi-arm model that was shown."""
    params = {QUERY_MODEL: model_name, QUERY_WHATIF: scenario.whatif}
    if arm is not None:
        params[QUERY_ARM] = arm
    params[QUERY_COST] = repr(float(scenario.cost))
    params[QUERY_VALUE] = repr(float(scenario.value))
    for name, value in scenario.profile.items():
        params[QUERY_FEATURE_PREFIX + name] = _encode_value(value)
    return params


def decode_scenario(
    params: Mapping[str, str], schema, feature_profile: Mapping, *, default_value: float = DEFAULT_VALUE
) -> tuple[Scenario, list[str]]:
    """The scenario in `params`, every missing or invalid entry replaced by its default.

    `default_value` is the value per unit of the model's outcome (`economics.default_value`):
    a conversion is worth more than a dollar of spend.

    Returns the scenario and one warning per invalid entry (absent entries are not warned
    about: a bare URL is a fresh start). Numbers must lie in the training range, categories
    among the training categories, cost and value pass `economics.check_economics`.
    """
    warnings: list[str] = []
    profile = default_profile(feature_profile, schema)
    for name in schema.features:
        raw = params.get(QUERY_FEATURE_PREFIX + name)
        if raw is None:
            continue
        value, problem = _decode_value(raw, feature_profile[name])
        if problem:
            warnings.append(
                f"The link's value {_quoted(raw)} for '{name}' {problem}; using {_short(profile[name])}."
            )
        else:
            profile[name] = value
    known = {QUERY_FEATURE_PREFIX + name for name in schema.features}
    stray = sorted(k for k in params if k.startswith(QUERY_FEATURE_PREFIX) and k not in known)
    if stray:
        listed = ", ".join(_cut(k) for k in stray[:MAX_LISTED])
        more = f" and {len(stray) - MAX_LISTED} more" if len(stray) > MAX_LISTED else ""
        warnings.append(
            f"The link names features this model does not have ({listed}{more}); they were ignored."
        )
    whatif = params.get(QUERY_WHATIF, schema.features[0])
    if whatif not in schema.features:
        warnings.append(
            f"The link's what-if feature {_quoted(whatif)} is not a feature of this model; using '{schema.features[0]}'."
        )
        whatif = schema.features[0]
    amounts = {QUERY_COST: DEFAULT_COST, QUERY_VALUE: default_value}
    for key in amounts:
        raw = params.get(key)
        if raw is None:
            continue
        candidate = {**amounts, key: _parse_float(raw)}
        try:
            check_economics(candidate[QUERY_COST], candidate[QUERY_VALUE])
        except ImpactIQError as error:
            warnings.append(f"The link's {key} {_quoted(raw)} is refused ({error}); using {amounts[key]:g}.")
        else:
            amounts = candidate
    return Scenario(profile, whatif, amounts[QUERY_COST], amounts[QUERY_VALUE]), warnings


def _encode_value(value) -> str:
    if isinstance(value, str):
        return value
    number = float(value)
    return "" if math.isnan(number) else repr(number)


def _decode_value(raw: str, spec: Mapping) -> tuple[object, str | None]:
    """(value, None) when `raw` is valid for the feature, else (None, what is wrong)."""
    if spec["kind"] == "categorical":
        if raw in spec["categories"]:
            return raw, None
        return None, "is not one of its categories"
    if raw == "":
        if spec.get("missing_share"):
            return math.nan, None
        return None, "is empty, and this feature was never missing in training"
    number = _parse_float(raw)
    if number is None or not math.isfinite(number):
        return None, "is not a number"
    if not spec["min"] <= number <= spec["max"]:
        return None, f"lies outside the training range {_short(spec['min'])} to {_short(spec['max'])}"
    if is_integral(spec) and not number.is_integer():
        return None, "is not a whole number, and this feature holds only whole numbers"
    return number, None


def _parse_float(raw: str) -> float | None:
    try:
        return float(raw)
    except (TypeError, ValueError):
        return None


def _cut(text: str) -> str:
    """`text` cut to `MAX_QUOTED_CHARS` with an ellipsis: a link may carry any length."""
    return text if len(text) <= MAX_QUOTED_CHARS else text[: MAX_QUOTED_CHARS - 1] + "…"


def _quoted(raw: str) -> str:
    return repr(_cut(raw))


def _short(value) -> str:
    return value if isinstance(value, str) else f"{float(value):.4g}"
