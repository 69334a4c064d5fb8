"""Events as the stream scorer reads them: decoded, checked against the model, and scored.

An event is a JSON object holding the model's features by name; other fields are ignored, but
an `id` is copied to the event's result. The checks are the ones a scored file goes through
(`SavedModel.features`: every feature present, numbers where numbers belong;
`decisions.batch.check_categories`: only categories seen in training), so a stream and a file
refuse the same values with the same words. An event that fails them goes to the dead-letter
topic with that reason; the events around it are scored as usual.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from impactiq.decisions.batch import check_categories, score_batch
from impactiq.decisions.persuadability import Thresholds
from impactiq.errors import ImpactIQError
from impactiq.uplift.arms import arm_columns
from impactiq.uplift.scoring import score_rows

# The event field copied to the result, so that a consumer of results can match them up.
ID_FIELD = "id"
# A two-arm model's result fields; a multi-arm model's add best_arm and every arm's `ARM_FIELDS`.
SCORE_FIELDS = ("uplift", "uplift_lower", "uplift_upper", "class")
ARM_FIELDS = ("uplift", "uplift_lower", "uplift_upper")
EXPECTED = "expected a JSON object holding the model's features by name"
# What JSON calls the values that are not objects.
_JSON_KINDS = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "true or false"}


def decode_event(value: bytes | None) -> dict:
    """One Kafka message value as an event; ImpactIQError saying what is wrong otherwise."""
    if value is None:
        raise ImpactIQError(f"The event has no value (a tombstone); {EXPECTED}.")
    try:
        event = json.loads(value, parse_constant=_not_finite, parse_float=_finite_float)
    except ImpactIQError:
        raise
    except ValueError as error:  # not JSON, or bytes in no Unicode encoding
        raise ImpactIQError(f"The event is not valid JSON ({error}); {EXPECTED}.") from error
    except RecursionError as error:
        raise ImpactIQError(f"The event nests JSON too deeply to read; {EXPECTED}.") from error
    if not isinstance(event, dict):
        kind = _JSON_KINDS.get(type(event), "null")
        raise ImpactIQError(f"The event is {kind}, not a JSON object; {EXPECTED}.")
    return event


def _not_finite(text: str):
    """Python's JSON reader takes NaN and Infinity, which JSON does not have: an uplift of ±inf
    or a NaN silently read as the training median would follow."""
    raise ImpactIQError(
        f"The event holds {text}, which is not a number JSON allows; {EXPECTED}, with finite numbers."
    )


def _finite_float(text: str) -> float:
    """A JSON number as a float, refusing one too large for a float (1e999 reads as infinity)."""
    value = float(text)
    if not np.isfinite(value):
        raise ImpactIQError(
            f"The event holds the number {text}, too large for a float (beyond 1.8e308); fix the value."
        )
    return value


def check_events(model, events: list[dict]) -> tuple[pd.DataFrame, list[int], dict[int, str]]:
    """The events `model` can score, and why it cannot score the others.

    Returns the feature frame of the good events in order, their positions in `events`, and
    the reason for each bad event by position. The whole batch is checked at once; only when
    that fails is it halved, again and again, until each bad event stands alone, so that k bad
    events among n cost about 2·k·log2(n) checks of ever smaller parts, and a bad event never
    holds back the good ones beside it.
    """
    parts: list[pd.DataFrame] = []
    good: list[int] = []
    problems: dict[int, str] = {}

    def visit(positions: list[int]) -> None:
        try:
            parts.append(event_features(model, [events[i] for i in positions]))
        except ImpactIQError as error:
            if len(positions) == 1:
                problems[positions[0]] = str(error)
                return
            middle = len(positions) // 2
            visit(positions[:middle])
            visit(positions[middle:])
        else:
            good.extend(positions)

    if events:
        visit(list(range(len(events))))
    features = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return features, good, problems


def event_features(model, events: list[dict]) -> pd.DataFrame:
    """The features of `events` as the model saw them in training; ImpactIQError if any is bad."""
    names = model.feature_names_in_
    columns = {}
    for name in names:
        try:
            columns[name] = [event[name] for event in events]
        except KeyError:
            raise ImpactIQError(
                f"The event lacks the feature '{name}'; every event needs all {len(names)} features "
                f"the model was trained on: {', '.join(names)}."
            ) from None
    frame = pd.DataFrame(columns)
    try:
        features = model.features(frame)
    except OverflowError:
        # A JSON integer beyond a float's range (above 1.8e308) cannot become a feature value.
        huge = [n for n in names if any(isinstance(v, int) and abs(v) > 2**1023 for v in columns[n])]
        raise ImpactIQError(
            f"The feature(s) {', '.join(map(repr, huge))} hold an integer too large for a number "
            "(beyond 1.8e308); fix the value."
        ) from None
    check_categories(features, model.schema, model.feature_profile)
    return features


def score_events(model, features: pd.DataFrame, thresholds: Thresholds) -> pd.DataFrame:
    """Each checked event's result fields, one row per row of `features`.

    Two arms: `SCORE_FIELDS` (uplift with its 95% interval and persuadability class, as in a
    scored file, `decisions.batch.score_batch`). Several arms: `best_arm` and, under the same
    uplift names, the uplift and interval of the arm with the largest uplift (the best arm's
    own, or the nearest to positive when control is best), then every arm's columns
    (`arms.arm_columns`), as `python -m impactiq score` writes them (`scoring.score_rows`).
    """
    if not model.arms:
        return score_batch(model, features, thresholds=thresholds)[list(SCORE_FIELDS)].reset_index(drop=True)
    scored = score_rows(model, features).reset_index(drop=True)
    by_arm = {field: [arm_columns(arm)[field] for arm in model.arms] for field in ARM_FIELDS}
    top = scored[by_arm["uplift"]].to_numpy().argmax(axis=1)
    rows = np.arange(len(scored))
    columns = {"best_arm": scored["best_arm"]}
    for field, names in by_arm.items():
        columns[field] = scored[names].to_numpy()[rows, top]
    return pd.DataFrame(columns).join(scored[per_arm_fields(model)])


def per_arm_fields(model) -> list[str]:
    """The result fields of every arm of a multi-arm model, in order (none for two arms)."""
    return [arm_columns(arm)[field] for arm in model.arms for field in ARM_FIELDS]
