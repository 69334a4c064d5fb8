"""Data-driven attribution with a first-order Markov chain: each channel's removal effect.

The chain (Anderl, Becker, von Wangenheim and Schumann 2016) has the states start, one per
channel, conversion and null. Every path (`journeys.paths`) walks start > c1 > ... > cn and ends
in conversion, or, for a non-converting path, in null; each step counts once, and transition
probabilities are the counts out of each state, normalised. P(conversion) is the probability of
reaching conversion from start, solved exactly from the absorbing chain:

    (I - Q) x = r,   P = x[start]

with Q the transient-to-transient probabilities and r the transient-to-conversion ones.
Removing channel c sends every transition into c to null; its removal effect is
RE_c = 1 - P_without_c / P. Conversions are credited in proportion to the removal effects,
credit_c = conversions * RE_c / sum_k RE_k, and revenue the same way (ChannelAttribution's
convention for credit; the removal effects equal those of marketing-attribution-models, which
the tests check to 1e-9). Repeated touches of one channel (a > a) are kept; a self-loop does
not change where the chain ends, so the removal effects are the same with or without them.
Conversions whose path is empty are neither walked nor credited.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from impactiq.errors import ImpactIQError
from impactiq.journeys.paths import Journeys


@dataclass(frozen=True)
class MarkovAttribution:
    """The chain's conversion probability, each channel's removal effect, and its credit."""

    conversion_probability: float
    removal_effects: np.ndarray
    conversions: np.ndarray
    revenue: np.ndarray
    transitions: np.ndarray


def markov_attribution(journeys: Journeys) -> MarkovAttribution:
    """Removal effects and credit per channel of `journeys.channels` (see the module)."""
    k = len(journeys.channels)
    if journeys.n_null_paths == 0:
        raise ImpactIQError(
            "The Markov model needs journeys that did not convert as well as those that did, and every "
            "touch here led to a conversion. Include the touchpoints of people who did not convert."
        )
    counts = _transition_counts(journeys, k)
    start, conversion = k, k + 1
    totals = counts[: k + 1].sum(axis=1, keepdims=True)
    probabilities = np.divide(counts[: k + 1], totals, out=np.zeros_like(counts[: k + 1]), where=totals > 0)
    q, r = probabilities[:, : k + 1], probabilities[:, conversion]
    full = _absorption(q, r, start)
    if full <= 0:
        raise ImpactIQError("No path reaches a conversion, so there is nothing to attribute.")
    removal = np.empty(k)
    for channel in range(k):
        without = q.copy()
        without[:, channel] = 0.0
        removal[channel] = 1.0 - _absorption(without, r, start) / full
    attributed = journeys.path_length > 0
    shares = removal / removal.sum() if removal.sum() > 0 else np.zeros(k)
    return MarkovAttribution(
        conversion_probability=full,
        removal_effects=removal,
        conversions=shares * np.sum(attributed),
        revenue=shares * journeys.revenue[attributed].sum(),
        transitions=probabilities,
    )


def _transition_counts(journeys: Journeys, k: int) -> np.ndarray:
    """Counts of transitions between start (k), the channels, conversion (k+1) and null (k+2)."""
    states = k + 3
    converting = _steps(journeys.conversion, journeys.channel, end=k + 1, start=k)
    ending = _steps(journeys.null_path, journeys.null_channel, end=k + 2, start=k)
    codes = np.concatenate([converting, ending])
    return np.bincount(codes, minlength=states * states).reshape(states, states).astype(np.float64)


def _steps(path: np.ndarray, channel: np.ndarray, *, end: int, start: int) -> np.ndarray:
    """Each step of every path, coded from * (k + 3) + to, including start > first and last > end."""
    states = start + 3
    if len(path) == 0:
        return np.zeros(0, dtype=np.int64)
    new = np.r_[True, path[1:] != path[:-1]]
    last = np.r_[path[1:] != path[:-1], True]
    previous = np.where(new, start, np.r_[start, channel[:-1]]).astype(np.int64)
    into = previous * states + channel
    out = channel[last].astype(np.int64) * states + end
    return np.concatenate([into, out])


def _absorption(q: np.ndarray, r: np.ndarray, start: int) -> float:
    """P(conversion) from `start`: solve (I - Q) x = r."""
    return float(np.linalg.solve(np.eye(len(q)) - q, r)[start])
