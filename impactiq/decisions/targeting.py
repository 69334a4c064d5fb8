"""Which users to contact within a budget: random, by response, or by predicted uplift.

Contact the top of a ranking: random, by response (the predicted outcome if treated,
`y1_pred`: who converts) or by predicted uplift. The conversions a targeted group gains are
measured from the observed outcomes of its treated and control users, (treated mean - control
mean) x users targeted, never from the model's own predictions. Random targeting is scored by
its expectation: the whole table's difference in means times the users targeted. Beside it
stands the doubly robust (AIPW) value of each policy, from the model's predicted outcomes and
the known propensity (the treated share), with a normal 95% interval: since the ranking comes
from a model fitted on other rows, this is an honest estimate of what the policy would gain.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from impactiq.decisions.economics import check_contacts, check_economics
from impactiq.errors import ImpactIQError
from impactiq.evaluation.holdout import aipw_scores_of
from impactiq.evaluation.metrics import ranked
from impactiq.intervals import Z95, interval_columns, mean_interval
from impactiq.uplift.scoring import check_scored

STRATEGIES = ("random", "response", "uplift")
STRATEGY_DESCRIPTIONS = {
    "random": "random users (expected value: overall uplift x users)",
    "response": "highest predicted outcome if treated (who converts)",
    "uplift": "highest predicted uplift (who converts because of the contact)",
}
# The column each strategy ranks users by (highest first).
_SCORE_COLUMNS = {"random": None, "response": "y1_pred", "uplift": "uplift"}
CURVE_POINTS = 101


def strategy_scores(frame: pd.DataFrame, strategy: str) -> np.ndarray | None:
    """The ranking score of a targeting strategy; None for random targeting."""
    if strategy not in STRATEGIES:
        raise ImpactIQError(
            f"There is no targeting strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}."
        )
    column = _SCORE_COLUMNS[strategy]
    return None if column is None else frame[column].to_numpy(dtype=np.float64)


def targeting_curves(frame: pd.DataFrame, *, value: float = 1.0, points: int = CURVE_POINTS) -> pd.DataFrame:
    """Incremental conversions and revenue against the share targeted, for each strategy.

    Long table: strategy, share, targeted, incremental with its 95% interval (observed
    difference in means in the targeted group x users targeted, unpooled Wald), revenue
    (incremental x value) with its interval. Shares are `points` evenly spaced from 0 to 1.
    Where the targeted group lacks two users of an arm the estimate is NaN.
    """
    check_scored(frame)
    check_economics(1.0, value)
    n = len(frame)
    targeted = np.unique(np.round(np.linspace(0.0, 1.0, points) * n).astype(np.int64))
    parts = []
    for strategy in STRATEGIES:
        incremental, se = _top_n_effects(frame, strategy, targeted)
        parts.append(
            pd.DataFrame(
                {
                    "strategy": strategy,
                    "share": targeted / n,
                    "targeted": targeted,
                    "incremental": incremental,
                    "incremental_lower": incremental - Z95 * se,
                    "incremental_upper": incremental + Z95 * se,
                }
            )
        )
    curves = pd.concat(parts, ignore_index=True)
    for suffix in ("", "_lower", "_upper"):
        curves[f"revenue{suffix}"] = curves[f"incremental{suffix}"] * value
    return curves


def compare_strategies(frame: pd.DataFrame, contacts: int, *, value: float = 1.0) -> pd.DataFrame:
    """Each strategy contacting `contacts` of the scored users: observed and doubly robust gains.

    Columns: strategy, targeted, share; incremental with its interval (observed, as in
    `targeting_curves`) and revenue; dr_gain with its interval (AIPW estimate of the
    conversions gained over contacting nobody, summed over the scored users); dr_value with
    its interval (AIPW mean outcome per user under the policy); dr_gain_vs_random with its
    interval (the paired AIPW difference from random targeting of as many users).
    """
    check_scored(frame)
    check_economics(1.0, value)
    n = len(frame)
    contacts = min(check_contacts(contacts), n)
    random_policy = np.full(n, contacts / n)
    rows = []
    for strategy in STRATEGIES:
        incremental, se = (a[0] for a in _top_n_effects(frame, strategy, np.array([contacts])))
        policy = (
            random_policy
            if strategy == "random"
            else _top_n_policy(strategy_scores(frame, strategy), contacts)
        )
        result = policy_value(frame, policy)
        versus = policy_value(frame, policy, baseline=random_policy)
        row = {"strategy": strategy, "targeted": contacts, "share": contacts / n}
        row.update(interval_columns("incremental", incremental, se))
        row.update(interval_columns("revenue", incremental * value, se * value))
        row.update(interval_columns("dr_gain", n * result["gain"], n * result["gain_se"]))
        row.update(interval_columns("dr_value", result["value"], result["value_se"]))
        row.update(interval_columns("dr_gain_vs_random", n * versus["gain"], n * versus["gain_se"]))
        rows.append(row)
    return pd.DataFrame(rows)


def policy_value(frame: pd.DataFrame, policy: np.ndarray, *, baseline: np.ndarray | None = None) -> dict:
    """AIPW value of treating each row with probability `policy`, and its gain over `baseline`.

    value = mean(pi Gamma1 + (1 - pi) Gamma0), with Gamma1 = y1_pred + t (y - y1_pred) / e and
    Gamma0 = y0_pred + (1 - t) (y - y0_pred) / (1 - e), e the treated share; the gain over
    `baseline` (default: treating nobody) is mean((pi - baseline) Gamma), Gamma = Gamma1 -
    Gamma0. Both are per user, with standard errors of the mean (normal 95% interval:
    estimate +/- 1.96 se).
    """
    check_scored(frame)
    policy = np.asarray(policy, dtype=np.float64)
    if policy.shape != (len(frame),) or not np.all((policy >= 0) & (policy <= 1)):
        raise ImpactIQError(
            f"A policy gives each of the {len(frame)} rows a probability of treatment between 0 and 1; "
            f"got shape {policy.shape}."
        )
    baseline = np.zeros(len(frame)) if baseline is None else np.asarray(baseline, dtype=np.float64)
    t, y = frame["t"].to_numpy(dtype=np.float64), frame["y"].to_numpy(dtype=np.float64)
    e = float(t.mean())
    gamma = aipw_scores_of(frame, e)
    gamma0 = frame["y0_pred"].to_numpy(dtype=np.float64) + (1.0 - t) * (y - frame["y0_pred"].to_numpy()) / (
        1.0 - e
    )
    value = mean_interval(policy * gamma + gamma0)
    gain = mean_interval((policy - baseline) * gamma)
    return {"value": value.estimate, "value_se": value.se, "gain": gain.estimate, "gain_se": gain.se}


def _top_n_policy(score: np.ndarray, n: int) -> np.ndarray:
    """1 for the `n` highest scores (ties: the later row first, as in `metrics.ranked`), else 0."""
    policy = np.zeros(score.size)
    policy[ranked(score)[:n]] = 1.0
    return policy


def _top_n_effects(frame: pd.DataFrame, strategy: str, targeted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(incremental, se) when the top `targeted` users of a strategy are contacted.

    incremental = (treated mean - control mean among them) x targeted, from cumulative sums so
    that every group size costs one pass; random targeting takes the whole table's difference.
    """
    y, t = frame["y"].to_numpy(dtype=np.float64), frame["t"].to_numpy()
    score = strategy_scores(frame, strategy)
    n = len(y)
    if score is None:
        order = np.arange(n)
        at = np.full(targeted.shape, n)
    else:
        order = ranked(score)
        at = targeted
    y, t = y[order], t[order]
    stats = {}
    for arm in (0, 1):
        member = (t == arm).astype(np.float64)
        sums = [np.concatenate([[0.0], np.cumsum(member * y**power)]) for power in (0, 1, 2)]
        count, total, squares = (s[at] for s in sums)
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = total / count
            var = np.where(count >= 2, (squares - count * mean**2) / (count - 1), np.nan)
        stats[arm] = (mean, np.clip(var, 0.0, None), count)
    (m1, v1, c1), (m0, v0, c0) = stats[1], stats[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        diff = np.where((c1 >= 2) & (c0 >= 2), m1 - m0, np.nan)
        se = np.sqrt(v1 / c1 + v0 / c0)
    incremental = np.where(targeted == 0, 0.0, diff * targeted)
    return incremental, np.where(targeted == 0, 0.0, se * targeted)
