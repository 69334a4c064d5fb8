"""Splitting scored users into segments: by a column, by K-means, by uplift, by class.

Segments are made four ways (`assign_segments`): by the values of a column (a categorical
feature, or a numeric one with few distinct values such as a 0/1 flag), by K-means clusters
of the standardized features (each named after the features that set it apart), by quantiles
of predicted uplift, and by persuadability class.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from threadpoolctl import threadpool_limits

from impactiq.data.schema import Schema
from impactiq.decisions.persuadability import CLASSES, Thresholds, classify, default_thresholds
from impactiq.errors import ImpactIQError
from impactiq.evaluation.metrics import ranked
from impactiq.uplift.scoring import check_scored

# A column with more distinct values than this is no segmentation: group it first.
MAX_LEVELS = 20
# A column's value with fewer rows than this in either arm joins the pooled OTHER segment:
# an uplift from a handful of control users is noise.
MIN_ARM_ROWS = 30
OTHER = "other (small groups)"
KMEANS_RANGE = (2, 12)
QUANTILE_RANGE = (2, 20)
# K-means restarts: the best of this many seeded starts is kept, so results do not hinge on one.
KMEANS_N_INIT = 10
# Features named per cluster, and the least deviation (in standard deviations) worth naming.
NAMED_FEATURES = 2
MIN_NAMED_Z = 0.25
PERSUADABILITY = "persuadability"


@dataclass(frozen=True)
class Segmentation:
    """Which segment each row belongs to, and how the segments were made.

    `labels` is a categorical Series aligned with the scored frame, its categories in display
    order. `profiles` (K-means only) holds, per cluster and feature, the cluster mean, the
    overall mean and their difference in standard deviations (`z`); `method` says in words
    how the rows were split.
    """

    by: str
    title: str
    labels: pd.Series
    method: str
    profiles: pd.DataFrame | None = None


def segment_columns(frame: pd.DataFrame, schema: Schema) -> list[str]:
    """The feature columns of `frame` that can segment it: at most `MAX_LEVELS` distinct values.

    Categorical features qualify (listed first), and so do numeric ones with few values (a 0/1
    flag such as Hillstrom's newbie, a month count).
    """
    candidates = schema.categorical_features + schema.numeric_features
    return [c for c in candidates if c in frame.columns and frame[c].nunique(dropna=False) <= MAX_LEVELS]


def parse_by(by: str) -> tuple[str, str | int | None]:
    """('column', name), ('kmeans', k), ('uplift', quantiles) or ('persuadability', None)."""
    if not isinstance(by, str) or not by:
        raise ImpactIQError(
            f"Say how to segment: a column name, 'kmeans:K', 'uplift:Q' or '{PERSUADABILITY}'; got {by!r}."
        )
    if by == PERSUADABILITY:
        return PERSUADABILITY, None
    kind, _, count = by.partition(":")
    for name, (low, high) in (("kmeans", KMEANS_RANGE), ("uplift", QUANTILE_RANGE)):
        if kind == name:
            if not count.isdigit() or not low <= int(count) <= high:
                raise ImpactIQError(
                    f"'{by}' needs a whole number from {low} to {high} after '{name}:', e.g. '{name}:{low + 2}'."
                )
            return name, int(count)
    return "column", by


def assign_segments(
    frame: pd.DataFrame, schema: Schema, by: str, *, seed: int = 0, thresholds: Thresholds | None = None
) -> Segmentation:
    """Split the scored rows of `frame` into segments as `by` says (see `parse_by`).

    `frame` holds the columns of `scoring.predictions_frame` (y, t, uplift, y0_pred, y1_pred)
    and, for column and K-means segments, the feature columns by name. `seed` seeds K-means;
    `thresholds` are the persuadability class boundaries (see `persuadability_segments`).
    """
    check_scored(frame)
    kind, arg = parse_by(by)
    if kind == "column":
        labels, method = column_segments(frame, schema, arg)
        return Segmentation(by, arg, labels, method)
    if kind == "kmeans":
        labels, profiles = kmeans_segments(frame, schema, arg, seed=seed)
        method = (
            f"K-means with k={arg} on the standardized numeric features and one-hot categories "
            f"(seed {seed}, best of {KMEANS_N_INIT} starts); each cluster is named after the features "
            "whose cluster mean lies furthest from the overall mean, in standard deviations"
        )
        return Segmentation(by, f"behavioural cluster (K-means, k={arg})", labels, method, profiles)
    if kind == "uplift":
        labels = uplift_segments(frame["uplift"].to_numpy(), arg).set_axis(frame.index)
        method = f"{arg} equal-sized groups of users ranked by predicted uplift, highest first"
        return Segmentation(by, f"predicted uplift ({arg} quantiles)", labels, method)
    labels, method = persuadability_segments(frame, thresholds)
    return Segmentation(by, "persuadability class", labels, method)


def column_segments(frame: pd.DataFrame, schema: Schema, column: str) -> tuple[pd.Series, str]:
    """One segment per value of `column`; values too rare in an arm are pooled into `OTHER`."""
    if column not in schema.features:
        raise ImpactIQError(
            f"'{column}' is not a feature of this model; segment by one of {', '.join(map(repr, schema.features))}, "
            "'kmeans:K', 'uplift:Q' or 'persuadability'."
        )
    if column not in frame.columns:
        raise ImpactIQError(
            f"The scored rows do not hold the feature '{column}' (a model saved before features were "
            "kept with its holdout). Retrain the model, or segment by 'uplift:Q' or 'persuadability'."
        )
    values = frame[column]
    levels = values.nunique(dropna=False)
    if levels > MAX_LEVELS:
        raise ImpactIQError(
            f"'{column}' has {levels} distinct values; a segmentation may have at most {MAX_LEVELS}. "
            "Group its values first, or use 'kmeans:K' or 'uplift:Q'."
        )
    if column in schema.numeric_features:
        numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
        order = np.unique(numbers[~np.isnan(numbers)])
        names = {v: f"{column} = {v:g}" for v in order}
        text = pd.Series([names.get(v, f"{column} missing") for v in numbers], index=frame.index)
        ordered = [names[v] for v in order] + ([f"{column} missing"] if np.isnan(numbers).any() else [])
    else:
        text = values.astype(object).where(values.notna(), "missing").astype(str)
        ordered = list(text.value_counts(sort=True).index)
    t = frame["t"].to_numpy()
    arm_counts = pd.crosstab(text, t).reindex(columns=[0, 1], fill_value=0)
    small = [name for name in ordered if arm_counts.loc[name].min() < MIN_ARM_ROWS]
    method = f"one segment per value of '{column}'"
    if small:
        text = text.where(~text.isin(small), OTHER)
        ordered = [name for name in ordered if name not in small] + [OTHER]
        method += f"; {', '.join(small)} (fewer than {MIN_ARM_ROWS} rows in an arm) pooled as '{OTHER}'"
    return pd.Series(pd.Categorical(text, categories=ordered), index=frame.index, name="segment"), method


def kmeans_segments(
    frame: pd.DataFrame, schema: Schema, k: int, *, seed: int = 0
) -> tuple[pd.Series, pd.DataFrame]:
    """K-means clusters of the features, largest first, each named by its feature profile.

    Numeric features are standardized (missing values filled with the median) and categories
    one-hot encoded as 0/1, so that no feature dominates through its unit. A cluster's name
    lists up to `NAMED_FEATURES` features whose cluster mean deviates most from the overall
    mean in standard deviations: 'high history · low recency', 'channel = Web'. Returns the
    labels and the long profile table (segment, feature, cluster_mean, overall_mean, z).
    """
    design = _design(frame, schema)
    if len(frame) < k:
        raise ImpactIQError(
            f"K-means with k={k} needs at least {k} rows; got {len(frame)}. Choose a smaller k."
        )
    scale = design.std(ddof=0).replace(0.0, np.nan)
    numeric = [c for c in schema.numeric_features if c in design.columns]
    standardized = design.copy()
    standardized[numeric] = (design[numeric] - design[numeric].mean()) / scale[numeric].fillna(1.0)
    # One OpenMP thread: K-means on a holdout takes well under a second alone, but its threads
    # slow down twenty-fold when another process holds a core (measured on two shared cores).
    with threadpool_limits(limits=1, user_api="openmp"):
        fitted = KMeans(n_clusters=k, n_init=KMEANS_N_INIT, random_state=seed).fit(standardized.to_numpy())
    clusters = fitted.labels_
    sizes = np.bincount(clusters, minlength=k)
    rank = np.empty(k, dtype=np.int64)
    rank[np.argsort(-sizes, kind="stable")] = np.arange(k)
    clusters = rank[clusters]
    means = design.groupby(clusters).mean()
    z = (means - design.mean()) / scale
    names = _unique([_cluster_name(z.loc[c].dropna(), schema, design) for c in range(k)])
    labels = pd.Series(
        pd.Categorical.from_codes(clusters, categories=names), index=frame.index, name="segment"
    )
    profiles = (
        pd.DataFrame(
            {
                "segment": np.repeat(names, design.shape[1]),
                "feature": np.tile(design.columns, k),
                "cluster_mean": means.to_numpy().ravel(),
                "overall_mean": np.tile(design.mean().to_numpy(), k),
                "z": z.to_numpy().ravel(),
            }
        )
        .dropna(subset=["z"])
        .reset_index(drop=True)
    )
    return labels, profiles


def uplift_segments(uplift: np.ndarray, quantiles: int) -> pd.Series:
    """`quantiles` equal-sized groups by predicted uplift, the highest first ('uplift 0–20%')."""
    uplift = np.asarray(uplift, dtype=np.float64)
    order = ranked(uplift)
    group = np.empty(uplift.size, dtype=np.int64)
    group[order] = np.arange(uplift.size) * quantiles // max(uplift.size, 1)
    edges = np.linspace(0, 100, quantiles + 1)
    names = [f"uplift {edges[i]:.0f}–{edges[i + 1]:.0f}%" for i in range(quantiles)]
    names[0] += " (highest)"
    names[-1] += " (lowest)"
    return pd.Series(pd.Categorical.from_codes(group, categories=names), name="segment")


def persuadability_segments(
    frame: pd.DataFrame, thresholds: Thresholds | None = None
) -> tuple[pd.Series, str]:
    """The four persuadability classes of `persuadability.classify`, the Simulator's own rule.

    `thresholds` default to `persuadability.default_thresholds` of `frame`; pass those of the model's
    holdout to classify new rows exactly as the Simulator would.
    """
    thresholds = thresholds or default_thresholds(frame)
    classes = classify(frame["uplift"], frame["uplift_upper"], frame["y0_pred"], thresholds)
    present = [c for c in CLASSES if (classes == c).any()]
    labels = pd.Series(pd.Categorical(classes, categories=present), index=frame.index, name="segment")
    # In the units of every other table: points and percent for a 0/1 outcome, else its own.
    binary = bool(np.isin(frame["y"].to_numpy(), (0.0, 1.0)).all()) if "y" in frame else False
    effect, level = (
        (lambda v: f"{100 * v:+.2f} pp", lambda v: f"{100 * v:.2f}%")
        if binary
        else (lambda v: f"{v:+,.3f}", lambda v: f"{v:,.3f}")
    )
    method = (
        f"do-not-disturb: the uplift's 95% upper bound is below zero or the uplift is at most "
        f"{effect(-thresholds.harm)}; persuadable: uplift at least {effect(thresholds.persuadable)}; sure "
        f"thing: the rest with a predicted outcome without contact of at least {level(thresholds.baseline)}; "
        "lost cause: the rest (the Simulator's rule, thresholds from the model's predictions)"
    )
    return labels, method


def _design(frame: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """Numeric features (missing filled with the median) and one 0/1 column per category."""
    numeric = [c for c in schema.numeric_features if c in frame.columns]
    categorical = [c for c in schema.categorical_features if c in frame.columns]
    if not numeric and not categorical:
        raise ImpactIQError(
            "The scored rows hold none of the model's features, so they cannot be clustered. Retrain the "
            "model (its holdout then keeps the features), or segment by 'uplift:Q' or 'persuadability'."
        )
    blocks = {}
    for name in numeric:
        values = frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
        blocks[name] = np.where(
            np.isnan(values), np.nanmedian(values) if (~np.isnan(values)).any() else 0.0, values
        )
    design = pd.DataFrame(blocks, index=frame.index)
    for name in categorical:
        text = frame[name].astype(object).where(frame[name].notna(), "missing").astype(str)
        dummies = pd.get_dummies(text, prefix=name, prefix_sep=" ", dtype=np.float64)
        design = pd.concat([design, dummies], axis=1)
    return design


def _cluster_name(z: pd.Series, schema: Schema, design: pd.DataFrame) -> str:
    """'high history · low recency': the features furthest from the overall mean, one per column.

    A numeric feature reads 'high x' or 'low x' (a 0/1 feature 'x = 1' or 'x = 0'); a category
    is named only where it is over-represented ('channel = Web'): its absence says little.
    """
    parts, used = [], set()
    for feature in z.abs().sort_values(ascending=False, kind="stable").index:
        score = z[feature]
        if abs(score) < MIN_NAMED_Z or len(parts) == NAMED_FEATURES:
            break
        if feature in schema.numeric_features:
            column = feature
            if set(np.unique(design[feature])) <= {0.0, 1.0}:
                parts.append(f"{feature} = {1 if score > 0 else 0}")
            else:
                parts.append(f"{'high' if score > 0 else 'low'} {feature}")
        else:
            column = next(c for c in schema.categorical_features if feature.startswith(f"{c} "))
            if score < 0 or column in used:
                continue
            parts.append(f"{column} = {feature[len(column) + 1 :]}")
        used.add(column)
    return " · ".join(parts) or "typical users"


def _unique(names: list[str]) -> list[str]:
    """Names made distinct by numbering repeats: 'typical users', 'typical users (2)'."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out
