"""Criteo-style synthetic experiments whose true individual effects are known.

Real uplift data never shows anyone's individual effect, so a model's effect estimates cannot be
checked on it. This module draws data that looks like the Criteo Uplift data set (same columns,
85% treated, the same visit and conversion rates per arm) from an explicit model, and ships the
true effect of every row beside it, so that estimates, intervals and segment findings can be
scored against the truth.

The model
---------
Features. Sixteen independent standard normals build twelve latent normals `z0..z11` through four
shared factors (so that, as in Criteo, f0/f2/f8/f9, f4/f10/f11, f1/f5/f7 and f3/f6 move
together). Each `fk` is a monotone, clipped transform of `zk` onto the range of the real column:
most features sit on a single value for 50–99% of users (Criteo's anonymised features have such
mass points) and spread out in a skewed tail for the rest; f0 and f6 have a 30% mass point and
a continuous bulk.

Visit. With `expit` the logistic function,

    P(visit | x, t) = expit(b(x) + t * h(x))
    b(x) = a_visit + 2 S(x) + 0.6 (f2 - 8.45) / 0.3 + 0.3 (f3 - 4.3)
    h(x) = c_visit * P(x) * (1 - S(x)) - 2 H(x)
    P(x) = expit((f0 - 22) / 1.5)    persuadability, rising with f0
    S(x) = expit((f9 - 25) / 3)      heavy users: "sure things", high baseline, no effect
    H(x) = smoothstep((-8 - f6) / 3) users whom the ad annoys: 0 for f6 above -8, 1 below -11

so persuadables (high f0) have large positive effects, heavy users (high f9, "sure things") and
users at f0's lower mass point (lost causes) have effects near zero, and about one user in ten
(f6 far below its mass point) is hurt by treatment: tau_visit < 0 for about 10% of users, below
-0.1 percentage points for about 9.9%. Every user outside the hurt region has tau_visit >= 0. The baseline `b` does not involve f0, so the true visit effect
`tau_visit` increases with f0 whenever the other features are held fixed.

Conversion happens only after a visit: P(conversion | visit=1, x, t) = expit(a_conv + S(x)
+ 0.5 (f2 - 8.45) / 0.3 + t * c_conv), and never without a visit, so P(conversion | x, t) =
P(visit | x, t) * P(conversion | visit=1, x, t).

Exposure is post-treatment: only treated users can be exposed, and visitors far more often than
others, P(exposure=1 | x, t=1, visit) = expit(a_exposure + 3 visit); it is drawn after the
outcomes, leaks them, and therefore must never be a feature.

The true effects are exact differences of these probabilities, not sampled:
`tau_visit = P(visit | x, 1) - P(visit | x, 0)` and likewise for conversion.

Calibration. The five constants (`a_visit`, `c_visit`, `a_conv`, `c_conv`, `a_exposure`) are
solved once per process so that the expected rates over a fixed reference sample of features
equal the real Criteo rates per arm (`CRITEO_RATES`); each expected rate is monotone in its
constant, so a bracketing root finder solves it to machine precision. Because the constants do not
depend on `n_rows` or `seed`, every sample of any size comes from the same population.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import expit

from impactiq.errors import ImpactIQError

FEATURES = tuple(f"f{i}" for i in range(12))
TREATED_SHARE = 0.85
# Criteo Uplift v2.1, 13,979,592 rows: P(y=1) per arm; exposure among treated users (about 3%
# overall with 85% treated, and never among control users).
CRITEO_RATES = {
    ("visit", 1): 0.0485,
    ("visit", 0): 0.0382,
    ("conversion", 1): 0.00309,
    ("conversion", 0): 0.00194,
    ("exposure", 1): 0.036,
}
# The feature whose increase raises tau_visit when the other features are held fixed.
MONOTONE_FEATURE = "f0"

_HURT_WEIGHT = 2.0
_EXPOSURE_VISIT_LOGIT = 3.0
_REFERENCE_ROWS = 1 << 18
_REFERENCE_SEED = 20_080_404

# Factor loadings: latent z_k = sum_j LOADINGS[k, j] * factor_j + sqrt(1 - sum_j L^2) * noise_k.
_LOADINGS = np.zeros((12, 4))
_LOADINGS[[0, 2, 8, 9, 6], 0] = [0.7, -0.7, 0.8, -0.7, -0.3]
_LOADINGS[[4, 10, 11, 9, 8], 1] = [0.8, 0.8, 0.8, 0.3, -0.3]
_LOADINGS[[5, 7, 1], 2] = [-0.8, 0.8, 0.6]
_LOADINGS[[3, 6], 3] = [0.6, 0.6]
_NOISE_SCALE = np.sqrt(1.0 - (_LOADINGS**2).sum(axis=1))


def make_criteo_like(n_rows: int, *, seed: int = 0) -> pd.DataFrame:
    """A synthetic Criteo-style experiment with its true individual effects.

    Columns: f0..f11 (float32), treatment, visit, conversion, exposure (int8) and the true
    effects tau_visit, tau_conversion (float32, on the probability scale). The module docstring
    states the model. The same `seed` and `n_rows` give the same table.
    """
    if isinstance(n_rows, bool) or not isinstance(n_rows, int | np.integer) or n_rows < 1:
        raise ImpactIQError(f"n_rows must be a positive whole number of rows; got {n_rows!r}.")
    rng = np.random.default_rng(seed)
    features = _draw_features(rng, int(n_rows))
    p = _probabilities(features, _constants())
    t = rng.random(n_rows) < TREATED_SHARE
    p_visit = np.where(t, p["visit_treated"], p["visit_control"])
    p_convert = np.where(t, p["convert_given_visit_treated"], p["convert_given_visit_control"])
    visit = rng.random(n_rows) < p_visit
    conversion = visit & (rng.random(n_rows) < p_convert)
    p_exposure = expit(_constants()["a_exposure"] + _EXPOSURE_VISIT_LOGIT * visit)
    exposure = t & (rng.random(n_rows) < p_exposure)
    frame = pd.DataFrame(features)
    frame["treatment"] = t.astype(np.int8)
    frame["visit"] = visit.astype(np.int8)
    frame["conversion"] = conversion.astype(np.int8)
    frame["exposure"] = exposure.astype(np.int8)
    frame["tau_visit"] = (p["visit_treated"] - p["visit_control"]).astype(np.float32)
    frame["tau_conversion"] = (p["conversion_treated"] - p["conversion_control"]).astype(np.float32)
    return frame


def outcome_probabilities(X: pd.DataFrame) -> pd.DataFrame:
    """P(y=1 | x, t) for both outcomes and both arms, as the generator uses them.

    Columns visit_control, visit_treated, conversion_control, conversion_treated (float64), one
    row per row of `X` (which needs f0..f11). The difference of the treated and control columns
    is the true effect that `make_criteo_like` stores as tau_<outcome>; this second route to it
    lets tests and benchmarks check the truth, and lets a model's predicted outcomes be compared
    with the real ones.
    """
    missing = [c for c in FEATURES if c not in X.columns]
    if missing:
        raise ImpactIQError(
            f"Columns {', '.join(missing)} are missing; outcome probabilities need the synthetic "
            "features f0..f11 exactly as make_criteo_like writes them."
        )
    features = {c: X[c].to_numpy(dtype=np.float32) for c in FEATURES}
    p = _probabilities(features, _constants())
    columns = ["visit_control", "visit_treated", "conversion_control", "conversion_treated"]
    return pd.DataFrame({c: p[c] for c in columns}, index=X.index)


def _draw_features(rng: np.random.Generator, n_rows: int) -> dict[str, np.ndarray]:
    """f0..f11 as float32: correlated latent normals mapped onto Criteo-like marginals.

    Works in place on one contiguous row per latent variable: at a million rows, fresh
    temporaries cost more time than the arithmetic.
    """
    draws = rng.standard_normal((12 + _LOADINGS.shape[1], n_rows))
    z, factors = draws[:12], draws[12:]
    z *= _NOISE_SCALE[:, None]
    for k, j in zip(*np.nonzero(_LOADINGS), strict=True):
        z[k] += _LOADINGS[k, j] * factors[j]

    def excess(k, cut, sign=1.0):
        """max(sign * z_k - cut, 0), overwriting row k (each row feeds one feature)."""
        v = z[k]
        v *= sign
        v -= cut
        return np.maximum(v, 0.0, out=v)

    # The cuts put each mass point at the real column's most common value with its real share.
    f0_at_floor = z[0] < -0.54
    f0 = 26.8 - 7.5 * np.exp(-0.9 * excess(0, -0.54))
    f0[f0_at_floor] = 12.616
    values = {
        "f0": f0,
        "f1": 10.06 + 1.5 * excess(1, 2.33),
        "f2": 8.214 + 0.85 * -np.expm1(-1.5 * excess(2, 0.075)),
        "f3": 4.68 - 5.0 * excess(3, 1.08, sign=-1.0),
        "f4": 10.28 + 2.5 * excess(4, 1.645),
        "f5": 4.115 - 3.0 * excess(5, 1.75, sign=-1.0),
        "f6": 0.294 - 3.8 * excess(6, -0.54, sign=-1.0) ** 1.5,
        "f7": 4.834 + 10.0 * excess(7, 1.75),
        "f8": 3.972 - 0.09 * excess(8, 0.075, sign=-1.0) ** 1.1,
        "f9": 13.19 + 20.0 * excess(9, 0.84) ** 0.85,
        "f10": 5.30 + 1.5 * excess(10, 1.645),
        "f11": -0.169 - 0.4 * excess(11, 2.33),
    }
    return {name: v.astype(np.float32) for name, v in values.items()}


def _segments(features: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The smooth scores and baseline terms the outcome model is built from (float64)."""
    f = {k: v.astype(np.float64) for k, v in features.items()}
    sure = expit((f["f9"] - 25.0) / 3.0)
    return {
        "persuadable": expit((f["f0"] - 22.0) / 1.5),
        "sure": sure,
        "hurt": _smoothstep((-8.0 - f["f6"]) / 3.0),
        "visit_base": 2.0 * sure + 0.6 * (f["f2"] - 8.45) / 0.3 + 0.3 * (f["f3"] - 4.3),
        "convert_base": sure + 0.5 * (f["f2"] - 8.45) / 0.3,
    }


def _smoothstep(u: np.ndarray) -> np.ndarray:
    """0 below 0, 1 above 1, a smooth S in between (3u^2 - 2u^3): exactly zero outside."""
    u = np.clip(u, 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


def _probabilities(features: dict[str, np.ndarray], k: dict[str, float]) -> dict[str, np.ndarray]:
    """Every generating probability for both arms, given the calibrated constants `k`."""
    s = _segments(features)
    lift = s["persuadable"] * (1.0 - s["sure"])
    visit_control = expit(k["a_visit"] + s["visit_base"])
    visit_treated = expit(k["a_visit"] + s["visit_base"] + k["c_visit"] * lift - _HURT_WEIGHT * s["hurt"])
    convert_control = expit(k["a_conv"] + s["convert_base"])
    convert_treated = expit(k["a_conv"] + s["convert_base"] + k["c_conv"])
    return {
        "visit_control": visit_control,
        "visit_treated": visit_treated,
        "convert_given_visit_control": convert_control,
        "convert_given_visit_treated": convert_treated,
        "conversion_control": visit_control * convert_control,
        "conversion_treated": visit_treated * convert_treated,
    }


@cache
def _constants() -> dict[str, float]:
    """The five model constants that reproduce `CRITEO_RATES` (see the module docstring).

    Solved in dependency order on a fixed reference sample: the control visit intercept, the
    treated visit lift, the conversion intercept, the treated conversion shift, the exposure
    intercept. Cached: the result depends on nothing a caller passes.
    """
    features = _draw_features(np.random.default_rng(_REFERENCE_SEED), _REFERENCE_ROWS)
    s = _segments(features)
    lift = s["persuadable"] * (1.0 - s["sure"])
    hurt = _HURT_WEIGHT * s["hurt"]

    def solve(expected_rate, target):
        return brentq(lambda v: expected_rate(v) - target, -30.0, 30.0, xtol=1e-12)

    a_visit = solve(lambda a: expit(a + s["visit_base"]).mean(), CRITEO_RATES["visit", 0])
    visit_treated_logit = a_visit + s["visit_base"] - hurt
    c_visit = solve(lambda c: expit(visit_treated_logit + c * lift).mean(), CRITEO_RATES["visit", 1])
    visit_control = expit(a_visit + s["visit_base"])
    visit_treated = expit(visit_treated_logit + c_visit * lift)
    a_conv = solve(
        lambda a: (visit_control * expit(a + s["convert_base"])).mean(), CRITEO_RATES["conversion", 0]
    )
    c_conv = solve(
        lambda c: (visit_treated * expit(a_conv + s["convert_base"] + c)).mean(),
        CRITEO_RATES["conversion", 1],
    )
    a_exposure = solve(
        lambda a: (
            visit_treated * expit(a + _EXPOSURE_VISIT_LOGIT) + (1.0 - visit_treated) * expit(a)
        ).mean(),
        CRITEO_RATES["exposure", 1],
    )
    return {
        "a_visit": a_visit,
        "c_visit": c_visit,
        "a_conv": a_conv,
        "c_conv": c_conv,
        "a_exposure": a_exposure,
    }
