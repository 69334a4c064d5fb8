"""Which channel for which user, how sure that is, and what choosing per user is worth.

A multi-arm model estimates, for every user, each channel's effect against no contact. With a
cost per contact for each channel and a value per conversion (per unit of an amount), contacting
a user through channel k is worth value·tau_k − cost_k on average, and the best choice is the
channel with the largest such profit, or no contact when none is positive.

How sure: the margin between the best choice and the runner-up is a difference of two estimated
effects from one model, so its interval comes from the model's comparison of the two
(`compare_arms`: one projection of the forest, or the refits' differences), not from two
separate intervals. When that interval spans zero, there is no clear winner.

What it is worth: a policy (a channel, or none, for every user) is valued on holdout rows the
model never saw, from the outcomes observed there, by the doubly robust (AIPW) estimator with
the experiment's known shares e_k: for each row, Gamma = mu_pi(x) + 1[A = pi(x)]·(Y − mu_pi(x)) /
e_pi(x), with mu the model's expected outcome under the policy's choice and A the arm the row
actually got. The mean of Gamma is unbiased for the policy's average outcome whatever the
model's errors (the shares are known by design), and its normal interval is exact in large
samples; differences between policies are paired on the same rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from impactiq.decisions.economics import check_economics
from impactiq.errors import ImpactIQError
from impactiq.intervals import Z95
from impactiq.uplift.arms import ARM_COLUMN, CONTROL_PREDICTION, arm_columns

NOBODY = "nobody"
BEST = "best channel for each user"


def check_costs(costs: dict, arms: tuple[str, ...], value: float) -> np.ndarray:
    """Every arm's cost per contact, in the arms' order; each must be positive, the value not negative."""
    lacking = [arm for arm in arms if arm not in costs]
    if lacking:
        raise ImpactIQError(
            f"Give a cost per contact for every channel; missing: {', '.join(map(repr, lacking))}."
        )
    for arm in arms:
        check_economics(costs[arm], value)
    return np.array([float(costs[arm]) for arm in arms])


def recommend_arms(model_like, profiles: pd.DataFrame, *, costs: dict, value: float) -> pd.DataFrame:
    """For each row of `profiles`: every channel's uplift and profit with 95% intervals, and the
    recommended choice with its margin over the runner-up.

    Columns: per arm `uplift_<arm>` (with `_lower`/`_upper`) and `profit_<arm>` (with
    `_lower`/`_upper`); `recommended` (an arm, or the control value for no contact),
    `runner_up`, `margin`, `margin_lower`, `margin_upper` (profit of the recommendation minus
    the runner-up's, 95% interval) and `clear` (the margin's interval excludes zero).
    """
    arms = tuple(model_like.arms)
    if not arms:
        raise ImpactIQError("Recommending a channel needs a multi-arm model; this one has one treatment.")
    cost = check_costs(costs, arms, value)
    control = ", ".join(map(str, model_like.schema.control_values))
    point, lower, upper = model_like.effect_by_arm_with_interval(profiles, alpha=0.05)
    profit = value * point - cost
    frame = {}
    for k, arm in enumerate(arms):
        names = arm_columns(arm)
        frame[names["uplift"]], frame[names["uplift_lower"]], frame[names["uplift_upper"]] = (
            point[:, k],
            lower[:, k],
            upper[:, k],
        )
        frame[f"profit_{arm}"] = profit[:, k]
        frame[f"profit_{arm}_lower"] = value * lower[:, k] - cost[k]
        frame[f"profit_{arm}_upper"] = value * upper[:, k] - cost[k]
    # Choices are 0 (no contact, profit 0) and 1..K; the best and the runner-up by expected profit.
    with_control = np.column_stack([np.zeros(len(profit)), profit])
    order = np.argsort(-with_control, axis=1, kind="stable")
    best, runner = order[:, 0], order[:, 1]
    margin = np.empty(len(profit))
    margin_lower = np.empty(len(profit))
    margin_upper = np.empty(len(profit))
    full_cost = np.concatenate([[0.0], cost])
    for b, r in sorted(set(zip(best.tolist(), runner.tolist(), strict=True))):
        rows = (best == b) & (runner == r)
        difference, low, high = model_like.compare_arms(profiles[rows], b, r, alpha=0.05)
        shift = full_cost[b] - full_cost[r]
        margin[rows] = value * difference - shift
        margin_lower[rows] = value * low - shift
        margin_upper[rows] = value * high - shift
    names = np.array([control, *arms], dtype=object)
    frame.update(
        recommended=names[best],
        runner_up=names[runner],
        margin=margin,
        margin_lower=margin_lower,
        margin_upper=margin_upper,
        clear=margin_lower > 0,
    )
    return pd.DataFrame(frame, index=profiles.index)


def policy_values(
    holdout: pd.DataFrame,
    arms: tuple[str, ...],
    shares: tuple[float, ...],
    *,
    costs: dict,
    value: float,
) -> pd.DataFrame:
    """Every policy's average outcome and net value per user on the holdout, with 95% intervals.

    `holdout` is a multi-arm holdout (`TrainedModel.holdout`); `shares` every arm's known
    probability, control first. Policies: the model's best channel for each user (by expected
    profit, no contact when none pays), everyone through one channel, and nobody. Columns:
    policy, contacted (share of users contacted), outcome (average outcome per user) and
    net_value (value·outcome − cost per user) with `_lower`/`_upper`, gain (net value over
    contacting nobody) and edge (net value over the single channel with the highest estimated
    net value, "everyone: <that channel>"), each with its paired 95% interval. The edge is the
    question a channel-by-user policy has to answer: does choosing per user beat simply
    picking the best channel for everyone? Pairing on the same users removes the noise both
    policies share, where two separate intervals would overlap. (The single channel is chosen
    on the same holdout, which favours it slightly: the edge is, if anything, understated.)
    """
    cost = check_costs(costs, arms, value)
    if len(shares) != len(arms) + 1 or min(shares) <= 0:
        raise ImpactIQError("Give every arm's share of the experiment (control first), each above zero.")
    uplift = holdout[[arm_columns(a)["uplift"] for a in arms]].to_numpy()
    predicted = holdout[[CONTROL_PREDICTION, *(arm_columns(a)["y1_pred"] for a in arms)]].to_numpy()
    observed, got = holdout["y"].to_numpy(dtype=np.float64), holdout[ARM_COLUMN].to_numpy()
    profit = value * uplift - cost
    best = np.where(profit.max(axis=1) > 0, profit.argmax(axis=1) + 1, 0)
    n = len(holdout)
    policies = {BEST: best, **{f"everyone: {a}": np.full(n, k) for k, a in enumerate(arms, start=1)}}
    policies[NOBODY] = np.zeros(n, dtype=np.int64)
    full_cost = np.concatenate([[0.0], cost])
    known = np.asarray(shares, dtype=np.float64)
    scores = {}
    for name, choice in policies.items():
        mu = predicted[np.arange(n), choice]
        gamma = mu + (got == choice) * (observed - mu) / known[choice]
        scores[name] = (gamma, value * gamma - full_cost[choice])
    rows = []
    baseline = scores[NOBODY][1]
    single = max((f"everyone: {a}" for a in arms), key=lambda name: scores[name][1].mean())
    for name, choice in policies.items():
        gamma, net = scores[name]
        rows.append(
            {
                "policy": name,
                "contacted": float(np.mean(choice > 0)),
                **_mean_with_interval("outcome", gamma),
                **_mean_with_interval("net_value", net),
                **_mean_with_interval("gain", net - baseline),
                **_mean_with_interval("edge", net - scores[single][1]),
            }
        )
    return pd.DataFrame(rows)


def _mean_with_interval(name: str, values: np.ndarray) -> dict:
    mean = float(np.mean(values))
    se = float(np.std(values, ddof=1) / np.sqrt(len(values))) if len(values) > 1 else np.nan
    return {name: mean, f"{name}_lower": mean - Z95 * se, f"{name}_upper": mean + Z95 * se}
