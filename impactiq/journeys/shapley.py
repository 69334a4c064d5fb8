"""Data-driven attribution with Shapley values over the channels a journey used.

The convention of marketing-attribution-models (DP6), which the tests check to 1e-9: a journey is
reduced to its set of channels (order and repeats dropped), and the worth of a set S is the
conversion rate of the journeys whose channels are exactly S,

    v(S) = conversions_S / journeys_S       (0 for a set no journey used, and v(empty) = 0).

For each set K that converted, every channel i in K gets its Shapley value in the game on K,

    phi_i = sum over T in K without i of |T|! (|K| - |T| - 1)! / |K|! * (v(T + i) - v(T)),

and K's conversions are split in proportion: credit_i = conversions_K * phi_i / v(K) (the values
sum to v(K), so each conversion's credit sums to 1; a channel can get negative credit where
adding it lowered the rate). Revenue is split the same way. Sets of up to `MAX_EXACT` channels are
computed exactly (2^|K| worths); larger ones from `n_permutations` random orders (seeded), each
channel's average marginal worth, with its standard error carried to the credit. The package
also truncates sets to their alphabetically last four channels by default; ImpactIQ does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import factorial

import numpy as np

from impactiq.errors import ImpactIQError
from impactiq.journeys.paths import Journeys

MAX_EXACT = 12
MAX_CHANNELS = 63
DEFAULT_PERMUTATIONS = 2_000


@dataclass(frozen=True)
class ShapleyAttribution:
    """Conversions and revenue credited per channel, with the standard error of sampled sets
    (zero when every set was computed exactly), and how many sets were sampled."""

    conversions: np.ndarray
    revenue: np.ndarray
    standard_error: np.ndarray
    revenue_standard_error: np.ndarray
    sampled_sets: int


def shapley_attribution(
    journeys: Journeys, *, n_permutations: int = DEFAULT_PERMUTATIONS, seed: int = 0
) -> ShapleyAttribution:
    """Shapley credit per channel of `journeys.channels` (see the module)."""
    k = len(journeys.channels)
    if k > MAX_CHANNELS:
        raise ImpactIQError(
            f"Shapley attribution handles up to {MAX_CHANNELS} channels; the data has {k}. Group channels "
            "with a channel map (source > channel > group) and attribute the groups."
        )
    attributed = journeys.path_length > 0
    converting = _masks(journeys.conversion, journeys.channel, journeys.n_conversions)[attributed]
    ending = _masks(journeys.null_path, journeys.null_channel, journeys.n_null_paths)
    revenue_of = journeys.revenue[attributed]
    sets, inverse = np.unique(np.concatenate([converting, ending]), return_inverse=True)
    conversions = np.bincount(inverse[: len(converting)], minlength=len(sets)).astype(np.float64)
    journeys_per_set = np.bincount(inverse, minlength=len(sets)).astype(np.float64)
    revenue = np.bincount(inverse[: len(converting)], weights=revenue_of, minlength=len(sets))
    worth = conversions / journeys_per_set

    rng = np.random.default_rng(seed)
    credit, credit_var = np.zeros(k), np.zeros(k)
    money, money_var = np.zeros(k), np.zeros(k)
    sampled = 0
    for index in np.flatnonzero(conversions > 0):
        members = np.flatnonzero([(int(sets[index]) >> c) & 1 for c in range(k)])
        if len(members) <= MAX_EXACT:
            phi, phi_se = _exact(members, sets, worth), np.zeros(len(members))
        else:
            phi, phi_se = _sampled(members, sets, worth, n_permutations, rng)
            sampled += 1
        scale = 1.0 / worth[index]
        credit[members] += conversions[index] * phi * scale
        credit_var[members] += (conversions[index] * phi_se * scale) ** 2
        money[members] += revenue[index] * phi * scale
        money_var[members] += (revenue[index] * phi_se * scale) ** 2
    return ShapleyAttribution(credit, money, np.sqrt(credit_var), np.sqrt(money_var), sampled)


def _masks(path: np.ndarray, channel: np.ndarray, n_paths: int) -> np.ndarray:
    """Each path's set of channels as a bit mask (bit c for channel c)."""
    masks = np.zeros(n_paths, dtype=np.uint64)
    np.bitwise_or.at(masks, path, np.left_shift(np.uint64(1), channel.astype(np.uint64)))
    return masks


def _worth_of(masks: np.ndarray, sets: np.ndarray, worth: np.ndarray) -> np.ndarray:
    """v(S) for each mask: the set's conversion rate, 0 for a set no journey used."""
    at = np.minimum(np.searchsorted(sets, masks), len(sets) - 1)
    return np.where(sets[at] == masks, worth[at], 0.0)


def _exact(members: np.ndarray, sets: np.ndarray, worth: np.ndarray) -> np.ndarray:
    """Every member's Shapley value from the 2^n worths of the subsets of `members`."""
    n = len(members)
    local = np.arange(2**n, dtype=np.uint64)
    bits = np.left_shift(np.uint64(1), members.astype(np.uint64))
    masks = np.zeros(len(local), dtype=np.uint64)
    for j in range(n):
        masks |= np.where((local >> np.uint64(j)) & np.uint64(1), bits[j], np.uint64(0))
    values = _worth_of(masks, sets, worth)
    sizes = np.array([bin(s).count("1") for s in range(2**n)])
    weights = np.array([factorial(s) * factorial(n - s - 1) / factorial(n) for s in range(n)])
    phi = np.empty(n)
    for j in range(n):
        without = np.flatnonzero(((local >> np.uint64(j)) & np.uint64(1)) == 0)
        with_j = without | (1 << j)
        phi[j] = np.sum(weights[sizes[without]] * (values[with_j] - values[without]))
    return phi


def _sampled(members, sets, worth, n_permutations: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Monte Carlo Shapley values: the average marginal worth over random orders, and its error."""
    n = len(members)
    bits = np.left_shift(np.uint64(1), members.astype(np.uint64))
    orders = np.argsort(rng.random((n_permutations, n)), axis=1)
    cumulative = np.bitwise_or.accumulate(bits[orders], axis=1)
    values = _worth_of(cumulative.ravel(), sets, worth).reshape(n_permutations, n)
    marginal = np.diff(values, axis=1, prepend=0.0)
    contribution = np.empty((n_permutations, n))
    np.put_along_axis(contribution, orders, marginal, axis=1)
    return contribution.mean(axis=0), contribution.std(axis=0, ddof=1) / np.sqrt(n_permutations)
