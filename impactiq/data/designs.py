"""Synthetic experiments unlike ImpactIQ's own generator, to test whether intervals hold.

A model tuned on one data-generating process can look well calibrated there and nowhere else:
on `synthetic.make_criteo_like` the causal forest's 95% intervals cover the true effect about
95% of the time, but its effect is smooth and monotone. These designs differ from it in kind
(an effect with jumps, one that exists only where two features meet, one carried by a rare
flag, a treatment that hurts half the users, balanced and lopsided splits, rare and common
outcomes, an amount instead of a 0/1 outcome), and every row carries its true effect, so an
interval's coverage can be counted rather than assumed.

Every design draws ten features: `x0..x7` standard normal, `x8` uniform on [0, 1], and the 0/1
flag `rare` (3% of rows). The control outcome depends on the features through a baseline that
does not involve the effect's features alone, so a model has to separate the two. For a 0/1
outcome the treated probability is the control probability plus the effect, kept inside
[0.001, 0.999], and the true effect is the exact difference of the two probabilities after
that clipping; for an amount it is the difference of the two expected values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from impactiq.data.experiment import Experiment, prepare_experiment
from impactiq.data.schema import Schema
from impactiq.errors import ImpactIQError

FEATURES = (*(f"x{i}" for i in range(9)), "rare")
RARE_SHARE = 0.03
_P_MIN, _P_MAX = 0.001, 0.999


@dataclass(frozen=True)
class Design:
    """One data-generating process: what makes it different, its split and its outcome.

    `effect(x)` is the treatment's effect on the probability (or the expected amount) before
    clipping; `base_rate` the control outcome's average probability (for an amount, its mean).
    """

    name: str
    description: str
    treated_share: float
    base_rate: float
    effect: Callable[[dict[str, np.ndarray]], np.ndarray]
    binary: bool = True


DESIGNS = {
    design.name: design
    for design in (
        Design(
            "steps",
            "an effect that jumps: +4 pp where x0 > 0, +3 pp more where x1 > 1, nothing elsewhere; 50/50 split",
            0.5,
            0.20,
            lambda x: 0.04 * (x["x0"] > 0) + 0.03 * (x["x1"] > 1),
        ),
        Design(
            "interaction",
            "an effect only where two features meet: +6 pp where x0 > 0 and x1 > 0, -3 pp where both "
            "are below 0, nothing elsewhere; common outcome (30%); 50/50 split",
            0.5,
            0.30,
            lambda x: 0.06 * ((x["x0"] > 0) & (x["x1"] > 0)) - 0.03 * ((x["x0"] < 0) & (x["x1"] < 0)),
        ),
        Design(
            "rare_flag",
            "an effect carried by a flag 3% of users have: +15 pp for them, +1 pp for everyone else; 50/50 split",
            0.5,
            0.10,
            lambda x: 0.01 + 0.15 * x["rare"],
        ),
        Design(
            "hurts_half",
            "a treatment that hurts half the users (-3 pp where x0 < 0) and helps a third "
            "(+5 pp where x0 > 0.43); 90/10 split",
            0.9,
            0.15,
            lambda x: np.where(x["x0"] < 0, -0.03, np.where(x["x0"] > 0.43, 0.05, 0.0)),
        ),
        Design(
            "rare_outcome",
            "a rare outcome (2% in control) whose effect rises smoothly with x2 up to +3 pp; 90/10 split",
            0.9,
            0.02,
            lambda x: 0.03 * expit(2.0 * x["x2"] - 1.0),
        ),
        Design(
            "amount",
            "an amount (mean 20, skewed) whose effect is 2 + 3·x8 where x3 > 0 and 0 elsewhere; 50/50 split",
            0.5,
            20.0,
            lambda x: np.where(x["x3"] > 0, 2.0 + 3.0 * x["x8"], 0.0),
            binary=False,
        ),
    )
}


def make_design(name: str, n_rows: int, *, seed: int = 0) -> pd.DataFrame:
    """`n_rows` seeded rows of design `name`: features, `treatment` (0/1), `y` and the truth `tau_y`."""
    design = _design(name)
    if n_rows < 2:
        raise ImpactIQError(f"A design needs at least 2 rows; {n_rows} were asked for.")
    rng = np.random.default_rng(seed)
    x = {f"x{i}": rng.standard_normal(n_rows) for i in range(8)}
    x["x8"] = rng.uniform(size=n_rows)
    x["rare"] = (rng.uniform(size=n_rows) < RARE_SHARE).astype(np.float64)
    t = (rng.uniform(size=n_rows) < design.treated_share).astype(np.int8)
    # The baseline moves with x2..x5, partly the effect's own features and partly not.
    signal = 0.6 * x["x2"] - 0.4 * x["x4"] + 0.3 * x["x5"] * x["x3"] + 0.5 * x["rare"]
    effect = design.effect(x).astype(np.float64)
    if design.binary:
        p0 = expit(logit(design.base_rate) + signal)
        p1 = np.clip(p0 + effect, _P_MIN, _P_MAX)
        tau = p1 - p0
        y = (rng.uniform(size=n_rows) < np.where(t == 1, p1, p0)).astype(np.int8)
    else:
        mean0 = design.base_rate * np.exp(0.3 * signal)
        tau = effect
        noise = rng.lognormal(mean=-0.5, sigma=1.0, size=n_rows)  # mean 1, skewed to the right
        y = (mean0 + t * tau) * noise
    frame = pd.DataFrame({**x, "treatment": t, "y": y, "tau_y": tau})
    frame["rare"] = frame["rare"].astype(np.int8)
    return frame


def design_experiment(name: str, n_rows: int, *, seed: int = 0) -> Experiment:
    """`make_design` validated as an `Experiment` whose outcome `y` carries its truth."""
    design = _design(name)
    schema = Schema(
        treatment="treatment",
        treated_values=(1,),
        control_values=(0,),
        outcomes=("y",),
        binary_outcomes=("y",) if design.binary else (),
        numeric_features=FEATURES,
        truth={"y": "tau_y"},
    )
    return prepare_experiment(make_design(name, n_rows, seed=seed), schema, name=f"design {name}")


def _design(name: str) -> Design:
    if name not in DESIGNS:
        raise ImpactIQError(f"Unknown design {name!r}; choose one of {', '.join(DESIGNS)}.")
    return DESIGNS[name]
