"""Would the model's effects survive a sceptic? Three refutation tests, each a refit.

The ideas are DoWhy's refuters (and CausalML's sensitivity checks), on the rows and holdout the
model was trained and judged on (`training.training_split`), with the model's own estimator,
settings and seed:

- Placebo treatment: the treatment is permuted among the training rows, which breaks every
  link between treatment and outcome. A model refitted on that must find no effect: its mean
  predicted effect on the holdout lies within the sampling noise of an average effect there,
  and no more than `PLACEBO_SIGNIFICANT_SHARE` of holdout rows have an interval that excludes
  zero (about 5% would, by chance, with right intervals).
- Random common cause: a column of seeded noise is added to the features. It explains
  nothing, so the refitted model's mean effect must stay within that noise of the original's.
- Data subsets: the model is refitted on random `SUBSET_SHARE` shares of the training rows; each
  subset's mean effect must stay within that noise of the original's.

"That noise" is the 95% half-width of the doubly robust average effect on the holdout (the
model's own `ate` metric): a change smaller than the uncertainty any average effect on these
rows has is no evidence against the model. Each check also reports how closely the refitted
individual effects follow the original ones (a rank correlation), which says whether the
ranking, not only the average, is stable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from impactiq.data.experiment import Experiment
from impactiq.errors import ImpactIQError
from impactiq.evaluation.splits import training_split

SUBSET_SHARE = 0.8
N_SUBSETS = 3
# With right 95% intervals about 5% of rows exclude zero by chance under a placebo.
PLACEBO_SIGNIFICANT_SHARE = 0.10
NOISE_FEATURE = "random_common_cause"
CHECKS = ("placebo treatment", "random common cause", "data subsets")


@dataclass(frozen=True)
class RefutationCheck:
    """One refutation test's outcome for one effect (one arm of a multi-arm model).

    `estimate` is the refitted model's mean predicted effect on the holdout (the worst one for
    subsets) and `expected` what it should be: 0 for the placebo, the original mean otherwise;
    `tolerance` the allowed distance (the doubly robust average effect's 95% half-width).
    `rank_correlation` is the Spearman correlation of the refitted and original individual
    effects on the holdout (for the placebo, of the placebo's with the original's).
    """

    check: str
    arm: str | None
    estimate: float
    expected: float
    tolerance: float
    passed: bool
    rank_correlation: float
    detail: str

    def to_dict(self) -> dict:
        return asdict(self)


def refute(
    experiment: Experiment,
    trained,
    *,
    n_subsets: int = N_SUBSETS,
    on_step: Callable[[str], None] | None = None,
) -> list[RefutationCheck]:
    """Run the three checks on `trained` (a `TrainedModel` fitted on `experiment`).

    The experiment must be the one the model was trained on, so that the split can be drawn
    again; its fingerprint is compared with the model's and a different table is refused.
    `on_step(name)` is called before each refit (1 + 1 + `n_subsets` of them).
    """
    from impactiq.data.fingerprint import fingerprint_experiment
    from impactiq.uplift.estimators import UpliftModel

    report = on_step or (lambda step: None)
    features = list(trained.schema.features)
    fingerprint = fingerprint_experiment(experiment, trained.outcome, tuple(features))
    if fingerprint != trained.data.get("fingerprint"):
        raise ImpactIQError(
            "The refutation checks refit the model on the rows it was trained on, and this is not that "
            "data set. Open the data the model was trained on, or train a model on the current data."
        )
    if NOISE_FEATURE in features:
        raise ImpactIQError(
            f"A feature is named {NOISE_FEATURE!r}, the name the random common cause check adds. Rename it."
        )
    rows, train, holdout = training_split(
        experiment,
        trained.outcome,
        sample=trained.data.get("sample"),
        test_size=trained.data["test_size"],
        seed=trained.seed,
    )
    X = rows.frame[features]
    y = rows.y(trained.outcome)
    treatment = rows.t if rows.arm is None else rows.arm
    arms = trained.arms or (None,)
    rng = np.random.default_rng(trained.seed)

    def refit(y_fit, t_fit, X_fit, X_score) -> np.ndarray:
        model = UpliftModel(
            estimator=trained.estimator,
            binary_outcome=rows.schema.is_binary(trained.outcome),
            random_state=trained.seed,
            params=trained.data.get("param_overrides"),
        )
        model.fit(y_fit, t_fit, X_fit)
        return _effects_with_intervals(model, X_score, several=bool(trained.arms))

    original = _effects_with_intervals(trained.model, X.iloc[holdout], several=bool(trained.arms))
    tolerance = {arm: _ate_half_width(trained, arm) for arm in arms}
    checks: list[RefutationCheck] = []

    report("placebo treatment")
    placebo = refit(y[train], rng.permutation(treatment[train]), X.iloc[train], X.iloc[holdout])
    for k, arm in enumerate(arms):
        effect, lower, upper = (part[:, k] for part in placebo)
        mean = float(effect.mean())
        significant = float(np.mean((lower > 0) | (upper < 0)))
        passed = abs(mean) <= tolerance[arm] and significant <= PLACEBO_SIGNIFICANT_SHARE
        checks.append(
            RefutationCheck(
                "placebo treatment",
                arm,
                mean,
                0.0,
                tolerance[arm],
                bool(passed),
                _spearman(effect, original[0][:, k]),
                f"treatment shuffled among the training rows; {significant:.1%} of holdout rows have an "
                f"interval that excludes 0 (at most {PLACEBO_SIGNIFICANT_SHARE:.0%} allowed; about 5% by chance)",
            )
        )

    report("random common cause")
    noisy = X.assign(**{NOISE_FEATURE: rng.standard_normal(len(X)).astype(np.float32)})
    with_noise = refit(y[train], treatment[train], noisy.iloc[train], noisy.iloc[holdout])
    checks += _stability_checks("random common cause", [with_noise[0]], original[0], tolerance, arms)

    subsets = []
    for index in range(n_subsets):
        report(f"data subset {index + 1} of {n_subsets}")
        chosen = np.sort(rng.choice(train, size=int(round(SUBSET_SHARE * len(train))), replace=False))
        subsets.append(refit(y[chosen], treatment[chosen], X.iloc[chosen], X.iloc[holdout])[0])
    checks += _stability_checks("data subsets", subsets, original[0], tolerance, arms)
    return checks


def _stability_checks(name, refits, original, tolerance, arms) -> list[RefutationCheck]:
    """Each arm's refitted mean effects against the original's; the worst one decides."""
    checks = []
    for k, arm in enumerate(arms):
        expected = float(original[:, k].mean())
        means = [float(effects[:, k].mean()) for effects in refits]
        worst = max(means, key=lambda m: abs(m - expected))
        correlation = min(_spearman(effects[:, k], original[:, k]) for effects in refits)
        what = (
            "refitted with a column of pure noise added to the features"
            if name == "random common cause"
            else f"refitted on {len(refits)} random {SUBSET_SHARE:.0%} subsets of the training rows; the "
            "subset furthest from the original is shown"
        )
        checks.append(
            RefutationCheck(
                name,
                arm,
                worst,
                expected,
                tolerance[arm],
                bool(abs(worst - expected) <= tolerance[arm]),
                correlation,
                what,
            )
        )
    return checks


def _effects_with_intervals(model, X: pd.DataFrame, *, several: bool):
    """(effect, lower, upper), each (rows, arms): every arm's column, or one for a two-arm model."""
    if several:
        return model.effect_by_arm_with_interval(X)
    effect, lower, upper = model.effect_with_interval(X)
    return effect[:, None], lower[:, None], upper[:, None]


def _ate_half_width(trained, arm: str | None) -> float:
    """The 95% half-width of the doubly robust average effect on the model's holdout (for `arm`)."""
    metrics = trained.metrics if arm is None else trained.arm_metrics[arm]
    ate = metrics["ate"]
    return float((ate["upper"] - ate["lower"]) / 2.0)


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation (average ranks for ties); NaN when either side is constant."""
    ranks_a = pd.Series(a).rank().to_numpy()
    ranks_b = pd.Series(b).rank().to_numpy()
    if np.ptp(ranks_a) == 0 or np.ptp(ranks_b) == 0:
        return float("nan")
    return float(np.corrcoef(ranks_a, ranks_b)[0, 1])
