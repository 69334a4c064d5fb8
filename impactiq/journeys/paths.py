"""Customer journeys: which touchpoints lead to each conversion, as flat arrays.

Every attribution model reads the same thing: for each conversion, the person's touchpoints in
order, with how long before the conversion each came. At ten million touchpoints a list of
Python lists per journey is too slow and too large, so a journey set is flat arrays, one entry
per (conversion, touchpoint) pair, sorted by conversion and then by time (`Journeys`).

The rules, stated once:

- A conversion's path is the person's touchpoints at or before the conversion's time, no older
  than the lookback window, and after the person's previous conversion (of the stage studied):
  a touch that led to one conversion is not credited again for the next.
- Touches at the same time keep the order of the touchpoint table.
- Touches that lead to no conversion form one non-converting path per person: those after the
  person's last conversion (all of them for a person who never converted), no older than the
  lookback window before the person's last touch. Only the Markov model uses them, as the
  journeys that end without a conversion.
- A conversion without any touch in its window has an empty path; it is counted
  (`Journeys.unattributed`), never credited.

Inputs are the canonical tables of `journeys.events`: `person` (an int, >= 0), `timestamp`
(datetime64, one time zone) and `channel` for touchpoints; `person`, `timestamp` and `revenue`
for conversions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from impactiq.errors import ImpactIQError

PERSON = "person"
TIMESTAMP = "timestamp"
CHANNEL = "channel"
REVENUE = "revenue"
STAGE = "stage"
NANOS_PER_DAY = 86_400 * 10**9
# The longest lookback window: ten years reach past any campaign log (and a window in nanoseconds
# beyond 292 years overflows).
MAX_LOOKBACK_DAYS = 3_650


@dataclass(frozen=True)
class Journeys:
    """Converting paths as flat arrays (one entry per conversion and touch), and the others.

    `conversion`, `channel`, `age_days` and `day` have one entry per touch on a converting path,
    sorted by conversion and then time: the conversion's index, the touch's channel code (into
    `channels`), days from the touch to its conversion, and the touch's calendar day (days since
    1970, in the table's time zone). Per conversion: `revenue`, `conversion_day` (its calendar
    day) and `path_length` (its number of touches, 0 for an unattributed one). `null_path` and
    `null_channel` are the non-converting paths in the same layout.
    """

    channels: tuple[str, ...]
    conversion: np.ndarray
    channel: np.ndarray
    age_days: np.ndarray
    day: np.ndarray
    revenue: np.ndarray
    conversion_day: np.ndarray
    path_length: np.ndarray
    null_path: np.ndarray
    null_channel: np.ndarray
    lookback_days: float

    @property
    def n_conversions(self) -> int:
        return len(self.path_length)

    @property
    def unattributed(self) -> int:
        """Conversions with no touch in their window: counted, never credited to a channel."""
        return int(np.sum(self.path_length == 0))

    @property
    def n_null_paths(self) -> int:
        return int(self.null_path.max()) + 1 if len(self.null_path) else 0

    def starts(self) -> np.ndarray:
        """The first entry of each conversion's path (its path is `starts[j]:starts[j]+length`)."""
        return np.concatenate([[0], np.cumsum(self.path_length)[:-1]]).astype(np.int64)


def build_journeys(touches: pd.DataFrame, conversions: pd.DataFrame, *, lookback_days: float) -> Journeys:
    """The converting and non-converting paths of `touches` for `conversions` (see the module)."""
    if not 0 < lookback_days <= MAX_LOOKBACK_DAYS:
        raise ImpactIQError(
            f"The lookback window must be a number of days above 0 and at most {MAX_LOOKBACK_DAYS:,}; "
            f"got {lookback_days}."
        )
    channel_codes, channels = pd.factorize(touches[CHANNEL], sort=True)
    # Sort touches by person, then time, keeping table order among equal times.
    touch_person = touches[PERSON].to_numpy(dtype=np.int64)
    touch_time = _nanoseconds(touches[TIMESTAMP])
    order = np.lexsort((np.arange(len(touches)), touch_time, touch_person))
    touch_person, touch_time, channel_codes = touch_person[order], touch_time[order], channel_codes[order]

    conv_person = conversions[PERSON].to_numpy(dtype=np.int64)
    conv_time = _nanoseconds(conversions[TIMESTAMP])
    window = int(round(lookback_days * NANOS_PER_DAY))
    previous = _previous_time(conv_person, conv_time)

    # One int64 key orders (person, time) pairs: time replaced by its rank among every time used.
    queries = np.concatenate([conv_time, conv_time - window, previous])
    times, ranks = np.unique(np.concatenate([touch_time, queries]), return_inverse=True)
    width = np.int64(len(times) + 1)
    touch_key = touch_person * width + ranks[: len(touch_time)]
    query_rank = ranks[len(touch_time) :].reshape(3, -1)
    conv_key = conv_person * width
    hi = _search(touch_key, conv_key + query_rank[0], side="right")
    after_window = _search(touch_key, conv_key + query_rank[1], side="left")
    after_previous = _search(touch_key, conv_key + query_rank[2], side="right")
    lo = np.maximum(after_window, after_previous)
    length = np.maximum(hi - lo, 0)

    rows = _ranges(lo, length)
    conversion = np.repeat(np.arange(len(conv_person)), length)
    age = (conv_time[conversion] - touch_time[rows]) / NANOS_PER_DAY
    null_path, null_rows = _null_paths(touch_person, touch_time, conv_person, conv_time, window)
    revenue = (
        conversions[REVENUE].to_numpy(dtype=np.float64)
        if REVENUE in conversions
        else np.zeros(len(conversions))
    )
    return Journeys(
        channels=tuple(str(c) for c in channels),
        conversion=conversion,
        channel=channel_codes[rows].astype(np.int32),
        age_days=age,
        day=_calendar_day(touch_time[rows]),
        revenue=revenue,
        conversion_day=_calendar_day(conv_time),
        path_length=length.astype(np.int64),
        null_path=null_path,
        null_channel=channel_codes[null_rows].astype(np.int32),
        lookback_days=float(lookback_days),
    )


def _nanoseconds(column: pd.Series) -> np.ndarray:
    """Times as int64 nanoseconds, wall clock of their time zone (days split at local midnight)."""
    values = pd.Series(column)
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        values = values.dt.tz_localize(None)
    return values.to_numpy(dtype="datetime64[ns]").astype(np.int64)


def _calendar_day(nanoseconds: np.ndarray) -> np.ndarray:
    return np.floor_divide(nanoseconds, NANOS_PER_DAY)


def _previous_time(person: np.ndarray, time: np.ndarray) -> np.ndarray:
    """Each conversion's person's previous conversion time (the minimum int64 when none)."""
    order = np.lexsort((time, person))
    previous = np.full(len(person), np.iinfo(np.int64).min // 2, dtype=np.int64)
    same = np.flatnonzero(person[order][1:] == person[order][:-1]) + 1
    previous[order[same]] = time[order[same - 1]]
    return previous


def _search(keys: np.ndarray, queries: np.ndarray, *, side: str) -> np.ndarray:
    """`np.searchsorted(keys, queries, side)`, with the queries looked up in order: a million
    lookups at random places in ten million keys are several times slower."""
    order = np.argsort(queries, kind="stable")
    found = np.empty(len(queries), dtype=np.int64)
    found[order] = np.searchsorted(keys, queries[order], side=side)
    return found


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The concatenation of range(s, s + n) for each start s and length n."""
    total = int(lengths.sum())
    offsets = np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.arange(total, dtype=np.int64) - offsets + np.repeat(starts, lengths)


def _null_paths(
    touch_person: np.ndarray,
    touch_time: np.ndarray,
    conv_person: np.ndarray,
    conv_time: np.ndarray,
    window: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(path number, touch row) of each touch on a non-converting path (see the module)."""
    n_people = int(max(touch_person.max(initial=-1), conv_person.max(initial=-1))) + 1
    last_conversion = np.full(n_people, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(last_conversion, conv_person, conv_time)
    last_touch = np.full(n_people, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(last_touch, touch_person, touch_time)
    keep = (touch_time > last_conversion[touch_person]) & (touch_time >= last_touch[touch_person] - window)
    rows = np.flatnonzero(keep)
    _, path = np.unique(touch_person[rows], return_inverse=True)
    return path.astype(np.int64), rows
