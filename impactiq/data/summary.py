"""What an experiment shows before any model: arms, naive effects, balance, randomization.

The difference in means between arms is the unbiased average effect of a randomized experiment,
so it is the number every model's average must agree with, and the first thing a user should
see. It is trustworthy only if assignment really was random: the balance table (standardized
mean differences per feature) and a joint F-test of "the features predict treatment" check
that. Synthetic data also carries its true effects, shown beside the estimates so the user can
see an interval cover the truth.

Everything here is closed-form and vectorised (one pass over each column, one k-by-k solve),
so a million rows summarise in well under a second.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from impactiq.data.experiment import Experiment
from impactiq.errors import ImpactIQError
from impactiq.intervals import difference_in_means

# Rule of thumb (Austin 2009): |SMD| above 0.1 is an imbalance worth a look.
SMD_THRESHOLD = 0.1
# The randomization regression keeps this many most frequent levels of a categorical feature;
# rarer levels share the reference level. A thousand-level column would otherwise need a
# thousand dense columns per row.
MAX_LEVELS_IN_TEST = 20
ARMS = ("treated", "control")


@dataclass(frozen=True)
class RandomizationCheck:
    """A joint test that the features do not predict treatment, and the observed sample ratio.

    The F-test regresses t on all features (numeric, plus indicators of categorical levels,
    with an intercept) and tests that every slope is zero; under randomization the p-value is
    uniform, so it falls below alpha in a share alpha of perfectly run experiments.
    `treated_share` is the share of rows in the treated arm with its Wald interval: compare it
    with the split the experiment was designed for.
    """

    f_statistic: float
    df_model: int
    df_residual: int
    p_value: float
    passed: bool
    verdict: str
    treated_share: float
    treated_share_lower: float
    treated_share_upper: float


@dataclass(frozen=True)
class Summary:
    """The tables a data page shows; every estimate with a sampling error has its interval.

    arms: arm, values (the treatment column's values in that arm), rows, share.
    rates: outcome, arm, rows, mean, mean_lower, mean_upper (the rate or mean per arm, for charts).
    effects: one row per outcome: kind ('rate' or 'mean'), treated, control, effect (treated
      minus control), se, effect_lower, effect_upper, p_value, and the relative lift (treated / control
      minus 1) with its interval (NaN where a mean is not positive).
    balance: feature (a column, or 'column = level' for a categorical level), column, level,
      mean_treated, mean_control, smd, flagged (|smd| > SMD_THRESHOLD).
    truth: None unless the data carries true effects; then outcome, true_effect (mean of tau),
      estimate, estimate_lower, estimate_upper, covered (whether the interval holds the truth).
    arm_effects: None unless the arms are kept apart (`Schema.arms`); then one row per outcome
      and comparison, each arm against control and then each arm against every later arm:
      outcome, kind, arm, versus, arm_rows, versus_rows, arm_mean and versus_mean (each with
      _lower and _upper), effect (arm
      minus versus), se, effect_lower, effect_upper, p_value, and true_effect (the mean true
      effect of arm versus control on synthetic data, NaN otherwise or for arm against arm).
    arm_randomization: None unless the arms are kept apart; then each arm's randomization check
      against control, at alpha divided by the number of arms.
    """

    name: str
    n_rows: int
    alpha: float
    arms: pd.DataFrame
    rates: pd.DataFrame
    effects: pd.DataFrame
    balance: pd.DataFrame
    randomization: RandomizationCheck
    truth: pd.DataFrame | None
    arm_effects: pd.DataFrame | None = None
    arm_randomization: dict[str, RandomizationCheck] | None = None


def summarise(experiment: Experiment, *, alpha: float = 0.05) -> Summary:
    """Arms, naive effects with intervals, covariate balance and the randomization check."""
    if not 0.0 < alpha < 1.0:
        raise ImpactIQError(f"alpha must be between 0 and 1 (0.05 gives 95% intervals); got {alpha!r}.")
    treated = np.asarray(experiment.t) == 1
    n_treated = int(treated.sum())
    n_control = len(treated) - n_treated
    if n_treated < 2 or n_control < 2:
        raise ImpactIQError(
            f"The experiment has {n_treated} treated and {n_control} control rows; each arm needs at "
            f"least 2. Check which values of '{experiment.schema.treatment}' mean treated and control."
        )
    z = stats.norm.ppf(1.0 - alpha / 2.0)
    effects, rates = _effects(experiment, treated, z)
    balance = _balance(experiment, treated)
    return Summary(
        name=experiment.name,
        n_rows=len(treated),
        alpha=alpha,
        arms=_arms(experiment, n_treated, n_control),
        rates=rates,
        effects=effects,
        balance=balance,
        randomization=_randomization(experiment, treated, balance, alpha, z),
        truth=_truth(experiment, effects),
        arm_effects=_arm_effects(experiment, z),
        arm_randomization=_arm_randomization(experiment, alpha, z),
    )


def standardized_mean_difference(x: np.ndarray, treated: np.ndarray, *, binary: bool = False) -> float:
    """(mean_treated - mean_control) / sqrt((var_treated + var_control) / 2), missing values skipped.

    Variances are sample variances (ddof=1) for a numeric feature and p(1 - p) for a 0/1
    indicator (`binary=True`), the two forms of Austin (2009). A feature constant in both arms
    has SMD 0 when the means agree, and infinity (signed) when they differ.
    """
    x = np.asarray(x, dtype=np.float64)
    treated = np.asarray(treated, dtype=bool)
    x1, x0 = x[treated], x[~treated]
    x1, x0 = x1[~np.isnan(x1)], x0[~np.isnan(x0)]
    if len(x1) == 0 or len(x0) == 0:
        return float("nan")
    m1, m0 = x1.mean(), x0.mean()
    if binary:
        v1, v0 = m1 * (1.0 - m1), m0 * (1.0 - m0)
    else:
        v1 = x1.var(ddof=1) if len(x1) > 1 else 0.0
        v0 = x0.var(ddof=1) if len(x0) > 1 else 0.0
    return _smd(m1, m0, v1, v0)


def _smd(m1: float, m0: float, v1: float, v0: float) -> float:
    scale = np.sqrt((v1 + v0) / 2.0)
    if scale > 0:
        return float((m1 - m0) / scale)
    return 0.0 if m1 == m0 else float(np.copysign(np.inf, m1 - m0))


def _arms(experiment: Experiment, n_treated: int, n_control: int) -> pd.DataFrame:
    schema = experiment.schema
    n = n_treated + n_control
    return pd.DataFrame(
        {
            "arm": list(ARMS),
            "values": [
                ", ".join(map(str, schema.treated_values)),
                ", ".join(map(str, schema.control_values)),
            ],
            "rows": [n_treated, n_control],
            "share": [n_treated / n, n_control / n],
        }
    )


def _effects(experiment: Experiment, treated: np.ndarray, z: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Difference in means per outcome with the unpooled normal interval, and per-arm rates."""
    effect_rows, rate_rows = [], []
    for outcome in experiment.schema.outcomes:
        y = experiment.y(outcome)
        binary = experiment.schema.is_binary(outcome)
        # Rates take the Wald interval (variance p(1 - p), ddof=0), amounts the sample variance.
        difference = difference_in_means(y, treated, ddof=0 if binary else 1)
        m1, se1 = difference.treated.estimate, difference.treated.se
        m0, se0 = difference.control.estimate, difference.control.se
        for arm, mean, se, rows in (
            ("treated", m1, se1, difference.treated.n),
            ("control", m0, se0, difference.control.n),
        ):
            rate_rows.append(
                {
                    "outcome": outcome,
                    "arm": arm,
                    "rows": rows,
                    "mean": mean,
                    "mean_lower": mean - z * se,
                    "mean_upper": mean + z * se,
                }
            )
        effect, se = difference.estimate, difference.se
        p_value = float(2.0 * stats.norm.sf(abs(effect) / se)) if se > 0 else (1.0 if effect == 0 else 0.0)
        lift, lift_lower, lift_upper = _relative_lift(m1, se1, m0, se0, z)
        effect_rows.append(
            {
                "outcome": outcome,
                "kind": "rate" if binary else "mean",
                "treated": m1,
                "control": m0,
                "effect": effect,
                "se": se,
                "effect_lower": effect - z * se,
                "effect_upper": effect + z * se,
                "p_value": p_value,
                "lift": lift,
                "lift_lower": lift_lower,
                "lift_upper": lift_upper,
            }
        )
    return pd.DataFrame(effect_rows), pd.DataFrame(rate_rows)


def _arm_effects(experiment: Experiment, z: float) -> pd.DataFrame | None:
    """Each arm against control, then each arm against every later arm, per outcome.

    The same unpooled difference in means as `effects` (Wald variances for rates, sample
    variances for amounts), computed on the rows of the two arms compared.
    """
    if experiment.arm is None:
        return None
    schema = experiment.schema
    labels = [", ".join(map(str, schema.control_values)), *experiment.arm_names]
    k = len(experiment.arm_names)
    pairs = [(a, 0) for a in range(1, k + 1)] + [(a, b) for a in range(1, k + 1) for b in range(a + 1, k + 1)]
    codes = np.asarray(experiment.arm)
    rows = []
    for outcome in schema.outcomes:
        y = experiment.y(outcome)
        binary = schema.is_binary(outcome)
        for a, b in pairs:
            member = (codes == a) | (codes == b)
            difference = difference_in_means(y[member], codes[member] == a, ddof=0 if binary else 1)
            effect, se = difference.estimate, difference.se
            tau = experiment.arm_tau(outcome, labels[a]) if b == 0 else None
            rows.append(
                {
                    "outcome": outcome,
                    "kind": "rate" if binary else "mean",
                    "arm": labels[a],
                    "versus": labels[b],
                    "arm_rows": difference.treated.n,
                    "versus_rows": difference.control.n,
                    "arm_mean": difference.treated.estimate,
                    "arm_mean_lower": difference.treated.estimate - z * difference.treated.se,
                    "arm_mean_upper": difference.treated.estimate + z * difference.treated.se,
                    "versus_mean": difference.control.estimate,
                    "versus_mean_lower": difference.control.estimate - z * difference.control.se,
                    "versus_mean_upper": difference.control.estimate + z * difference.control.se,
                    "effect": effect,
                    "se": se,
                    "effect_lower": effect - z * se,
                    "effect_upper": effect + z * se,
                    "p_value": float(2.0 * stats.norm.sf(abs(effect) / se)) if se > 0 else float(effect == 0),
                    "true_effect": float(tau.mean()) if tau is not None else np.nan,
                }
            )
    return pd.DataFrame(rows)


def _arm_randomization(
    experiment: Experiment, alpha: float, z: float
) -> dict[str, RandomizationCheck] | None:
    """The randomization check of each arm against control, at alpha / arms (Bonferroni).

    The pooled check compares every treated user with control, so an assignment that sends one
    arm to one kind of user and another arm to the rest can pass it while each arm's effect is
    biased; each arm against control catches that.
    """
    if experiment.arm is None:
        return None
    codes = np.asarray(experiment.arm)
    level = alpha / len(experiment.arm_names)
    checks = {}
    for k, arm in enumerate(experiment.arm_names, start=1):
        rows = np.flatnonzero((codes == 0) | (codes == k))
        pair = Experiment(
            name=experiment.name,
            frame=experiment.frame.iloc[rows].reset_index(drop=True),
            schema=experiment.schema,
            t=(codes[rows] == k).astype(np.int8),
        )
        treated = pair.t == 1
        checks[arm] = _randomization(pair, treated, _balance(pair, treated), level, z)
    return checks


def _relative_lift(m1: float, se1: float, m0: float, se0: float, z: float) -> tuple[float, float, float]:
    """m1 / m0 - 1 with a delta-method interval built on the log ratio (so it stays above -1).

    Var(log m1 - log m0) ~ (se1 / m1)^2 + (se0 / m0)^2 for independent arms. Undefined (NaN)
    unless both means are positive.
    """
    if m1 <= 0 or m0 <= 0:
        return float("nan"), float("nan"), float("nan")
    log_ratio = np.log(m1 / m0)
    se = np.hypot(se1 / m1, se0 / m0)
    return float(m1 / m0 - 1.0), float(np.expm1(log_ratio - z * se)), float(np.expm1(log_ratio + z * se))


def _categorical_codes(column: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Integer codes and level labels; missing values become their own level, '(missing)'."""
    codes, levels = pd.factorize(column, use_na_sentinel=True)
    labels = [str(v) for v in levels]
    # Levels in label order, whatever order they first appeared in.
    order = np.argsort(labels, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    codes = np.where(codes < 0, codes, rank[codes])
    labels = [labels[i] for i in order]
    if (codes < 0).any():
        codes = np.where(codes < 0, len(labels), codes)
        labels.append("(missing)")
    return codes, labels


def _balance(experiment: Experiment, treated: np.ndarray) -> pd.DataFrame:
    """SMD per numeric feature and per level of each categorical feature (as an indicator)."""
    rows = []
    frame = experiment.frame
    for column in experiment.schema.numeric_features:
        x = frame[column].to_numpy(dtype=np.float64)
        m1, m0 = np.nanmean(x[treated]), np.nanmean(x[~treated])
        rows.append((column, column, None, m1, m0, standardized_mean_difference(x, treated)))
    n1, n0 = treated.sum(), (~treated).sum()
    for column in experiment.schema.categorical_features:
        codes, labels = _categorical_codes(frame[column])
        share1 = np.bincount(codes[treated], minlength=len(labels)) / n1
        share0 = np.bincount(codes[~treated], minlength=len(labels)) / n0
        for level, p1, p0 in zip(labels, share1, share0, strict=True):
            smd = _smd(p1, p0, p1 * (1.0 - p1), p0 * (1.0 - p0))
            rows.append((f"{column} = {level}", column, level, p1, p0, smd))
    balance = pd.DataFrame(
        rows, columns=["feature", "column", "level", "mean_treated", "mean_control", "smd"]
    )
    balance["flagged"] = balance["smd"].abs() > SMD_THRESHOLD
    return balance


def _design(experiment: Experiment) -> np.ndarray:
    """Centred, unit-variance regressors, one per row of a (k, n) array.

    Numeric features (missing values imputed with the mean, plus a missing indicator) and
    indicators of the most frequent categorical levels, the most frequent level being the
    reference. Constant columns are dropped: they carry no signal. One contiguous row per
    regressor keeps the Gram matrix a single fast product at a million rows.

    Each regressor is written into its row as it is made, so memory holds the design and one
    column, not every column twice.
    """
    design = np.empty((_count_regressors(experiment), len(experiment.frame)))
    k = 0
    for x in _regressors(experiment):
        if x.std() > 0:
            np.subtract(x, x.mean(), out=design[k])
            design[k] /= design[k].std()
            k += 1
    return design[:k]


def _count_regressors(experiment: Experiment) -> int:
    """How many columns `_regressors` yields (constant ones included)."""
    frame = experiment.frame
    numeric = sum(1 + bool(frame[c].isna().any()) for c in experiment.schema.numeric_features)
    categorical = sum(
        min(max(frame[c].nunique(dropna=False) - 1, 0), MAX_LEVELS_IN_TEST)
        for c in experiment.schema.categorical_features
    )
    return numeric + categorical


def _regressors(experiment: Experiment):
    """The regressors of the randomization test, one float64 column at a time."""
    frame = experiment.frame
    for column in experiment.schema.numeric_features:
        x = frame[column].to_numpy(dtype=np.float64)
        missing = np.isnan(x)
        if missing.any():
            yield missing.astype(np.float64)
            x = np.where(missing, np.nanmean(x) if not missing.all() else 0.0, x)
        yield x
    for column in experiment.schema.categorical_features:
        codes, labels = _categorical_codes(frame[column])
        counts = np.bincount(codes, minlength=len(labels))
        kept = np.argsort(-counts, kind="stable")[1 : MAX_LEVELS_IN_TEST + 1]
        for level in kept:
            yield (codes == level).astype(np.float64)


def _randomization(
    experiment: Experiment, treated: np.ndarray, balance: pd.DataFrame, alpha: float, z: float
) -> RandomizationCheck:
    """The joint F-test of all slopes in t ~ features, and the treated share with its interval.

    Solved through the k-by-k correlation matrix of the regressors rather than the n-by-k
    design: its eigen-decomposition gives the explained sum of squares and the rank (collinear
    indicators such as a one-hot encoding's last level cost no degree of freedom).
    """
    n = len(treated)
    t = treated.astype(np.float64)
    share = float(t.mean())
    share_se = np.sqrt(share * (1.0 - share) / n)
    design = _design(experiment)
    centred = t - share
    total = float(centred @ centred)
    gram = design @ design.T
    moments = design @ centred
    eigenvalues, eigenvectors = np.linalg.eigh(gram)
    keep = eigenvalues > max(eigenvalues.max(initial=0.0), 1.0) * 1e-10
    projected = eigenvectors[:, keep].T @ moments
    explained = float(np.sum(projected**2 / eigenvalues[keep]))
    df_model = int(keep.sum())
    df_residual = n - df_model - 1
    if df_model == 0 or df_residual <= 0:
        f_statistic, p_value = float("nan"), float("nan")
        passed = True
        verdict = (
            "Not tested: no features vary, so there is nothing that could predict treatment."
            if df_model == 0
            else f"Not tested: {n} rows are too few for {df_model} feature columns."
        )
    else:
        residual = max(total - explained, 0.0)
        f_statistic = (explained / df_model) / (residual / df_residual) if residual > 0 else float("inf")
        p_value = float(stats.f.sf(f_statistic, df_model, df_residual))
        passed = p_value >= alpha
        verdict = _verdict(passed, f_statistic, df_model, df_residual, p_value, balance)
    return RandomizationCheck(
        f_statistic=float(f_statistic),
        df_model=df_model,
        df_residual=df_residual,
        p_value=p_value,
        passed=passed,
        verdict=verdict,
        treated_share=share,
        treated_share_lower=float(share - z * share_se),
        treated_share_upper=float(share + z * share_se),
    )


def _verdict(passed: bool, f: float, df1: int, df2: int, p: float, balance: pd.DataFrame) -> str:
    test = f"F({df1}, {df2}) = {f:.2f}, p = {p:.3g}"
    if passed:
        return (
            f"Consistent with randomization: the features do not predict treatment ({test}), so the "
            "difference in means estimates the average effect."
        )
    sizes = balance["smd"].abs().dropna()
    worst = balance.loc[sizes.idxmax()] if len(sizes) else None
    if worst is not None and not worst["flagged"]:
        return (
            f"The features predict treatment ({test}), but every standardized difference is below "
            f"{SMD_THRESHOLD} (largest: {worst['feature']}, {worst['smd']:+.3f}): an imbalance this "
            "large test can detect, small enough to matter little. Check how users were assigned."
        )
    flagged = balance.loc[balance["flagged"], "feature"].tolist()
    return (
        f"The features predict treatment ({test}); imbalanced: {', '.join(flagged[:5])}. Treated and "
        "control users differ, so the difference in means may be biased: check how users were "
        "assigned, or fix the treated and control values."
    )


def _truth(experiment: Experiment, effects: pd.DataFrame) -> pd.DataFrame | None:
    """The true average effect (mean of tau) beside the naive estimate, when the data has tau."""
    rows = []
    for record in effects.itertuples(index=False):
        tau = experiment.tau(record.outcome)
        if tau is None:
            continue
        true_effect = float(tau.mean())
        rows.append(
            {
                "outcome": record.outcome,
                "true_effect": true_effect,
                "estimate": record.effect,
                "estimate_lower": record.effect_lower,
                "estimate_upper": record.effect_upper,
                "covered": bool(record.effect_lower <= true_effect <= record.effect_upper),
            }
        )
    return pd.DataFrame(rows) if rows else None
