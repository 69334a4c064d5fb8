"""Which column plays which role in an experiment table.

A table is only meaningful once we know its treatment column (and which of its values mean
treated), its outcomes and its features. The Criteo layout is recognised without questions;
any other table is described by a mapping the user chooses on the Data page or on the
command line. Post-treatment columns (Criteo's `exposure`) and the synthetic truth columns
(`tau_*`) are kept out of the features on purpose: using them would leak the answer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from impactiq.errors import ImpactIQError

if TYPE_CHECKING:
    import pandas as pd

CRITEO_FEATURES = tuple(f"f{i}" for i in range(12))
CRITEO_OUTCOMES = ("visit", "conversion")
CRITEO_TREATMENT = "treatment"
# Columns that are known to be measured after treatment; never features.
POST_TREATMENT_COLUMNS = ("exposure",)
# Prefix of the true individual effect columns that only synthetic data carries.
TRUTH_PREFIX = "tau_"


@dataclass(frozen=True)
class Schema:
    """The roles of a table's columns.

    `treated_values` and `control_values` are the treatment column's values that mean treated
    and control; rows with any other value are dropped (so a single arm of a three-arm test
    can be compared with control). `binary_outcomes` is the subset of `outcomes` holding
    0/1 values. `truth` maps an outcome to the column holding its true individual effect.

    `arms`, when not empty, keeps the treated values apart: each is a treatment of its own (a
    channel of a multi-arm experiment), compared with control and with each other, in this
    order; empty means every treated value pools into one treatment. `arm_truth` maps an
    outcome to {arm (as text): column holding that arm's true effect} on synthetic data.
    """

    treatment: str
    treated_values: tuple
    control_values: tuple
    outcomes: tuple[str, ...]
    binary_outcomes: tuple[str, ...]
    numeric_features: tuple[str, ...]
    categorical_features: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    truth: dict[str, str] = field(default_factory=dict)
    arms: tuple = ()
    arm_truth: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def features(self) -> tuple[str, ...]:
        """All feature columns, numeric first, in a fixed order."""
        return self.numeric_features + self.categorical_features

    def is_binary(self, outcome: str) -> bool:
        """Whether `outcome` holds 0/1 values (a rate) rather than an amount."""
        return outcome in self.binary_outcomes

    def to_dict(self) -> dict:
        """A JSON-ready description (tuples become lists, numpy scalars Python numbers)."""
        return {k: (list(_plain(v)) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> Schema:
        """The inverse of `to_dict`."""
        kwargs = {k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items()}
        return cls(**kwargs)


def detect_criteo(columns) -> Schema | None:
    """The Criteo schema when `columns` hold its layout, else None.

    Extra columns are allowed: `tau_<outcome>` columns become the truth of synthetic data and
    `exposure` is excluded as post-treatment.
    """
    names = set(columns)
    required = set(CRITEO_FEATURES) | {CRITEO_TREATMENT}
    outcomes = tuple(o for o in CRITEO_OUTCOMES if o in names)
    if not required <= names or not outcomes:
        return None
    truth = {o: TRUTH_PREFIX + o for o in outcomes if TRUTH_PREFIX + o in names}
    excluded = tuple(c for c in POST_TREATMENT_COLUMNS if c in names)
    return Schema(
        treatment=CRITEO_TREATMENT,
        treated_values=(1,),
        control_values=(0,),
        outcomes=outcomes,
        binary_outcomes=outcomes,
        numeric_features=CRITEO_FEATURES,
        excluded=excluded,
        truth=truth,
    )


def suggest_treated_values(values) -> tuple[tuple, tuple] | None:
    """A default (treated, control) split of a treatment column's distinct values, or None.

    Two values with an obvious reading (0/1, False/True, control/treatment, 'No ...' versus
    anything) are split without asking; anything else needs the user's choice.
    """
    import pandas as pd  # here, not at the top: loading a saved model reads a Schema without pandas

    values = [v for v in _plain(values) if not pd.isna(v)]
    if len(values) < 2:
        return None
    controls = [v for v in values if _means_control(v)]
    if len(controls) == 1:
        treated = tuple(v for v in values if v != controls[0])
        return treated, (controls[0],)
    return None


def _means_control(value) -> bool:
    """Whether a treatment value reads as 'not treated': 0 (also 0.0), False, 'No E-Mail'."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value == 0
    control_words = ("no", "none", "control", "ctrl", "0", "false", "holdout", "untreated")
    return str(value).strip().lower().split(" ")[0] in control_words


def build_schema(
    df: pd.DataFrame,
    *,
    treatment: str,
    treated_values,
    control_values,
    outcomes,
    features=None,
    separate_arms: bool = False,
) -> Schema:
    """A schema for a non-Criteo table from the user's choices.

    Feature types are read from the data: numbers are numeric features, anything else
    categorical. When `features` is None every remaining column is a feature except
    post-treatment and truth columns. With `separate_arms` each treated value is an arm of
    its own (at least two are needed), and `tau_<outcome>_<arm>` columns are its true effects.
    Raises ImpactIQError naming the column when a chosen column is missing or a column has
    two roles.
    """
    columns = list(df.columns)
    outcomes = tuple(outcomes)
    for role, name in [("treatment", treatment), *[("outcome", o) for o in outcomes]]:
        if name not in columns:
            raise ImpactIQError(
                f"The {role} column '{name}' is not in the table. Columns found: "
                f"{', '.join(map(str, columns[:20]))}. Choose one of these, or fix the header row."
            )
    if not outcomes:
        raise ImpactIQError("Choose at least one outcome column (for example 'visit').")
    if treatment in outcomes:
        raise ImpactIQError(f"Column '{treatment}' cannot be both the treatment and an outcome.")
    treated_values, control_values = _plain(treated_values), _plain(control_values)
    if not treated_values or not control_values:
        raise ImpactIQError(
            f"Choose which values of '{treatment}' mean treated and which mean control: "
            "both groups need at least one value."
        )
    overlap = set(treated_values) & set(control_values)
    if overlap:
        raise ImpactIQError(
            f"Value(s) {sorted(map(str, overlap))} of '{treatment}' are marked both treated and "
            "control; give each value one role."
        )
    if separate_arms and len({arm_label(v) for v in treated_values}) != len(treated_values):
        raise ImpactIQError(f"Each arm of '{treatment}' must be named once; the arms given repeat a value.")
    if separate_arms and len(treated_values) < 2:
        raise ImpactIQError(
            f"Separate arms need two or more treated values of '{treatment}'; with one, it is a plain "
            "treated-versus-control experiment."
        )
    arms = treated_values if separate_arms else ()
    # A post-treatment column may be studied as an outcome; it is excluded only as a feature.
    excluded = tuple(c for c in columns if c in POST_TREATMENT_COLUMNS and c not in outcomes)
    truth = {o: TRUTH_PREFIX + o for o in outcomes if TRUTH_PREFIX + o in columns}
    arm_truth = {
        o: {
            arm_label(a): f"{TRUTH_PREFIX}{o}_{arm_label(a)}"
            for a in arms
            if f"{TRUTH_PREFIX}{o}_{arm_label(a)}" in columns
        }
        for o in outcomes
    }
    arm_truth = {o: columns_by_arm for o, columns_by_arm in arm_truth.items() if columns_by_arm}
    arm_truth_columns = [c for by_arm in arm_truth.values() for c in by_arm.values()]
    reserved = {treatment, *outcomes, *excluded, *truth.values(), *arm_truth_columns}
    if features is None:
        # Any true-effect column (another outcome's, another arm's) is the answer, never a feature.
        features = [c for c in columns if c not in reserved and not str(c).startswith(TRUTH_PREFIX)]
    features = list(features)
    for name in features:
        if name not in columns:
            raise ImpactIQError(
                f"The feature column '{name}' is not in the table; remove it from the features."
            )
        if name in reserved:
            raise ImpactIQError(
                f"Column '{name}' cannot be a feature: it is the treatment, an outcome, a "
                "post-treatment column or a true-effect column. Remove it from the features."
            )
    numeric = tuple(c for c in features if _is_number(df[c]))
    categorical = tuple(c for c in features if c not in numeric)
    binary = tuple(o for o in outcomes if _looks_binary(df[o]))
    return Schema(
        treatment=treatment,
        treated_values=treated_values,
        control_values=control_values,
        outcomes=outcomes,
        binary_outcomes=binary,
        numeric_features=numeric,
        categorical_features=categorical,
        excluded=excluded,
        truth=truth,
        arms=arms,
        arm_truth=arm_truth,
    )


def arm_label(value) -> str:
    """An arm's name as text. A float column holds 2.0 where the user wrote 2: the arm is '2',
    so its columns read `uplift_2` and `tau_<outcome>_2`, as a person would name them."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _plain(values) -> tuple:
    """Values as plain Python objects: numpy scalars from a DataFrame do not go into JSON."""
    return tuple(v.item() if isinstance(v, np.generic) else v for v in values)


def _looks_binary(column: pd.Series) -> bool:
    """Whether a column's non-missing values are all 0 or 1 (booleans included)."""
    import pandas as pd

    if not (pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)):
        return False
    values = set(pd.unique(column.dropna()).astype(float))
    return bool(values) and values <= {0.0, 1.0}


def _is_number(column: pd.Series) -> bool:
    """Whether a column holds numbers (booleans count as categories, not numbers)."""
    import pandas as pd

    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def restrict_features(schema: Schema, features) -> Schema:
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
