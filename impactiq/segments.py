"""Segments of held-out users, and what a campaign did in each: credited against caused.

Traditional attribution credits a campaign with every conversion among the users it reached.
Some of those users would have converted anyway; a randomized control group shows how many.
Per segment this module sets the two side by side on rows the model never saw (its holdout,
or any labelled table it scores):

- credited conversions: every conversion (or, for an amount such as spend, every unit of it)
  among treated users;
- incremental conversions: the observed uplift (treated mean minus control mean) times the
  treated users, with its 95% interval; what was caused;
- waste: credited minus incremental, the conversions that would have happened anyway, and its
  share of the credited ones;
- ROI under each attribution, for a cost per contact and a value per conversion.

The observed uplift is a difference in means with its unpooled (Welch) normal interval: it
uses no model, so it is the reference. Beside it stand two model-based estimates: the mean of
the model's per-row predictions, with the normal interval of that mean (it measures how the
predictions vary across the segment's users, not the model's own estimation error), and the
doubly robust (AIPW) segment effect built from the model's predicted outcomes and the known
propensity (the treated share): unbiased in a randomized experiment however wrong the
predictions are, and narrower than the difference in means when they are good. A segment
whose mean prediction differs from the observed uplift by more than sampling error allows
(a two-sided z-test at 5%) is flagged: there the model's ranking should not be trusted. With
many segments about one in twenty is flagged by chance alone.

Segments are made four ways (`assign_segments`): by the values of a column (a categorical
feature, or a numeric one with few distinct values such as a 0/1 flag), by K-means clusters
of the standardized features (each named after the features that set it apart), by quantiles
of predicted uplift, and by persuadability class.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm
from sklearn.cluster import KMeans
from threadpoolctl import threadpool_limits

from impactiq import metrics
from impactiq.dataset import Experiment
from impactiq.errors import ImpactIQError
from impactiq.metrics import Z95
from impactiq.schema import Schema
from impactiq.simulate import CLASSES, Thresholds, classify, default_thresholds

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
REQUIRED_COLUMNS = ("y", "t", "uplift", "uplift_upper", "y0_pred", "y1_pred")


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


def score_rows(model_like, experiment: Experiment) -> pd.DataFrame:
    """A labelled experiment scored like a model's holdout: predictions, y, t and the features.

    `model_like` is a `TrainedModel` or `SavedModel`; its own outcome is read from the
    experiment. The frame has the columns of `training.predictions_frame` (features included),
    so it can be segmented exactly as a holdout.
    """
    from impactiq.training import predictions_frame

    outcome = model_like.outcome
    if outcome not in experiment.schema.outcomes:
        raise ImpactIQError(
            f"The table has no outcome '{outcome}', which the model predicts; score a table that holds it."
        )
    features = model_like.features(experiment.frame)
    return predictions_frame(
        model_like, features, experiment.y(outcome), experiment.t, experiment.tau(outcome)
    )


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

    `frame` holds the columns of `training.predictions_frame` (y, t, uplift, y0_pred, y1_pred)
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
    order = np.argsort(-uplift, kind="stable")
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
    """The four persuadability classes of `simulate.classify`, the Simulator's own rule.

    `thresholds` default to `simulate.default_thresholds` of `frame`; pass those of the model's
    holdout to classify new rows exactly as the Simulator would.
    """
    thresholds = thresholds or default_thresholds(frame)
    classes = classify(frame["uplift"], frame["uplift_upper"], frame["y0_pred"], thresholds)
    present = [c for c in CLASSES if (classes == c).any()]
    labels = pd.Series(pd.Categorical(classes, categories=present), index=frame.index, name="segment")
    method = (
        f"do-not-disturb: the uplift's 95% upper bound is below zero or the uplift is at most "
        f"{-thresholds.harm:+.4g}; persuadable: uplift at least {thresholds.persuadable:+.4g}; sure thing: "
        f"the rest with a predicted outcome without contact of at least {thresholds.baseline:.4g}; "
        "lost cause: the rest (the Simulator's rule, thresholds from the model's predictions)"
    )
    return labels, method


def segment_table(
    frame: pd.DataFrame,
    labels: pd.Series,
    *,
    cost: float | None = None,
    value: float | None = None,
) -> pd.DataFrame:
    """Per segment, on scored labelled rows: credited against incremental, three uplift estimates.

    One row per segment, in the order of the categories of `labels` (one label per row of
    `frame`): users, treated, control; treated_mean and control_mean (rates for a 0/1 outcome,
    mean amounts otherwise); observed_uplift with observed_se, observed_lower, observed_upper
    (difference in means, unpooled Wald); predicted_uplift with its interval (normal interval
    of the mean of the per-row predictions); dr_uplift with its interval (AIPW, normal
    interval); disagreement_z, disagreement_p and disagrees (observed against mean predicted
    uplift, two-sided z-test at 5%); credited, incremental, waste (each estimate with its
    interval) and waste_share. With `cost` per contact and `value` per conversion (per unit of
    an amount) also traditional_roi = (credited x value - cost x treated) / (cost x treated)
    and causal_roi, the same with incremental conversions, each with its 95% interval.
    A segment with fewer than two users in an arm has NaN where an estimate needs both arms.
    """
    check_scored(frame)
    if len(labels) != len(frame):
        raise ImpactIQError(
            f"There are {len(labels)} segment labels for {len(frame)} rows; pass one label per row."
        )
    if (cost is None) != (value is None):
        raise ImpactIQError("Give both a cost per contact and a value per conversion for ROI, or neither.")
    if cost is not None:
        check_economics(cost, value)
    labels = pd.Series(labels).astype("category")
    codes = labels.cat.codes.to_numpy()
    y, t = frame["y"].to_numpy(dtype=np.float64), frame["t"].to_numpy()
    uplift = frame["uplift"].to_numpy(dtype=np.float64)
    gamma = aipw_scores(frame)
    rows = []
    for code, name in enumerate(labels.cat.categories):
        member = codes == code
        rows.append(_segment_row(str(name), y[member], t[member], uplift[member], gamma[member], cost, value))
    return pd.DataFrame(rows)


def aipw_scores(frame: pd.DataFrame, propensity: float | None = None) -> np.ndarray:
    """Each scored row's doubly robust effect score (`metrics.aipw_scores` on a predictions frame)."""
    return metrics.aipw_scores(frame["y"], frame["t"], frame["y0_pred"], frame["y1_pred"], propensity)


def check_economics(cost: float, value: float) -> None:
    """Refuse a cost per contact that is not positive or a value per conversion below zero."""
    for name, number, ok, hint in (
        ("cost per contact", cost, lambda v: v > 0, "a positive amount, e.g. 0.10"),
        ("value per conversion", value, lambda v: v >= 0, "zero or more, e.g. 25"),
    ):
        if (
            isinstance(number, bool)
            or not isinstance(number, int | float | np.number)
            or not np.isfinite(number)
        ):
            raise ImpactIQError(f"The {name} must be a number ({hint}); got {number!r}.")
        if not ok(number):
            raise ImpactIQError(f"The {name} must be {hint}; got {number!r}.")


def unit_labels(outcome: str, *, binary: bool) -> dict[str, str]:
    """Words for a table's quantities: conversions of a 0/1 outcome, amounts of any other."""
    if binary:
        return {
            "mean": f"{outcome} rate",
            "things": f"conversions ({outcome})",
            "per": "per conversion",
        }
    return {"mean": f"mean {outcome}", "things": f"{outcome} (amount)", "per": f"per unit of {outcome}"}


def readable_table(table: pd.DataFrame, *, outcome: str, binary: bool) -> pd.DataFrame:
    """`segment_table` with column names a reader understands, for a CSV download or a report."""
    words = unit_labels(outcome, binary=binary)
    names = {
        "treated_mean": f"treated {words['mean']}",
        "control_mean": f"control {words['mean']}",
        "credited": f"credited {words['things']}",
        "incremental": f"incremental {words['things']}",
        "waste": f"waste: credited not incremental {words['things']}",
    }
    renamed = {}
    for column in table.columns:
        base = next((b for b in names if column == b or column.startswith(f"{b}_")), None)
        renamed[column] = column if base is None else names[base] + column[len(base) :].replace("_", " ")
    return table.rename(columns=renamed)


def formatted_table(table: pd.DataFrame, *, outcome: str, binary: bool) -> pd.DataFrame:
    """The main columns of `segment_table` as text, each estimate with its 95% interval."""
    words = unit_labels(outcome, binary=binary)
    effect = (lambda v: f"{v * 100:+.2f} pp") if binary else (lambda v: f"{v:+,.3f}")
    mean = (lambda v: f"{v:.2%}") if binary else (lambda v: f"{v:,.3f}")
    count = (lambda v: f"{v:,.0f}") if binary else (lambda v: f"{v:,.1f}")
    roi = lambda v: f"{v:+.0%}"  # noqa: E731

    def with_ci(column: str, fmt, lower: str | None = None, upper: str | None = None):
        lo, hi = table[lower or f"{column}_lower"], table[upper or f"{column}_upper"]
        return [
            "–" if not np.isfinite(v) else f"{fmt(v)} [{fmt(a)}, {fmt(b)}]"
            for v, a, b in zip(table[column], lo, hi, strict=True)
        ]

    shown = {
        "segment": table["segment"],
        "users": table["users"].map("{:,}".format),
        f"treated {words['mean']}": table["treated_mean"].map(mean),
        f"control {words['mean']}": table["control_mean"].map(mean),
        "observed uplift [95% CI]": with_ci("observed_uplift", effect, "observed_lower", "observed_upper"),
        "mean predicted uplift [95% CI]": with_ci(
            "predicted_uplift", effect, "predicted_lower", "predicted_upper"
        ),
        "doubly robust uplift [95% CI]": with_ci("dr_uplift", effect, "dr_lower", "dr_upper"),
        "model disagrees": np.where(table["disagrees"], "⚠ yes", ""),
        f"credited {words['things']}": table["credited"].map(count),
        f"incremental {words['things']} [95% CI]": with_ci("incremental", count),
        "waste share [95% CI]": with_ci("waste_share", lambda v: f"{v:.0%}"),
    }
    if "causal_roi" in table:
        shown["traditional ROI [95% CI]"] = with_ci("traditional_roi", roi)
        shown["causal ROI [95% CI]"] = with_ci("causal_roi", roi)
    return pd.DataFrame(shown)


def markdown_table(table: pd.DataFrame) -> str:
    """A table of text cells (such as `formatted_table`) as a GitHub-flavoured markdown table."""
    cells = table.astype(str)
    lines = ["| " + " | ".join(map(str, cells.columns)) + " |", "|" + "---|" * cells.shape[1]]
    lines += ["| " + " | ".join(row) + " |" for row in cells.itertuples(index=False)]
    return "\n".join(lines)


def _segment_row(
    name: str,
    y: np.ndarray,
    t: np.ndarray,
    uplift: np.ndarray,
    gamma: np.ndarray,
    cost: float | None,
    value: float | None,
) -> dict:
    treated, control = y[t == 1], y[t == 0]
    n_t, n_c, n = treated.size, control.size, y.size
    m_t, v_t = _mean_var(treated)
    m_c, v_c = _mean_var(control)
    observed = m_t - m_c
    observed_se = np.sqrt(v_t / n_t + v_c / n_c) if min(n_t, n_c) >= 2 else np.nan
    predicted = float(uplift.mean()) if n else np.nan
    predicted_se = float(uplift.std(ddof=1) / np.sqrt(n)) if n >= 2 else np.nan
    dr = float(gamma.mean()) if n else np.nan
    dr_se = float(gamma.std(ddof=1) / np.sqrt(n)) if n >= 2 else np.nan
    z = (observed - predicted) / np.sqrt(observed_se**2 + predicted_se**2)
    p = 2.0 * norm.sf(abs(z)) if np.isfinite(z) else np.nan
    credited = float(treated.sum())
    incremental = observed * n_t
    waste = credited - incremental
    row = {
        "segment": name,
        "users": n,
        "treated": n_t,
        "control": n_c,
        "treated_mean": m_t,
        "treated_se": np.sqrt(v_t / n_t) if n_t >= 2 else np.nan,
        "control_mean": m_c,
        "observed_uplift": observed,
        "observed_se": observed_se,
        "observed_lower": observed - Z95 * observed_se,
        "observed_upper": observed + Z95 * observed_se,
        "predicted_uplift": predicted,
        "predicted_lower": predicted - Z95 * predicted_se,
        "predicted_upper": predicted + Z95 * predicted_se,
        "dr_uplift": dr,
        "dr_lower": dr - Z95 * dr_se,
        "dr_upper": dr + Z95 * dr_se,
        "disagreement_z": z,
        "disagreement_p": p,
        "disagrees": bool(np.isfinite(p) and p < 0.05),
        "credited": credited,
        "incremental": incremental,
        "incremental_lower": incremental - Z95 * observed_se * n_t,
        "incremental_upper": incremental + Z95 * observed_se * n_t,
        "waste": waste,
        "waste_lower": waste - Z95 * observed_se * n_t,
        "waste_upper": waste + Z95 * observed_se * n_t,
    }
    share = (lambda amount: amount / credited) if credited > 0 else (lambda amount: np.nan)
    row.update(
        waste_share=share(waste),
        waste_share_lower=share(row["waste_lower"]),
        waste_share_upper=share(row["waste_upper"]),
    )
    if cost is not None:
        treated_se = row["treated_se"]
        spend = cost * n_t
        for key, estimate, half in (
            ("traditional_roi", credited, Z95 * treated_se * n_t),
            ("causal_roi", incremental, Z95 * observed_se * n_t),
        ):
            row[key] = (estimate * value - spend) / spend if spend else np.nan
            row[f"{key}_lower"] = ((estimate - half) * value - spend) / spend if spend else np.nan
            row[f"{key}_upper"] = ((estimate + half) * value - spend) / spend if spend else np.nan
    return row


def _mean_var(values: np.ndarray) -> tuple[float, float]:
    """Mean and sample variance, NaN where there are too few values for them."""
    mean = float(values.mean()) if values.size else np.nan
    return mean, float(values.var(ddof=1)) if values.size >= 2 else np.nan


def check_scored(frame: pd.DataFrame) -> None:
    """Refuse anything but a non-empty frame of scored rows (see `REQUIRED_COLUMNS`)."""
    if not isinstance(frame, pd.DataFrame):
        raise ImpactIQError(f"Pass the scored rows as a pandas DataFrame; got {type(frame).__name__}.")
    lacking = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if lacking:
        raise ImpactIQError(
            f"The scored rows lack the column(s) {', '.join(map(repr, lacking))}. Segment a model's holdout "
            "or a table scored with `score_rows`, which hold y, t, uplift, y0_pred and y1_pred."
        )
    if len(frame) == 0:
        raise ImpactIQError("There are no scored rows to segment; score a table with at least one row.")


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
