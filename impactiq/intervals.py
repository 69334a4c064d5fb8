"""Means, differences in means and their normal 95% intervals, computed once for every layer.

An experiment's summary (before any model), a model's holdout metrics, the decile table, the
segments and the budget plans all report a difference in means or a mean with its interval.
They take them from here, so one formula stands behind every such number on screen. This module
sits below the layers (beside `errors`): the data layer's summary needs it as much as the
decisions do.

Intervals are normal: estimate ± `Z95` × standard error. Two variance conventions exist, and a
caller names the one it needs through `ddof`:

- `ddof=1`, sample variances (Welch's unpooled interval): the default, for amounts and for any
  estimate compared between groups;
- `ddof=0`, population variances: for a 0/1 outcome that is p(1 − p), the Wald interval of a
  rate. The experiment summary uses it for rates (its published Hillstrom figures follow it) and
  the decile table too (scikit-uplift's `uplift_by_percentile` does, and ours must match it).
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

# The normal quantile of every two-sided 95% interval in ImpactIQ.
Z95 = NormalDist().inv_cdf(0.975)


class _NormalInterval:
    """lower and upper of an estimate with a standard error: estimate ± Z95 × se."""

    estimate: object
    se: object

    @property
    def lower(self):
        return self.estimate - Z95 * self.se

    @property
    def upper(self):
        return self.estimate + Z95 * self.se


@dataclass(frozen=True)
class Mean(_NormalInterval):
    """Mean(s) with standard error(s): floats for one group, arrays (one per group) otherwise.

    A group with fewer than two values has a NaN standard error; an empty one a NaN mean.
    """

    n: object
    estimate: object
    se: object


@dataclass(frozen=True)
class MeanDifference(_NormalInterval):
    """Treated mean minus control mean, with each arm's mean; floats or one array entry per group.

    `se` is the unpooled standard error sqrt(se_t² + se_c²); where an arm lacks the rows its
    variance needs (more than `ddof`), the standard error is NaN and so is the interval.
    """

    treated: Mean
    control: Mean
    estimate: object
    se: object


def normal_interval(estimate, se) -> tuple:
    """(lower, upper) of the normal 95% interval: estimate ± Z95 × se."""
    return estimate - Z95 * se, estimate + Z95 * se


def mean_interval(values, *, groups=None, n_groups: int | None = None, ddof: int = 1) -> Mean:
    """The mean of `values` (per group, when `groups` holds a code 0..n_groups-1 per value)."""
    values = np.asarray(values, dtype=np.float64)
    codes, size = _codes(groups, values.size, n_groups)
    count, mean, variance = _moments(values, codes, size, ddof)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt(variance / count)
    return _squeezed(Mean(count, mean, se), groups is None)


def difference_in_means(y, t, *, groups=None, n_groups: int | None = None, ddof: int = 1) -> MeanDifference:
    """Treated (t = 1) minus control (t = 0) mean of `y`, overall or per group, unpooled.

    `groups` (optional) holds a code 0..n_groups-1 per row; every group gets its own
    difference, computed in one vectorised pass. See the module docstring for `ddof`.
    """
    y = np.asarray(y, dtype=np.float64)
    treated = np.asarray(t) == 1
    codes, size = _codes(groups, y.size, n_groups)
    arms = {}
    for arm, member in (("treated", treated), ("control", ~treated)):
        count, mean, variance = _moments(y[member], codes[member], size, ddof)
        with np.errstate(divide="ignore", invalid="ignore"):
            arms[arm] = Mean(count, mean, np.sqrt(variance / count))
    estimate = arms["treated"].estimate - arms["control"].estimate
    se = np.sqrt(arms["treated"].se ** 2 + arms["control"].se ** 2)
    squeeze = groups is None
    return MeanDifference(
        _squeezed(arms["treated"], squeeze),
        _squeezed(arms["control"], squeeze),
        _scalar(estimate) if squeeze else estimate,
        _scalar(se) if squeeze else se,
    )


def _codes(groups, n_values: int, n_groups: int | None) -> tuple[np.ndarray, int]:
    if groups is None:
        return np.zeros(n_values, dtype=np.intp), 1
    codes = np.asarray(groups, dtype=np.intp)
    return codes, int(n_groups if n_groups is not None else (codes.max() + 1 if codes.size else 0))


def _moments(values: np.ndarray, codes: np.ndarray, size: int, ddof: int):
    """(count, mean, variance) per group; the variance with `ddof`, from centred squares."""
    count = np.bincount(codes, minlength=size).astype(np.float64)
    mean = np.full(size, np.nan)
    np.divide(np.bincount(codes, values, size), count, out=mean, where=count > 0)
    squares = np.bincount(codes, (values - mean[codes]) ** 2, size)
    variance = np.full(size, np.nan)
    np.divide(squares, count - ddof, out=variance, where=count > ddof)
    return count, mean, variance


def _squeezed(mean: Mean, squeeze: bool) -> Mean:
    if not squeeze:
        return mean
    return Mean(int(mean.n[0]), _scalar(mean.estimate), _scalar(mean.se))


def _scalar(values) -> float:
    return float(np.asarray(values).reshape(-1)[0])


def interval_columns(name: str, estimate, se) -> dict:
    """{name, name_se, name_lower, name_upper}: an estimate (or one per row) as results-table columns."""
    lower, upper = normal_interval(estimate, se)
    plain = float if np.ndim(estimate) == 0 and np.ndim(se) == 0 else np.asarray
    return {
        name: plain(estimate),
        f"{name}_se": plain(se),
        f"{name}_lower": plain(lower),
        f"{name}_upper": plain(upper),
    }
