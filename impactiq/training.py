"""Training an uplift model on an experiment and judging it on rows it never saw.

A model's own fit says nothing about whether it ranks people by their true uplift, so every
model is scored on a holdout: a share of the rows set aside before fitting, drawn separately
within each treatment x outcome stratum so that both arms and their rare successes appear in
the holdout in the proportions of the data (an 85/15 split with a 4% visit rate leaves few
control visitors; an unstratified draw can starve one arm).

`train_model` returns a `TrainedModel` holding everything the pages and `artifacts.save_model`
need: the fitted model, the holdout predictions, the holdout metrics with their intervals, the
feature profile (ranges, quantiles, categories) that a scoring form needs, and a fingerprint of
the data. `evaluate_model` computes the same metrics for any model on any labelled table.

Metric definitions follow scikit-uplift (see `impactiq.metrics`).
"""

from __future__ import annotations

import hashlib
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from impactiq import metrics
from impactiq.dataset import MISSING_CATEGORY, Experiment
from impactiq.errors import ImpactIQError
from impactiq.metrics import Z95
from impactiq.schema import Schema

# The share of top-ranked rows at which `uplift_at_k` is reported.
TOP_K = (0.1, 0.3)
# Bootstrap replicates behind each metric's percentile interval.
N_BOOT = 200
# Quantiles (in percent) recorded for each numeric feature.
QUANTILES = (1, 5, 25, 50, 75, 95, 99)
# Category frequencies recorded per categorical feature (the most frequent ones).
MAX_CATEGORIES = 100
# Neither part of a split may have fewer rows than this in an arm.
MIN_ROWS_PER_ARM_PER_PART = 10
# Stages reported to `on_stage`, in order.
STAGES = (
    "sampling",
    "splitting holdout",
    "fitting nuisance and effect models",
    "scoring holdout",
    "evaluating",
)
# Columns of a predictions frame; a feature may not use these names.
PREDICTION_COLUMNS = ("y", "t", "uplift", "uplift_lower", "uplift_upper", "y0_pred", "y1_pred", "tau")
# What `peak_rss_mb` measures; saved beside the number so nobody reads it as the fit's own cost.
PEAK_RSS_NOTE = (
    "peak resident memory of the whole training process up to the end of the fit "
    "(getrusage ru_maxrss), including data loaded before it; not the fit's own increment"
)


class FittedEffects:
    """Effects of a fitted `UpliftModel` on raw tables, by the schema it was trained with.

    Shared by `TrainedModel` (just fitted) and `artifacts.SavedModel` (loaded from disk), so a
    page or a script scores either the same way: pass any DataFrame holding at least the
    feature columns; they are picked by name, put in training order and converted to the
    dtypes used in training.
    """

    model: object
    schema: Schema
    feature_profile: dict

    @property
    def feature_names_in_(self) -> tuple[str, ...]:
        return self.schema.features

    @property
    def has_intervals(self) -> bool:
        return bool(self.model.has_intervals)

    def features(self, df: pd.DataFrame) -> pd.DataFrame:
        """The model's feature columns of `df`, in training order and dtypes."""
        return feature_frame(df, self.schema, self.feature_profile)

    def effect(self, df: pd.DataFrame) -> np.ndarray:
        """Estimated uplift of each row: expected outcome if treated minus if not."""
        return self.model.effect(self.features(df))

    def effect_interval(self, df: pd.DataFrame, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
        """(lower, upper) of each row's uplift at level 1 - alpha."""
        return self.model.effect_interval(self.features(df), alpha=alpha)

    def effect_with_interval(
        self, df: pd.DataFrame, alpha: float = 0.05
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(uplift, lower, upper) of each row in one pass where the estimator allows."""
        return self.model.effect_with_interval(self.features(df), alpha=alpha)

    def predict_outcomes(
        self, df: pd.DataFrame, uplift: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(expected outcome without treatment, with treatment) of each row; `uplift` if known."""
        return self.model.predict_outcomes(self.features(df), uplift=uplift)

    def explain(self, df: pd.DataFrame) -> pd.DataFrame:
        """What drives one profile's uplift, feature by feature (`impactiq.explain.explain_uplift`)."""
        from impactiq.explain import explain_uplift

        return explain_uplift(self, df)


@dataclass
class TrainedModel(FittedEffects):
    """A fitted model with its holdout evidence, ready for the pages or `save_model`.

    `holdout` has one row per holdout row: its feature columns, then y, t, uplift, uplift_lower, uplift_upper (NaN when
    the estimator has no intervals), y0_pred and y1_pred (expected outcome without / with
    treatment) and tau when the data carries the true effect; curves for charts are computed
    from it. `metrics` is `holdout_metrics(holdout)`; `deciles` is
    `metrics.uplift_by_decile` on the holdout. `data` describes the rows trained on
    (fingerprint, counts, sample, split); `fit` the fit's time and memory.
    """

    model: object
    schema: Schema
    outcome: str
    estimator: str
    params: dict
    seed: int
    holdout: pd.DataFrame
    metrics: dict
    deciles: pd.DataFrame
    feature_profile: dict
    data: dict
    fit: dict


def split_holdout(experiment: Experiment, outcome: str, *, test_size: float = 0.3, seed: int = 0):
    """(train rows, holdout rows): sorted row positions, the holdout a `test_size` share.

    Each treatment x outcome stratum (for an amount: outcome > 0) is split in the same
    proportion, to within one row, so the holdout has both arms and their successes in the
    data's proportions. The draw is seeded.
    """
    _check_outcome(experiment, outcome)
    if isinstance(test_size, bool) or not isinstance(test_size, int | float) or not 0 < test_size < 1:
        raise ImpactIQError(
            f"The holdout share must lie strictly between 0 and 1 (0.3 is usual); got {test_size!r}."
        )
    strata = _strata(experiment.t, experiment.y(outcome))
    holdout = _stratified_draw(strata, round(test_size * len(strata)), np.random.default_rng(seed))
    train = np.setdiff1d(np.arange(len(strata)), holdout)
    for part, rows in (("training set", train), ("holdout", holdout)):
        for arm, value in (("treated", 1), ("control", 0)):
            count = int(np.count_nonzero(experiment.t[rows] == value))
            if count < MIN_ROWS_PER_ARM_PER_PART:
                raise ImpactIQError(
                    f"With a holdout share of {test_size:g} the {part} would hold only {count} {arm} rows "
                    f"(at least {MIN_ROWS_PER_ARM_PER_PART} are needed). Use more rows or a "
                    f"{'smaller' if part == 'training set' else 'larger'} holdout share."
                )
    return train, holdout


def train_model(
    experiment: Experiment,
    *,
    outcome: str,
    estimator: str = "causal_forest",
    features=None,
    sample: int | None = None,
    test_size: float = 0.3,
    seed: int = 0,
    params: dict | None = None,
    n_boot: int = N_BOOT,
    on_stage: Callable[[str], None] | None = None,
) -> TrainedModel:
    """Fit an uplift model for `outcome` on part of `experiment` and score it on the rest.

    `features` restricts the schema's features (None keeps them all). `sample` trains on a
    seeded, stratified subsample of that many rows (a quick first model on a large file).
    `on_stage(name)` is called as each stage in `STAGES` starts, so a caller can show
    progress; it is a plain callable so that this runs headless too.
    """
    from impactiq.model import UpliftModel

    report = on_stage or (lambda stage: None)
    _check_outcome(experiment, outcome)
    schema = _restricted_schema(experiment.schema, features)
    _check_feature_names(schema)
    data = {"fingerprint": fingerprint_experiment(experiment, outcome, features)}
    if sample is not None:
        report("sampling")
        experiment = _subsample(experiment, outcome, sample, seed)
    data.update(sample=sample, n_rows=experiment.n_rows, test_size=test_size)

    report("splitting holdout")
    train, holdout_rows = split_holdout(experiment, outcome, test_size=test_size, seed=seed)
    X = experiment.frame[list(schema.features)]
    y, t = experiment.y(outcome), experiment.t
    data.update(n_train=len(train), n_holdout=len(holdout_rows), treated_share=float(t.mean()))

    report("fitting nuisance and effect models")
    model = UpliftModel(
        estimator=estimator, binary_outcome=schema.is_binary(outcome), random_state=seed, params=params
    )
    started = time.perf_counter()
    model.fit(y[train], t[train], X.iloc[train])
    fit = {
        "seconds": time.perf_counter() - started,
        "peak_rss_mb": _peak_rss_mb(),
        "peak_rss_note": PEAK_RSS_NOTE,
    }

    report("scoring holdout")
    tau = experiment.tau(outcome)
    holdout = predictions_frame(
        model,
        X.iloc[holdout_rows],
        y[holdout_rows],
        t[holdout_rows],
        None if tau is None else tau[holdout_rows],
    )

    report("evaluating")
    binary = schema.is_binary(outcome)
    return TrainedModel(
        model=model,
        schema=schema,
        outcome=outcome,
        estimator=estimator,
        params=readable_params(model.params_),
        seed=seed,
        holdout=holdout,
        metrics=holdout_metrics(holdout, binary=binary, n_boot=n_boot, seed=seed),
        deciles=decile_table(holdout),
        feature_profile=feature_profile(X.iloc[train], schema),
        data=data,
        fit=fit,
    )


def evaluate_model(
    model_like, experiment: Experiment, outcome: str, *, n_boot: int = N_BOOT, seed: int = 0
) -> dict:
    """The holdout metrics of `train_model`, for any fitted model on any labelled experiment.

    `model_like` is a `TrainedModel`, a `SavedModel` or an `UpliftModel`: anything with
    `feature_names_in_`, `effect`, `effect_with_interval`, `predict_outcomes` and `has_intervals`.
    Scoring a model on its own training rows overstates it; pass rows it never saw.
    """
    _check_outcome(experiment, outcome)
    names = list(model_like.feature_names_in_)
    lacking = [c for c in names if c not in experiment.frame.columns]
    if lacking:
        raise ImpactIQError(
            f"The table lacks the feature column(s) {', '.join(map(repr, lacking))} that the model was "
            "trained on. Evaluate on a table with the same columns as the training data."
        )
    tau = experiment.tau(outcome)
    frame = predictions_frame(model_like, experiment.frame[names], experiment.y(outcome), experiment.t, tau)
    return holdout_metrics(frame, binary=experiment.schema.is_binary(outcome), n_boot=n_boot, seed=seed)


def predict_uplift(model, X: pd.DataFrame) -> pd.DataFrame:
    """Uplift, its 95% interval (NaN without intervals) and expected outcomes of each row of X.

    `model` is an `UpliftModel` (X: encoded-ready features) or anything with the same methods
    taking a raw table (`TrainedModel`, `SavedModel`). The index of X is kept.
    """
    if model.has_intervals:
        uplift, lower, upper = (
            np.asarray(a, dtype=np.float64) for a in model.effect_with_interval(X, alpha=0.05)
        )
    else:
        uplift = np.asarray(model.effect(X), dtype=np.float64)
        lower = upper = np.full(len(X), np.nan)
    y0, y1 = (np.asarray(a, dtype=np.float64) for a in model.predict_outcomes(X, uplift=uplift))
    return pd.DataFrame(
        {"uplift": uplift, "uplift_lower": lower, "uplift_upper": upper, "y0_pred": y0, "y1_pred": y1},
        index=X.index,
    )


def predictions_frame(
    model, X: pd.DataFrame, y: np.ndarray, t: np.ndarray, tau: np.ndarray | None
) -> pd.DataFrame:
    """One row per scored row: its features, then y, t, uplift with its 95% interval, predicted
    outcomes and tau.

    The features stay beside the predictions because segments and simulator presets are built
    from them (feature names may not clash with these columns: see `PREDICTION_COLUMNS`).
    """
    predicted = predict_uplift(model, X)
    columns = {
        "y": np.asarray(y, dtype=np.float64),
        "t": np.asarray(t, dtype=np.int8),
        **{name: predicted[name].to_numpy() for name in predicted.columns},
    }
    if tau is not None:
        columns["tau"] = np.asarray(tau, dtype=np.float64)
    # Categorical features keep their dtype (and so their categories) in the frame.
    return X.reset_index(drop=True).assign(**columns)


def holdout_metrics(holdout: pd.DataFrame, *, binary: bool, n_boot: int = N_BOOT, seed: int = 0) -> dict:
    """Every score of a predictions frame (see `predictions_frame`) as plain JSON-ready values.

    Ranking scores (Qini and uplift AUC, uplift at the top k for both strategies, mean
    predicted uplift) carry percentile bootstrap 95% intervals from `n_boot` replicates drawn
    within each arm. `ate` is the doubly robust (AIPW) average effect on these rows built
    from the model's predicted outcomes, with its normal 95% interval; `naive_ate` the
    difference in means with its Welch interval: a model whose `ate` disagrees with it is
    biased. With the true effect (synthetic data): pehe, the 95% interval's coverage, the true
    average effect and the bias of the mean predicted uplift. A score that is undefined on
    these rows holds its reason in `unavailable` instead of a number.
    """
    y, t, uplift = (holdout[c].to_numpy() for c in ("y", "t", "uplift"))
    boot = {"n_boot": n_boot, "seed": seed}
    result = {
        "definition": "scikit-uplift 0.5 (sklift.metrics): curves at distinct scores, "
        "(area - random) / (perfect - random); intervals: percentile bootstrap within arms",
        "n_rows": len(holdout),
        "n_treated": int(np.count_nonzero(t == 1)),
        "n_control": int(np.count_nonzero(t == 0)),
        "qini_auc_score": _bootstrapped(metrics.qini_auc_score, y, uplift, t, **boot),
    }
    if binary:
        result["uplift_auc_score"] = _bootstrapped(metrics.uplift_auc_score, y, uplift, t, **boot)
    else:
        result["uplift_auc_score"] = {"unavailable": "the uplift AUC is defined for 0/1 outcomes only"}
    result["uplift_at_k"] = {
        strategy: {
            f"{k:g}": _bootstrapped(metrics.uplift_at_k, y, uplift, t, strategy=strategy, k=k, **boot)
            for k in TOP_K
        }
        for strategy in metrics.STRATEGIES
    }
    result["mean_uplift"] = _bootstrapped(_mean_uplift, y, uplift, t, **boot)
    result["ate"] = _doubly_robust_ate(holdout)
    result["naive_ate"] = _difference_in_means(y, t)
    if "tau" in holdout:
        tau = holdout["tau"].to_numpy()
        result["true_ate"] = float(tau.mean())
        result["ate_error"] = metrics.ate_error(tau, uplift)
        result["pehe"] = metrics.pehe(tau, uplift)
        if holdout["uplift_lower"].notna().all():
            result["interval_coverage"] = metrics.interval_coverage(
                tau, holdout["uplift_lower"], holdout["uplift_upper"]
            )
    return result


def decile_table(holdout: pd.DataFrame) -> pd.DataFrame:
    """Observed against predicted uplift by decile of predicted uplift (`metrics.uplift_by_decile`)."""
    return metrics.uplift_by_decile(holdout["y"], holdout["uplift"], holdout["t"], bins=10)


def readable_params(params: dict) -> dict:
    """The estimator's constructor arguments as JSON values; models become their repr."""
    plain = (bool, int, float, str, type(None))
    values = {k: v.item() if isinstance(v, np.generic) else v for k, v in params.items()}
    return {k: v if isinstance(v, plain) else repr(v) for k, v in values.items()}


def feature_profile(X: pd.DataFrame, schema: Schema) -> dict:
    """What each feature looked like in training, for scoring forms and out-of-range warnings.

    Numeric: dtype, min, max, share missing and the `QUANTILES`. Categorical: the categories
    in training order, and the `MAX_CATEGORIES` most frequent with their shares.
    """
    profile = {}
    for name in schema.numeric_features:
        values = X[name].to_numpy(dtype=np.float64)
        present = values[~np.isnan(values)]
        quantiles = (
            np.quantile(present, np.array(QUANTILES) / 100) if present.size else [np.nan] * len(QUANTILES)
        )
        profile[name] = {
            "kind": "numeric",
            "dtype": str(X[name].dtype),
            "min": float(present.min()) if present.size else None,
            "max": float(present.max()) if present.size else None,
            "missing_share": float(1 - present.size / max(len(values), 1)),
            "quantiles": {str(q): float(v) for q, v in zip(QUANTILES, quantiles, strict=True)},
        }
    for name in schema.categorical_features:
        column = X[name]
        shares = column.value_counts(normalize=True, sort=True)
        profile[name] = {
            "kind": "categorical",
            "categories": [str(c) for c in column.cat.categories],
            "n_categories": len(column.cat.categories),
            "frequencies": {str(c): float(s) for c, s in shares.head(MAX_CATEGORIES).items()},
        }
    return profile


def feature_frame(df: pd.DataFrame, schema: Schema, profile: dict) -> pd.DataFrame:
    """The feature columns of a raw table as the model saw them in training.

    Numbers are converted to the training dtype (text that is not a number is an error
    naming the row), so that a float32 value written to CSV and read back scores exactly as
    in training. Categories become text, an empty cell the 'missing' category as in
    `prepare_experiment`; a category never seen in training is refused by the model's
    encoder, which names the value.
    """
    if not isinstance(df, pd.DataFrame):
        raise ImpactIQError(f"Pass the rows to score as a pandas DataFrame; got {type(df).__name__}.")
    lacking = [c for c in schema.features if c not in df.columns]
    if lacking:
        raise ImpactIQError(
            f"The table lacks the feature column(s) {', '.join(map(repr, lacking))} that the model was "
            "trained on. Add them (same names as in the training data)."
        )
    columns = {}
    for name in schema.numeric_features:
        columns[name] = _numeric_feature(df[name], name, np.dtype(profile[name]["dtype"]))
    for name in schema.categorical_features:
        columns[name] = df[name].astype(object).where(df[name].notna(), MISSING_CATEGORY).astype(str)
    return pd.DataFrame(columns, index=df.index)


def fingerprint_experiment(experiment: Experiment, outcome: str, features=None) -> dict:
    """The fingerprint of the columns a model of `outcome` on `features` reads.

    Those are the treatment, the outcome, the features and the outcome's true effect if the
    data has one. With the seed and the sample size it pins down the rows a model saw.
    """
    schema = _restricted_schema(experiment.schema, features)
    truth = [schema.truth[outcome]] if outcome in schema.truth else []
    return data_fingerprint(experiment.frame, [schema.treatment, outcome, *schema.features, *truth])


def data_fingerprint(frame: pd.DataFrame, columns) -> dict:
    """sha256 over the row hashes and names of `columns`: equal data gives an equal digest.

    Row hashes are pandas' `hash_pandas_object` (values only, not the index), so the digest
    changes when a value, a row's position, a column's name or its order changes.
    """
    columns = list(columns)
    digest = hashlib.sha256()
    digest.update("\x1f".join(map(str, columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame[columns], index=False).to_numpy().tobytes())
    return {"sha256": digest.hexdigest(), "n_rows": len(frame), "n_columns": len(columns), "columns": columns}


def _check_feature_names(schema: Schema) -> None:
    """Refuse features named like a prediction column: the holdout holds both side by side."""
    clashes = sorted(set(schema.features) & set(PREDICTION_COLUMNS))
    if clashes:
        raise ImpactIQError(
            f"Feature column(s) {', '.join(map(repr, clashes))} share a name with ImpactIQ's prediction "
            f"columns ({', '.join(PREDICTION_COLUMNS)}). Rename them in the file and upload it again."
        )


def _check_outcome(experiment: Experiment, outcome: str) -> None:
    if outcome not in experiment.schema.outcomes:
        raise ImpactIQError(
            f"'{outcome}' is not an outcome of this experiment; choose one of "
            f"{', '.join(map(repr, experiment.schema.outcomes))}."
        )


def _restricted_schema(schema: Schema, features) -> Schema:
    """The schema with only `features` (all of them when None)."""
    if features is None:
        return schema
    features = list(features)
    unknown = [f for f in features if f not in schema.features]
    if unknown:
        raise ImpactIQError(
            f"{', '.join(map(repr, unknown))} is not a feature of this experiment; choose among "
            f"{', '.join(map(repr, schema.features))}."
        )
    if not features:
        raise ImpactIQError("Choose at least one feature: the model needs something to tell people apart.")
    return Schema.from_dict(
        {
            **schema.to_dict(),
            "numeric_features": [f for f in schema.numeric_features if f in features],
            "categorical_features": [f for f in schema.categorical_features if f in features],
        }
    )


def _subsample(experiment: Experiment, outcome: str, sample, seed: int) -> Experiment:
    """A seeded subsample of `sample` rows, stratified like the holdout split."""
    if isinstance(sample, bool) or not isinstance(sample, int | np.integer) or sample < 2:
        raise ImpactIQError(f"The sample size must be a whole number of rows (at least 2); got {sample!r}.")
    if sample >= experiment.n_rows:
        return experiment
    rows = _stratified_draw(
        _strata(experiment.t, experiment.y(outcome)), int(sample), np.random.default_rng(seed)
    )
    return Experiment(
        name=experiment.name,
        frame=experiment.frame.iloc[rows].reset_index(drop=True),
        schema=experiment.schema,
        t=experiment.t[rows],
        warnings=list(experiment.warnings),
    )


def _strata(t: np.ndarray, y: np.ndarray) -> np.ndarray:
    """0..3: treatment x (outcome > 0); for a 0/1 outcome that is treatment x outcome."""
    return 2 * np.asarray(t, dtype=np.int64) + (y > 0)


def _stratified_draw(strata: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted positions of `size` rows drawn without replacement, each stratum in proportion.

    Quotas follow the largest remainder method, so they sum to exactly `size` and each
    stratum's quota is within one row of its proportional share.
    """
    labels, counts = np.unique(strata, return_counts=True)
    exact = counts * size / len(strata)
    quotas = np.floor(exact).astype(np.int64)
    remainder = size - int(quotas.sum())
    quotas[np.argsort(-(exact - quotas), kind="stable")[:remainder]] += 1
    chosen = [
        rng.choice(np.flatnonzero(strata == label), size=quota, replace=False)
        for label, quota in zip(labels, quotas, strict=True)
    ]
    return np.sort(np.concatenate(chosen))


def _numeric_feature(column: pd.Series, name: str, dtype: np.dtype) -> np.ndarray:
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        return column.to_numpy(dtype=dtype, na_value=np.nan)
    text = column.astype(object)
    numbers = pd.to_numeric(text, errors="coerce")
    bad = (numbers.isna() & text.notna() & (text.astype(str).str.strip() != "")).to_numpy()
    if bad.any():
        first = int(np.argmax(bad))
        raise ImpactIQError(
            f"The feature '{name}' should hold numbers, but row {first + 1} holds {text.iloc[first]!r} "
            f"({int(bad.sum()):,} such rows). Fix those values."
        )
    return numbers.to_numpy(dtype=dtype, na_value=np.nan)


def _mean_uplift(y, uplift, t) -> float:
    """The average predicted uplift (a metric function for `metrics.bootstrap_ci`)."""
    return float(np.mean(uplift))


def _bootstrapped(metric, y, uplift, t, *, n_boot: int, seed: int, **kwargs) -> dict:
    """{estimate, lower, upper} of `metric` with its bootstrap 95% interval, or why not."""
    try:
        estimate, lower, upper = metrics.bootstrap_ci(
            metric, y, uplift, t, n_boot=n_boot, seed=seed, **kwargs
        )
    except ImpactIQError as error:
        return {"unavailable": str(error)}
    return {"estimate": estimate, "lower": lower, "upper": upper}


def _doubly_robust_ate(holdout: pd.DataFrame) -> dict:
    """AIPW average effect with the model's predicted outcomes and the observed treated share.

    In a randomized experiment the propensity is the treated share, so the estimate is
    unbiased even where the outcome predictions are off; good predictions only narrow it.
    """
    scores = metrics.aipw_scores(holdout["y"], holdout["t"], holdout["y0_pred"], holdout["y1_pred"])
    estimate = float(scores.mean())
    half = Z95 * float(scores.std(ddof=1)) / np.sqrt(len(scores))
    return {
        "estimate": estimate,
        "lower": estimate - half,
        "upper": estimate + half,
        "method": "doubly robust (AIPW) with the model's predicted outcomes; normal 95% interval",
    }


def _difference_in_means(y: np.ndarray, t: np.ndarray) -> dict:
    """Treated mean minus control mean with its Welch (unpooled) normal 95% interval."""
    treated, control = y[t == 1], y[t == 0]
    estimate = float(treated.mean() - control.mean())
    half = Z95 * float(np.sqrt(treated.var(ddof=1) / treated.size + control.var(ddof=1) / control.size))
    return {
        "estimate": estimate,
        "lower": estimate - half,
        "upper": estimate + half,
        "method": "difference in means",
    }


def _peak_rss_mb() -> float:
    """The process's peak resident memory so far, in MB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024**2 if sys.platform == "darwin" else 1024)
