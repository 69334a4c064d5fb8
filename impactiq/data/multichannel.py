"""A synthetic multi-channel experiment: which channel works for which users, with the truth known.

A randomized test sends each user one of several channels (e-mail, social, display, ...) or
nothing. This module draws such an experiment from an explicit model of readable behavioural
features and ships, on every row, every channel's true effect on that user's conversion
probability, so that a model's answer to "which channel for whom" can be checked against the
truth. Every number below is a module constant; the tests hold the data to this description.

Features
--------
Drawn in this order, with the correlations a web shop would show:

- `loyal` (int8): 1 for loyal returning customers, 15% of users.
- `device` (string): desktop 40%, mobile 50%, tablet 10%, independent of loyalty.
- `intent` (float64 in [0, 1]): purchase-intent score, Beta(2, 3) (mean 0.4); Beta(3, 3) for
  loyal customers (mean 0.5).
- `engagement` (int8, 1..20): pages per session, 1 + Poisson(1.5 + 6 intent + 3 loyal), capped
  at 20 (about 5 pages for a typical user, 8 to 9 for a loyal one).
- `time_of_day` (string): morning / afternoon / evening / night, with shares depending on the
  device: desktop 30/35/25/10%, mobile 20/25/35/20%, tablet 20/25/40/15%.

Segments
--------
`behaviour_segment` labels every row, first match wins:

- "loyal customer": `loyal == 1`;
- "high-intent desktop": desktop and `intent >= 0.5` (about 11% of users);
- "low-intent mobile": mobile and `intent < 0.3` (about 15%);
- "other": everyone else (about 60%).

Treatment
---------
`channel` is "none" (control) with probability `control_share` and each of the k channels with
probability (1 - control_share) / k, drawn for each row independently of everything else: a
completely randomized experiment whose propensities are exactly those shares.

Outcome
-------
Probabilities are additive on the probability scale, so every size reads in percentage points
(pp). Without contact,

    p_none(x) = 1.0% + 4.0 pp * intent + 0.1 pp * engagement + device + time + 10 pp * loyal
    device:   desktop +0.5 pp, mobile -0.3 pp, tablet 0
    time:     morning 0, afternoon +0.2 pp, evening +0.4 pp, night -0.3 pp

about 3.3% for a typical user and 14% for a loyal customer (4.9% over everyone). Channel c adds
its effect, and both probabilities are clipped to [0, 1] (which never binds with these sizes):

    p_c(x) = clip(p_none(x) + effect_c(x))        tau_conversion_<c> = p_c(x) - p_none(x)

so `tau_conversion_<c>` is exact, not sampled. `conversion` (int8) is a 0/1 draw with the
probability of the row's own arm. For the first three channels, whatever they are called, in
the roles e-mail, social and display,

    effect_c(x) = segment_effect[role, segment] * time_multiplier[role, time] * engagement_multiplier
    engagement_multiplier = 1 + 0.02 * (engagement - 5)    (0.92 at 1 page, 1.30 at 20)

with these segment effects (pp, before the multipliers):

    role       high-intent desktop   low-intent mobile   loyal customer   other
    e-mail           +2.5                 +0.3               +0.1          +0.8
    social           +0.4                 +2.2                0.0          +0.6
    display          +0.8                 +0.5               -1.0          +0.6

and these time-of-day multipliers (morning / afternoon / evening / night): e-mail 1.25 / 1.0 /
0.9 / 0.7 (read over breakfast), social 0.8 / 0.9 / 1.2 / 1.25 (scrolled at night), display 1.0
at every hour. The stories:

- high-intent desktop users answer e-mail: about +2.6 pp on a 4.8% baseline, every other channel
  under 1 pp;
- low-intent mobile users answer social: about +2.3 pp on a 1.9% baseline;
- loyal customers buy anyway (14% baseline): e-mail and social do next to nothing (+0.1 pp and
  0), and display ads annoy them, about -1.1 pp, the one harmful channel-segment pair;
- everyone else gains a little from any channel, 0.6 to 0.8 pp.

Mean true effects in pp over 1,000,000 rows (seed 0), with the control baseline:

    segment (share)               e-mail   social   display   baseline
    high-intent desktop (10.6%)    +2.62    +0.40     +0.82      4.83%
    low-intent mobile (14.7%)      +0.28    +2.25     +0.49      1.94%
    loyal customer (15.0%)         +0.10     0.00     -1.07     14.04%
    other (59.7%)                  +0.78    +0.61     +0.60      3.33%
    everyone                       +0.80    +0.74     +0.36      4.89%

Channels four to six (for any name) have a uniform effect on users who are not loyal customers,
+0.6, +0.5 and +0.4 pp in that order, and none on loyal customers; time and engagement do not
modulate them. So any 1..6 channels work: one channel is e-mail alone, two are e-mail and social.

Features and the true effects depend only on `seed` and `n_rows`, not on `channels` or
`control_share`: the same seed gives the same users whatever the arms.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from impactiq.data.schema import TRUTH_PREFIX
from impactiq.errors import ImpactIQError

TREATMENT = "channel"
CONTROL = "none"
OUTCOME = "conversion"
FEATURES = ("device", "intent", "engagement", "time_of_day", "loyal")
DEFAULT_CHANNELS = ("email", "social", "display")
MAX_CHANNELS = 6

DEVICES = ("desktop", "mobile", "tablet")
TIMES_OF_DAY = ("morning", "afternoon", "evening", "night")
SEGMENTS = ("high-intent desktop", "low-intent mobile", "loyal customer", "other")
HIGH_INTENT = 0.5
LOW_INTENT = 0.3
MAX_ENGAGEMENT = 20

_CHANNEL_NAME = re.compile(r"[A-Za-z0-9_]+")

# Features (see the module docstring).
_LOYAL_SHARE = 0.15
_DEVICE_SHARES = np.array([0.40, 0.50, 0.10])
_TIME_SHARES = np.array(  # rows: DEVICES; columns: TIMES_OF_DAY
    [
        [0.30, 0.35, 0.25, 0.10],
        [0.20, 0.25, 0.35, 0.20],
        [0.20, 0.25, 0.40, 0.15],
    ]
)

# Conversion without contact, on the probability scale.
_BASE = 0.010
_BASE_PER_INTENT = 0.040
_BASE_PER_PAGE = 0.001
_BASE_DEVICE = np.array([0.005, -0.003, 0.0])  # DEVICES
_BASE_TIME = np.array([0.0, 0.002, 0.004, -0.003])  # TIMES_OF_DAY
_BASE_LOYAL = 0.100

# Effects of the first three channels (roles e-mail, social, display); columns follow SEGMENTS.
_SEGMENT_EFFECT = np.array(
    [
        [0.025, 0.003, 0.001, 0.008],
        [0.004, 0.022, 0.000, 0.006],
        [0.008, 0.005, -0.010, 0.006],
    ]
)
_TIME_MULTIPLIER = np.array(  # columns follow TIMES_OF_DAY
    [
        [1.25, 1.0, 0.9, 0.7],
        [0.8, 0.9, 1.2, 1.25],
        [1.0, 1.0, 1.0, 1.0],
    ]
)
_ENGAGEMENT_SLOPE = 0.02
_ENGAGEMENT_PIVOT = 5
# Channels four to six: a uniform effect on everyone but loyal customers.
_EXTRA_EFFECT = (0.006, 0.005, 0.004)


def truth_column(outcome: str, channel: str) -> str:
    """The column holding `channel`'s true effect on `outcome`: `tau_<outcome>_<channel>`."""
    return f"{TRUTH_PREFIX}{outcome}_{channel}"


def make_multichannel(
    n_rows: int,
    *,
    seed: int = 0,
    channels: tuple[str, ...] = DEFAULT_CHANNELS,
    control_share: float = 0.25,
) -> pd.DataFrame:
    """A synthetic multi-channel experiment with every channel's true effect on every row.

    Columns: the FEATURES, `channel` ("none" or a channel name), `conversion` (int8, 0/1) and
    `tau_conversion_<channel>` (float64) for each channel in order. The first three channels
    play e-mail, social and display; the module docstring states the model and its sizes. The
    same arguments give the same table.

    Raises ImpactIQError unless `n_rows` >= 1, `channels` holds 1 to 6 distinct names of
    letters, digits and '_' (none of them 'none' in any case: that is the control arm) and
    0 < `control_share` < 1.
    """
    n_rows = _check_n_rows(n_rows)
    channels = _check_channels(channels)
    control_share = _check_control_share(control_share)
    rng = np.random.default_rng(seed)
    features = _draw_features(rng, n_rows)
    p = _probabilities(features, len(channels))
    shares = np.full(len(channels) + 1, (1.0 - control_share) / len(channels))
    shares[0] = control_share
    arm = np.searchsorted(np.cumsum(shares)[:-1], rng.random(n_rows), side="right")
    conversion = rng.random(n_rows) < np.take_along_axis(p, arm[None, :], axis=0)[0]
    frame = pd.DataFrame(
        {
            "device": np.array(DEVICES, dtype=object)[features["device"]],
            "intent": features["intent"],
            "engagement": features["engagement"].astype(np.int8),
            "time_of_day": np.array(TIMES_OF_DAY, dtype=object)[features["time_of_day"]],
            "loyal": features["loyal"].astype(np.int8),
            TREATMENT: np.array([CONTROL, *channels], dtype=object)[arm],
            OUTCOME: conversion.astype(np.int8),
        }
    )
    for k, channel in enumerate(channels, start=1):
        frame[truth_column(OUTCOME, channel)] = p[k] - p[0]
    return frame


def conversion_probabilities(
    X: pd.DataFrame, *, channels: tuple[str, ...] = DEFAULT_CHANNELS
) -> pd.DataFrame:
    """P(conversion | x, arm) for control and every channel, as the generator uses them.

    One column per arm, named "none" and then each channel (float64), one row per row of `X`
    (which needs the FEATURES as `make_multichannel` writes them). The difference of a
    channel's column and "none" is the true effect the generator stores; this second route to
    it lets tests check the truth and a model's predicted outcomes be compared with the real
    ones.
    """
    channels = _check_channels(channels)
    _check_columns(X, FEATURES, "conversion probabilities")
    features = {
        "device": _codes(X["device"], DEVICES, "device"),
        "intent": X["intent"].to_numpy(dtype=np.float64),
        "engagement": X["engagement"].to_numpy(dtype=np.int64),
        "time_of_day": _codes(X["time_of_day"], TIMES_OF_DAY, "time_of_day"),
        "loyal": X["loyal"].to_numpy(dtype=np.int64) == 1,
    }
    p = _probabilities(features, len(channels))
    return pd.DataFrame(dict(zip((CONTROL, *channels), p, strict=True)), index=X.index)


def behaviour_segment(frame: pd.DataFrame) -> pd.Series:
    """Each row's behavioural segment, one of SEGMENTS, named `segment`.

    The rule (first match wins): "loyal customer" when `loyal` is 1, "high-intent desktop"
    for desktop users with intent >= 0.5, "low-intent mobile" for mobile users with intent
    below 0.3, "other" for everyone else. Needs the columns `loyal`, `device` and `intent`.
    """
    _check_columns(frame, ("device", "intent", "loyal"), "the behavioural segment")
    codes = _segment_codes(
        loyal=frame["loyal"].to_numpy(dtype=np.int64) == 1,
        desktop=(frame["device"] == "desktop").to_numpy(dtype=bool),
        mobile=(frame["device"] == "mobile").to_numpy(dtype=bool),
        intent=frame["intent"].to_numpy(dtype=np.float64),
    )
    return pd.Series(np.array(SEGMENTS, dtype=object)[codes], index=frame.index, name="segment")


def _segment_codes(*, loyal, desktop, mobile, intent) -> np.ndarray:
    """Positions in SEGMENTS, first match wins (see `behaviour_segment`)."""
    codes = np.full(len(loyal), SEGMENTS.index("other"), dtype=np.int64)
    codes[mobile & (intent < LOW_INTENT)] = SEGMENTS.index("low-intent mobile")
    codes[desktop & (intent >= HIGH_INTENT)] = SEGMENTS.index("high-intent desktop")
    codes[loyal] = SEGMENTS.index("loyal customer")
    return codes


def _draw_features(rng: np.random.Generator, n_rows: int) -> dict[str, np.ndarray]:
    """The features as codes and numbers: device and time_of_day as positions in their tuples."""
    loyal = rng.random(n_rows) < _LOYAL_SHARE
    device = np.searchsorted(np.cumsum(_DEVICE_SHARES)[:-1], rng.random(n_rows), side="right")
    intent = rng.beta(2.0 + loyal, 3.0)
    engagement = np.minimum(1 + rng.poisson(1.5 + 6.0 * intent + 3.0 * loyal), MAX_ENGAGEMENT)
    cumulative = np.cumsum(_TIME_SHARES, axis=1)[:, :-1]
    time_of_day = (rng.random(n_rows)[:, None] >= cumulative[device]).sum(axis=1)
    return {
        "device": device,
        "intent": intent,
        "engagement": engagement,
        "time_of_day": time_of_day,
        "loyal": loyal,
    }


def _probabilities(features: dict[str, np.ndarray], n_channels: int) -> np.ndarray:
    """P(conversion) per arm: row 0 is control, row k channel k; one column per user."""
    loyal, device, time = features["loyal"], features["device"], features["time_of_day"]
    engagement = features["engagement"]
    base = (
        _BASE
        + _BASE_PER_INTENT * features["intent"]
        + _BASE_PER_PAGE * engagement
        + _BASE_DEVICE[device]
        + _BASE_TIME[time]
        + _BASE_LOYAL * loyal
    )
    segment = _segment_codes(loyal=loyal, desktop=device == 0, mobile=device == 1, intent=features["intent"])
    engagement_multiplier = 1.0 + _ENGAGEMENT_SLOPE * (engagement - _ENGAGEMENT_PIVOT)
    p = np.empty((n_channels + 1, len(base)))
    p[0] = np.clip(base, 0.0, 1.0)
    for k in range(n_channels):
        if k < len(_SEGMENT_EFFECT):
            effect = _SEGMENT_EFFECT[k][segment] * _TIME_MULTIPLIER[k][time] * engagement_multiplier
        else:
            effect = np.where(loyal, 0.0, _EXTRA_EFFECT[k - len(_SEGMENT_EFFECT)])
        p[k + 1] = np.clip(base + effect, 0.0, 1.0)
    return p


def _codes(column: pd.Series, labels: tuple[str, ...], name: str) -> np.ndarray:
    """Positions of a column's values in `labels`; unknown values are refused by name."""
    values = column.astype(object).to_numpy()
    codes = np.full(len(values), -1, dtype=np.int64)
    for position, label in enumerate(labels):
        codes[values == label] = position
    if (codes < 0).any():
        unknown = sorted({str(v) for v in values[codes < 0]})[:5]
        raise ImpactIQError(
            f"Column '{name}' holds {', '.join(map(repr, unknown))}; it may only hold "
            f"{', '.join(map(repr, labels))}."
        )
    return codes


def _check_columns(frame: pd.DataFrame, needed: tuple[str, ...], purpose: str) -> None:
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ImpactIQError(
            f"Columns {', '.join(missing)} are missing; {purpose} needs {', '.join(needed)} "
            "exactly as make_multichannel writes them."
        )


def _check_n_rows(n_rows) -> int:
    if isinstance(n_rows, bool) or not isinstance(n_rows, int | np.integer) or n_rows < 1:
        raise ImpactIQError(f"n_rows must be a positive whole number of rows; got {n_rows!r}.")
    return int(n_rows)


def _check_channels(channels) -> tuple[str, ...]:
    if isinstance(channels, str) or not isinstance(channels, tuple | list):
        raise ImpactIQError(
            f"channels must be a tuple of channel names such as ('email', 'social'); got {channels!r}."
        )
    channels = tuple(channels)
    if not 1 <= len(channels) <= MAX_CHANNELS:
        raise ImpactIQError(f"channels must hold 1 to {MAX_CHANNELS} channel names; got {len(channels)}.")
    for channel in channels:
        if not isinstance(channel, str) or not _CHANNEL_NAME.fullmatch(channel):
            raise ImpactIQError(
                f"Channel name {channel!r} is not allowed: channels are named with letters, digits "
                "and '_' only, such as 'email' or 'paid_search'."
            )
        if channel.lower() == CONTROL:
            raise ImpactIQError(
                f"Channel name {channel!r} is taken: '{CONTROL}' is the control arm (no contact). "
                "Name the channel something else."
            )
    if len(set(channels)) < len(channels):
        repeated = sorted({c for c in channels if channels.count(c) > 1})
        raise ImpactIQError(
            f"channels must be distinct; {', '.join(map(repr, repeated))} appears more than once."
        )
    return channels


def _check_control_share(control_share) -> float:
    is_number = isinstance(control_share, int | float | np.integer | np.floating)
    if isinstance(control_share, bool) or not is_number or not 0.0 < control_share < 1.0:
        raise ImpactIQError(
            "control_share must be a number strictly between 0 and 1 (the share of users who get "
            f"no contact, e.g. 0.25); got {control_share!r}."
        )
    return float(control_share)
