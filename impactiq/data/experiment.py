"""A validated experiment: a table plus the schema that says what its columns mean.

Everything downstream (summary, models, segments) takes an `Experiment`, never a raw table,
so that validation happens once and in one place: `prepare_experiment`.

Row numbers in messages count data rows from 1, the way a spreadsheet numbers the rows under
its header; in a CSV file with a header, row N is line N + 1.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from impactiq.data.reader import read_warnings
from impactiq.data.schema import (
    CRITEO_FEATURES,
    CRITEO_OUTCOMES,
    CRITEO_TREATMENT,
    Schema,
    arm_label,
    detect_criteo,
)
from impactiq.errors import ImpactIQError

# Fewer rows than this in an arm give effects too uncertain to model at all.
MIN_ROWS_PER_ARM = 30


class EmptyArmError(ImpactIQError):
    """No row of the table is in `arm` ("treated" or "control"); `held` lists the values the
    treatment column holds. Its message advises choosing values, as the app's mapping does; the
    command line, which reads a file coded like the model's training data, says how to recode."""

    def __init__(self, message: str, *, arm: str, held: str) -> None:
        super().__init__(message)
        self.arm = arm
        self.held = held


# A binary outcome with fewer successes than this in an arm gives an effect that is mostly noise.
MIN_POSITIVES_PER_ARM = 5
# The category that stands for a missing value in a categorical feature.
MISSING_CATEGORY = "missing"
# What to do about text in a column that must hold numbers, by the column's role.
_NUMBER_FIXES = {
    "numeric feature": "Fix those values, or map the column as a categorical feature.",
    "outcome": "Recode the outcome as numbers (1 and 0 for yes and no).",
}
# How many distinct values an error message lists before it stops.
SHOWN_VALUES = 5
# Numeric features are stored as float32, and the models cast them to float32 too: a value
# beyond this (or infinite) cannot be used and is made missing.
FLOAT32_MAX = float(np.finfo(np.float32).max)


@dataclass
class Experiment:
    """A randomized experiment ready for analysis.

    `frame` keeps only rows in the treated or control group, with compact dtypes; `t` is 1 for
    treated rows and 0 for control. With separate arms (`schema.arms`), `arm` is 0 for control
    and k for the k-th arm; otherwise None. `warnings` are things the user should see but that do not
    stop the analysis (a post-treatment column left out, rows of a third arm dropped, a constant
    feature left out, values too large for a model made missing, a file that was not UTF-8).
    """

    name: str
    frame: pd.DataFrame
    schema: Schema
    t: np.ndarray
    warnings: list[str] = field(default_factory=list)
    arm: np.ndarray | None = None

    @property
    def arm_names(self) -> tuple[str, ...]:
        """The treated arms, as text, in the order of `arm` codes 1, 2, ...; empty when pooled."""
        return tuple(arm_label(a) for a in self.schema.arms)

    @property
    def n_rows(self) -> int:
        return len(self.frame)

    @property
    def X(self) -> pd.DataFrame:
        """The feature columns, in the schema's order."""
        return self.frame[list(self.schema.features)]

    def y(self, outcome: str) -> np.ndarray:
        """One outcome as float64, the dtype every estimator and metric expects."""
        return self.frame[outcome].to_numpy(dtype=np.float64)

    def tau(self, outcome: str) -> np.ndarray | None:
        """The true individual effect on `outcome` (synthetic data only), else None."""
        column = self.schema.truth.get(outcome)
        return None if column is None else self.frame[column].to_numpy(dtype=np.float64)

    def arm_tau(self, outcome: str, arm: str) -> np.ndarray | None:
        """The true individual effect of `arm` versus control on `outcome` (synthetic data only)."""
        column = self.schema.arm_truth.get(outcome, {}).get(arm)
        return None if column is None else self.frame[column].to_numpy(dtype=np.float64)


def prepare_experiment(df: pd.DataFrame, schema: Schema | None = None, *, name: str = "data") -> Experiment:
    """Validate `df` against `schema` and keep what the analysis needs, in compact dtypes.

    Without a schema the table must be in the Criteo layout. Rows whose treatment value is
    neither treated nor control are dropped with a warning (one arm of a three-arm test
    against control); with the Criteo layout such values are an error, since that layout
    promises 0/1.

    A feature with one value in every row (common where the design fixed it, and in small
    samples of Criteo) cannot tell people apart: it leaves the schema's features with a
    warning, whether the schema was detected or chosen, and only a table left with no
    feature at all is refused. Its column stays in the frame, so that a model trained where
    it varied can still score these rows. A numeric feature's infinite values, and values
    beyond float32's range (about 3.4e38), become missing with a warning: the models cannot
    use them.

    The frame holds the treatment, outcomes (binary as int8, amounts as float64), features
    (numeric as float32, categorical as pandas categoricals with sorted string categories and
    missing values as the category 'missing') and truth columns (float32), indexed 0..n-1.
    Everything else, post-treatment columns included, is left out. The warnings start with
    those of `read_table` about how the file was read.
    """
    detected = schema is None
    if detected:
        schema = detect_criteo(df.columns)
        if schema is None:
            raise _not_criteo_error(df.columns)
    _check_columns(df, schema)
    warnings = read_warnings(df)
    warnings += [
        f"'{c}' is measured after treatment and is kept out of the features (using it would leak the result)."
        for c in schema.excluded
        if c in df.columns
    ]
    keep, treated = _assign_arms(df[schema.treatment], schema, strict=detected, warnings=warnings)
    positions = np.flatnonzero(keep)
    t = treated[keep].astype(np.int8)

    def column(name: str) -> pd.Series:
        values = df[name]
        return values if len(positions) == len(df) else values.iloc[positions]

    frame = {schema.treatment: _compact_treatment(column(schema.treatment))}
    for outcome in schema.outcomes:
        frame[outcome] = _outcome(column(outcome), outcome, schema.is_binary(outcome), positions)
        if schema.is_binary(outcome):
            warnings += _few_positives(frame[outcome], t, outcome)
    features, constant = _features(column, schema, positions, warnings)
    frame.update(features)
    schema = _without_constant(schema, constant, warnings)
    for outcome, truth in schema.truth.items():
        frame[truth] = _numbers(column(truth), truth, f"true effect of '{outcome}'", positions).astype(
            np.float32
        )
    for outcome, by_arm in schema.arm_truth.items():
        for arm, truth in by_arm.items():
            frame[truth] = _numbers(
                column(truth), truth, f"true effect of '{arm}' on '{outcome}'", positions
            ).astype(np.float32)
    arm = _arm_codes(column(schema.treatment), schema) if schema.arms else None
    # The arrays and series above are new and owned here: no copy, and no consolidation (which
    # would copy every float32 feature into one block).
    return Experiment(
        name=name, frame=pd.DataFrame(frame, copy=False), schema=schema, t=t, warnings=warnings, arm=arm
    )


def _arm_codes(treatment: pd.Series, schema: Schema) -> np.ndarray:
    """Each kept row's arm: 0 for control, k for `schema.arms[k - 1]`; every arm needs rows."""
    codes = np.zeros(len(treatment), dtype=np.int8)
    for k, value in enumerate(schema.arms, start=1):
        member = _isin(treatment, (value,))
        count = int(member.sum())
        if count < MIN_ROWS_PER_ARM:
            raise ImpactIQError(
                f"The arm '{value}' of '{schema.treatment}' has only {_rows(count)}; each arm needs at least "
                f"{MIN_ROWS_PER_ARM}. Pool it with another arm, or use a larger sample of the experiment."
            )
        codes[member] = k
    return codes


def check_outcome(experiment: Experiment, outcome: str) -> None:
    """Refuse an outcome the experiment does not have, listing the ones it has."""
    if outcome not in experiment.schema.outcomes:
        raise ImpactIQError(
            f"'{outcome}' is not an outcome of this experiment; choose one of "
            f"{', '.join(map(repr, experiment.schema.outcomes))}."
        )


def _not_criteo_error(columns) -> ImpactIQError:
    names = set(columns)
    lacking = [c for c in (*CRITEO_FEATURES, CRITEO_TREATMENT) if c not in names]
    if not names & set(CRITEO_OUTCOMES):
        lacking.append(" or ".join(CRITEO_OUTCOMES))
    shown = ", ".join(f"'{c}'" for c in lacking[:SHOWN_VALUES]) + (
        " ..." if len(lacking) > SHOWN_VALUES else ""
    )
    return ImpactIQError(
        f"The table is not in the Criteo layout (f0..f11, treatment, visit/conversion): it has no "
        f"{shown}. Map its columns instead: choose the treatment column and which of its values "
        "mean treated and control, the outcome(s) and the features."
    )


def _check_columns(df: pd.DataFrame, schema: Schema) -> None:
    """Every column the schema names exists once, has one role, and there is a feature."""
    columns = list(df.columns)
    roles = [("treatment", schema.treatment)]
    roles += [("outcome", c) for c in schema.outcomes] + [("feature", c) for c in schema.features]
    roles += [("true-effect", c) for c in schema.truth.values()]
    for role, name in roles:
        if name not in columns:
            found = ", ".join(map(str, columns[:20])) + (" ..." if len(columns) > 20 else "")
            raise ImpactIQError(
                f"The {role} column '{name}' is not in the table. Columns found: {found}. Choose one "
                "of these, or fix the header row."
            )
        if columns.count(name) > 1:
            raise ImpactIQError(
                f"The table has more than one column named '{name}'. Rename them so that every name is different."
            )
    names = [name for _, name in roles]
    for name in dict.fromkeys(names):
        if names.count(name) > 1:
            given = " and ".join(role for role, n in roles if n == name)
            raise ImpactIQError(f"Column '{name}' is given two roles ({given}); give it one.")
    if not schema.outcomes:
        raise ImpactIQError("Choose at least one outcome column (for example 'visit').")
    if not schema.features:
        raise ImpactIQError(
            "Choose at least one feature column: the model needs something to tell people apart."
        )


def _assign_arms(
    treatment: pd.Series, schema: Schema, *, strict: bool, warnings: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """(rows to keep, rows that are treated), both boolean over every row of the table."""
    name = schema.treatment
    missing = treatment.isna().to_numpy()
    if missing.any():
        raise ImpactIQError(
            f"The treatment column '{name}' is empty in {_rows(missing.sum())} (first: "
            f"{_row(np.argmax(missing))}). Every row needs its group: fill them in or remove those rows."
        )
    treated = _isin(treatment, schema.treated_values)
    control = _isin(treatment, schema.control_values)
    keep = treated | control
    if not keep.all():
        others = _distinct(treatment[~keep])
        first = _row(np.argmin(keep))
        if strict:
            raise ImpactIQError(
                f"The treatment column '{name}' should hold only {_values(schema.control_values)} "
                f"(control) and {_values(schema.treated_values)} (treated), but it also holds "
                f"{_values(others)} in {_rows((~keep).sum())} (first: {first}). Remove those rows, "
                "or map the columns yourself and choose which values mean treated and control."
            )
        warnings.append(
            f"{_rows((~keep).sum())} whose '{name}' is {_values(others)} are neither treated "
            "nor control and were left out."
        )
    for arm, rows, values in (
        ("treated", treated, schema.treated_values),
        ("control", control, schema.control_values),
    ):
        count = int(rows.sum())
        if count == 0:
            held = _values(_distinct(treatment))
            raise EmptyArmError(
                f"The {arm} arm is empty: no row has '{name}' equal to {_values(values)}. The column "
                f"holds {held}; choose the {arm} values among these.",
                arm=arm,
                held=held,
            )
        if count < MIN_ROWS_PER_ARM:
            raise ImpactIQError(
                f"The {arm} arm has only {_rows(count)}; at least {MIN_ROWS_PER_ARM} per arm are needed "
                "to estimate an effect. Use a larger sample of the experiment."
            )
    return keep, treated


def _isin(column: pd.Series, values: tuple) -> np.ndarray:
    """Rows whose value is one of `values`, also matching '1' with 1 across text and numbers.

    Values chosen on the command line or stored in a model's JSON metadata may be text while
    the column holds numbers, or the other way round.
    """
    values = list(values)
    if pd.api.types.is_numeric_dtype(column):
        numbers = pd.to_numeric(
            pd.Series([v for v in values if isinstance(v, str)], dtype=object), errors="coerce"
        )
        values += [v for v in numbers if not pd.isna(v)]
    else:
        values += [str(v) for v in values if not isinstance(v, str)]
    return column.isin(values).to_numpy()


def _compact_treatment(values: pd.Series) -> pd.Series:
    """The treatment as the user wrote it (for display), text as a categorical."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.remove_unused_categories().reset_index(drop=True)
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return values.reset_index(drop=True)
    return values.astype("category").reset_index(drop=True)


def _outcome(values: pd.Series, name: str, binary: bool, positions: np.ndarray) -> np.ndarray:
    """An outcome as int8 (binary) or float64 (an amount), refusing missing and odd values."""
    numbers = _numbers(values, name, "outcome", positions)
    missing = np.isnan(numbers)
    if missing.any():
        raise ImpactIQError(
            f"The outcome '{name}' is empty in {_rows(missing.sum())} of the treated and control arms (first: "
            f"{_row(positions[np.argmax(missing)])}). Every row needs its outcome: fill them in "
            "(0 if nothing happened) or remove those rows."
        )
    infinite = ~np.isfinite(numbers)
    if infinite.any():
        first = np.argmax(infinite)
        raise ImpactIQError(
            f"The outcome '{name}' is infinite ({numbers[first]}) in {_rows(infinite.sum())} (first: "
            f"{_row(positions[first])}). Fix those values or remove those rows."
        )
    if not binary:
        # A read-only array is a view of the caller's table: copy it, so that the experiment
        # does not change when the caller changes that table.
        return numbers if numbers.flags.writeable else numbers.copy()
    odd = (numbers != 0) & (numbers != 1)
    if odd.any():
        first = np.argmax(odd)
        raise ImpactIQError(
            f"The outcome '{name}' should hold only 0 and 1 but also holds {_values(np.unique(numbers[odd]))} "
            f"(first: {_row(positions[first])}). Recode it as 0/1, or map it as a numeric outcome."
        )
    return numbers.astype(np.int8)


def _features(column, schema: Schema, positions: np.ndarray, warnings: list[str]) -> tuple[dict, list[str]]:
    """The feature columns in compact dtypes, and the names of those holding a single value.

    A numeric feature that is either one number or missing still tells rows apart (missing is
    information to the models), so only a column with one value and no gaps, or no values at
    all, counts as constant.
    """
    features, constant, missing = {}, [], []
    for feature in schema.numeric_features:
        numbers = _numbers(column(feature), feature, "numeric feature", positions)
        values = _usable_floats(numbers, feature, positions, warnings)
        del numbers
        n_missing = int(np.isnan(values).sum())
        if n_missing == len(values) or (n_missing == 0 and values.min() == values.max()):
            constant.append(feature)
        elif n_missing:
            missing.append(f"'{feature}' ({_rows(n_missing)})")
        features[feature] = values
    if missing:
        warnings.append(
            f"Missing values in numeric features {', '.join(missing)}: the models treat them as "
            "unknown rather than dropping the rows."
        )
    for feature in schema.categorical_features:
        values, n_missing = _categories(column(feature))
        if len(values.cat.categories) <= 1:
            constant.append(feature)
        elif n_missing:
            warnings.append(
                f"The categorical feature '{feature}' is empty in {_rows(n_missing)}; "
                f"those rows get the category '{MISSING_CATEGORY}'."
            )
        features[feature] = values
    return features, constant


def _usable_floats(numbers: np.ndarray, name: str, positions: np.ndarray, warnings: list[str]) -> np.ndarray:
    """A numeric feature as float32, its infinite and out-of-range values made missing.

    A float32 cannot hold them (1e39 becomes infinity), and the models refuse infinity.
    """
    unusable = np.abs(numbers) > FLOAT32_MAX  # False for NaN, True for +-inf
    if not unusable.any():
        return numbers.astype(np.float32)
    count, first = int(unusable.sum()), int(np.argmax(unusable))
    shown = _values(np.unique(numbers[unusable]))
    warnings.append(
        f"The numeric feature '{name}' holds {shown} in {_rows(count)} (first: {_row(positions[first])}): "
        f"infinite, or beyond the ±{FLOAT32_MAX:.4g} the models can use. Those values are treated as "
        "missing; fix them in the file if they are real measurements."
    )
    return np.where(unusable, np.nan, numbers).astype(np.float32)


def _few_positives(y: np.ndarray, t: np.ndarray, outcome: str) -> list[str]:
    """Warnings for arms with so few successes that the effect on `outcome` is mostly noise."""
    warnings = []
    for arm, mask in (("treated", t == 1), ("control", t == 0)):
        positives = int(y[mask].sum())
        if positives < MIN_POSITIVES_PER_ARM:
            warnings.append(
                f"Only {_rows(positives)} of the {arm} arm {'has' if positives == 1 else 'have'} '{outcome}' = 1: the effect on '{outcome}' will be "
                "too uncertain to act on. Use more rows."
            )
    return warnings


def _numbers(values: pd.Series, name: str, role: str, positions: np.ndarray) -> np.ndarray:
    """A column as float64 with NaN where empty; text that is not a number is an error."""
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    if isinstance(values.dtype, pd.CategoricalDtype):
        categories = values.cat.categories
        parsed = pd.to_numeric(pd.Series(categories, dtype=object), errors="coerce").to_numpy(np.float64)
        codes = values.cat.codes.to_numpy()
        numbers = np.append(parsed, np.nan)[codes]  # code -1 (missing) picks the appended NaN
        bad = (codes >= 0) & np.isnan(numbers)
    else:
        text = values.astype(object)
        numbers = pd.to_numeric(text, errors="coerce").to_numpy(np.float64)
        blank = text.isna().to_numpy() | (text.astype(str).str.strip() == "").to_numpy()
        bad = np.isnan(numbers) & ~blank
    if bad.any():
        first = np.argmax(bad)
        raise ImpactIQError(
            f"The {role} '{name}' should hold numbers, but {_row(positions[first])} holds "
            f"{values.iloc[first]!r} ({_rows(bad.sum())} like this). {_NUMBER_FIXES.get(role, 'Fix those values.')}"
        )
    return numbers


def _categories(values: pd.Series) -> tuple[pd.Series, int]:
    """A categorical feature with sorted text categories, and how many rows were empty.

    Text categories make a model trained on one file score another where the same column was
    read as numbers; a fixed order keeps category codes the same from run to run.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.cat.remove_unused_categories()
        labels = values.cat.categories.astype(str)
        if labels.is_unique:
            values = values.cat.rename_categories(labels)
        else:
            values = values.astype(object).astype("str").astype("category")
    elif pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        values = values.astype("category")
        values = values.cat.rename_categories(values.cat.categories.astype(str))
    else:
        values = values.astype("str").astype("category")
    missing = int(values.isna().sum())
    if missing:
        if MISSING_CATEGORY not in values.cat.categories:
            values = values.cat.add_categories(MISSING_CATEGORY)
        values = values.fillna(MISSING_CATEGORY)
    values = values.cat.reorder_categories(sorted(values.cat.categories))
    return values.reset_index(drop=True), missing


def _without_constant(schema: Schema, constant: list[str], warnings: list[str]) -> Schema:
    """The schema without its constant features, with a warning naming them.

    Their columns stay in the frame: a model trained on data where they varied reads them.
    """
    if not constant:
        return schema
    shown = ", ".join(f"'{c}'" for c in constant)
    if len(constant) == len(schema.features):
        raise ImpactIQError(
            f"Every feature ({shown}) has the same value in every treated and control row, so none "
            "can tell people apart. Choose features that vary, or use a larger sample of the experiment."
        )
    warnings.append(
        f"The feature(s) {shown} have the same value in every treated and control row, so they cannot "
        "tell people apart: they were left out of the features."
    )
    return dataclasses.replace(
        schema,
        numeric_features=tuple(c for c in schema.numeric_features if c not in constant),
        categorical_features=tuple(c for c in schema.categorical_features if c not in constant),
    )


def _distinct(values: pd.Series) -> list:
    """The distinct non-missing values of a column, sorted (by text when types are mixed)."""
    distinct = pd.unique(values.dropna().to_numpy())
    try:
        return sorted(distinct)
    except TypeError:
        return sorted(distinct, key=str)


def _values(values) -> str:
    """A short human list of values: 0, 1 and 2 ... or 'Mens E-Mail'."""
    values = [v.item() if isinstance(v, np.generic) else v for v in values]
    shown = [repr(v) if isinstance(v, str) else f"{v:g}" if isinstance(v, float) else str(v) for v in values]
    if len(shown) > SHOWN_VALUES:
        shown = [*shown[:SHOWN_VALUES], f"... ({len(values)} values)"]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]


def _rows(count) -> str:
    """'1 row', '2,500 rows'."""
    count = int(count)
    return f"{count:,} row" if count == 1 else f"{count:,} rows"


def _row(position: int) -> str:
    """A 0-based position in the table as a user finds it in a spreadsheet or a CSV file."""
    return f"row {int(position) + 1} (line {int(position) + 2} of a CSV file)"
