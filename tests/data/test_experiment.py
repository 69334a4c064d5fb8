import dataclasses

import numpy as np
import pandas as pd
import pytest

from impactiq.data.experiment import MIN_ROWS_PER_ARM, MISSING_CATEGORY, Experiment, prepare_experiment
from impactiq.data.reader import read_table
from impactiq.data.schema import CRITEO_FEATURES, build_schema
from impactiq.errors import ImpactIQError

ARMS = ("Mens E-Mail", "Womens E-Mail", "No E-Mail")


def criteo_frame(n_rows: int = 400, seed: int = 0) -> pd.DataFrame:
    """The Criteo layout with alternating arms (200 treated, 200 control) and common outcomes."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"f{i}": rng.normal(10, 3, n_rows) for i in range(12)})
    frame["treatment"] = (np.arange(n_rows) % 2).astype(np.int8)
    frame["conversion"] = (rng.random(n_rows) < 0.1).astype(np.int8)
    frame["visit"] = (rng.random(n_rows) < 0.3).astype(np.int8)
    frame["exposure"] = (frame["treatment"] * (rng.random(n_rows) < 0.5)).astype(np.int8)
    return frame


def hillstrom_frame(n_rows: int = 300, seed: int = 0) -> pd.DataFrame:
    """Hillstrom's columns with its three arms taking turns (100 rows each)."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "recency": rng.integers(1, 13, n_rows),
            "history": rng.gamma(2, 100, n_rows).round(2),
            "zip_code": pd.Categorical(rng.choice(["Surburban", "Rural", "Urban"], n_rows)),
            "channel": rng.choice(["Phone", "Web", "Multichannel"], n_rows).astype(object),
            "segment": pd.Categorical([ARMS[i % 3] for i in range(n_rows)]),
            "visit": (rng.random(n_rows) < 0.2).astype(np.int8),
            "spend": np.where(rng.random(n_rows) < 0.1, rng.gamma(2, 50, n_rows).round(2), 0.0),
        }
    )


def hillstrom_schema(
    frame, treated=("Mens E-Mail",), control=("No E-Mail",), outcomes=("visit", "spend"), **kwargs
):
    return build_schema(
        frame,
        treatment="segment",
        treated_values=treated,
        control_values=control,
        outcomes=outcomes,
        **kwargs,
    )


def error_message(frame, schema=None) -> str:
    with pytest.raises(ImpactIQError) as info:
        prepare_experiment(frame, schema)
    return str(info.value)


def test_criteo_layout_is_detected_and_compacted():
    frame = criteo_frame()
    experiment = prepare_experiment(frame, name="criteo")
    assert isinstance(experiment, Experiment) and experiment.name == "criteo"
    assert experiment.schema.features == CRITEO_FEATURES
    assert experiment.schema.outcomes == ("visit", "conversion")
    assert list(experiment.frame.columns) == ["treatment", "visit", "conversion", *CRITEO_FEATURES]
    assert experiment.t.dtype == np.int8
    np.testing.assert_array_equal(experiment.t, frame["treatment"])
    assert (experiment.X.dtypes == np.float32).all()
    np.testing.assert_allclose(experiment.X.to_numpy(), frame[list(CRITEO_FEATURES)], rtol=1e-6)
    assert experiment.frame["visit"].dtype == np.int8 and experiment.frame["conversion"].dtype == np.int8
    np.testing.assert_array_equal(experiment.y("visit"), frame["visit"].astype(float))
    assert experiment.tau("visit") is None
    assert experiment.warnings == [
        "'exposure' is measured after treatment and is kept out of the features (using it would leak the result)."
    ]


def test_truth_columns_are_kept_for_synthetic_data():
    frame = criteo_frame()
    frame["tau_visit"] = np.linspace(-0.1, 0.3, len(frame))
    experiment = prepare_experiment(frame)
    assert experiment.frame["tau_visit"].dtype == np.float32
    np.testing.assert_allclose(experiment.tau("visit"), frame["tau_visit"], rtol=1e-6)
    assert experiment.tau("conversion") is None


def test_a_table_not_in_criteo_layout_needs_a_mapping():
    message = error_message(criteo_frame().drop(columns=["f5", "visit", "conversion"]))
    assert "not in the Criteo layout" in message
    assert "'f5', 'visit or conversion'" in message
    assert "choose the treatment column" in message


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"treatment": "arm"}, "The treatment column 'arm' is not in the table. Columns found: recency"),
        ({"outcomes": ("visit", "buy")}, "The outcome column 'buy' is not in the table"),
        ({"numeric_features": ("recency", "age")}, "The feature column 'age' is not in the table"),
        (
            {"numeric_features": ("recency", "visit")},
            r"Column 'visit' is given two roles \(outcome and feature\)",
        ),
        ({"outcomes": ()}, "Choose at least one outcome"),
        ({"numeric_features": (), "categorical_features": ()}, "Choose at least one feature"),
    ],
)
def test_columns_named_by_the_schema_must_exist_with_one_role(change, match):
    frame = hillstrom_frame()
    schema = dataclasses.replace(hillstrom_schema(frame), **change)
    with pytest.raises(ImpactIQError, match=match):
        prepare_experiment(frame, schema)


def test_a_column_name_twice_in_the_table_is_refused():
    frame = hillstrom_frame()
    schema = hillstrom_schema(frame)
    frame.columns = ["recency", "history", "zip_code", "history", "segment", "visit", "spend"]
    with pytest.raises(ImpactIQError, match="more than one column named 'history'"):
        prepare_experiment(frame, schema)


@pytest.mark.parametrize(("value", "shown"), [(2, "2"), (-1, "-1")])
def test_criteo_treatment_other_than_0_1_is_an_error_listing_values(value, shown):
    frame = criteo_frame()
    frame.loc[[16, 40], "treatment"] = value
    with pytest.raises(ImpactIQError) as info:
        prepare_experiment(frame)
    assert (
        f"should hold only 0 (control) and 1 (treated), but it also holds {shown} in 2 rows "
        "(first: row 17 (line 18 of a CSV file))"
    ) in str(info.value)


@pytest.mark.parametrize(
    ("treated", "dropped"),
    [
        (("Mens E-Mail", "Womens E-Mail"), None),
        (("Mens E-Mail",), "Womens E-Mail"),
        (("Womens E-Mail",), "Mens E-Mail"),
    ],
)
def test_three_arm_test_keeps_the_chosen_arms(treated, dropped):
    frame = hillstrom_frame()
    experiment = prepare_experiment(frame, hillstrom_schema(frame, treated=treated))
    kept = frame[frame["segment"] != dropped].reset_index(drop=True)
    assert experiment.n_rows == len(kept)
    np.testing.assert_array_equal(experiment.t, kept["segment"].isin(treated).astype(np.int8))
    assert list(experiment.frame.index) == list(range(len(kept)))
    if dropped is None:
        assert experiment.warnings == []
    else:
        assert experiment.warnings == [
            f"100 rows whose 'segment' is '{dropped}' are neither treated nor control and were left out."
        ]
        assert list(experiment.frame["segment"].cat.categories) == sorted(set(ARMS) - {dropped})
    # The naive effect from the experiment equals the one computed by hand on the table.
    for outcome in ("visit", "spend"):
        by_hand = (
            kept.loc[kept["segment"].isin(treated), outcome].mean()
            - kept.loc[kept["segment"] == "No E-Mail", outcome].mean()
        )
        y, t = experiment.y(outcome), experiment.t
        assert y[t == 1].mean() - y[t == 0].mean() == pytest.approx(by_hand, rel=1e-12)


def test_continuous_outcome_keeps_full_precision():
    frame = hillstrom_frame()
    experiment = prepare_experiment(frame, hillstrom_schema(frame))
    assert experiment.frame["spend"].dtype == np.float64
    kept = frame[frame["segment"] != "Womens E-Mail"]
    np.testing.assert_array_equal(experiment.y("spend"), kept["spend"])


def test_row_numbers_count_rows_of_the_whole_table():
    frame = hillstrom_frame()
    frame["visit"] = frame["visit"].astype(float)
    frame.loc[[1, 9], "visit"] = np.nan  # row 2 is a Womens row, left out; row 10 is a Mens row
    with pytest.raises(
        ImpactIQError, match=r"'visit' is empty in 1 row of the treated and control arms \(first: row 10 \("
    ):
        prepare_experiment(frame, hillstrom_schema(frame))


@pytest.mark.parametrize(
    ("arm", "change"),
    [("treated", {"treated_values": ("Mens email",)}), ("control", {"control_values": ("none",)})],
)
def test_an_empty_arm_lists_the_values_present(arm, change):
    frame = hillstrom_frame()
    schema = dataclasses.replace(hillstrom_schema(frame), **change)
    value = next(iter(change.values()))[0]
    message = error_message(frame, schema)
    assert f"The {arm} arm is empty: no row has 'segment' equal to '{value}'" in message
    assert "holds 'Mens E-Mail', 'No E-Mail' and 'Womens E-Mail'" in message


@pytest.mark.parametrize("layout", ["criteo", "hillstrom"])
def test_missing_treatment_values_are_refused(layout):
    frame = criteo_frame() if layout == "criteo" else hillstrom_frame()
    schema = None if layout == "criteo" else hillstrom_schema(frame)
    column = schema.treatment if schema else "treatment"
    if layout == "criteo":
        frame[column] = frame[column].astype(float)
    frame.loc[[4, 9], column] = np.nan
    with pytest.raises(
        ImpactIQError, match=rf"'{column}' is empty in 2 rows \(first: row 5 \(line 6 of a CSV file\)\)"
    ):
        prepare_experiment(frame, schema)


@pytest.mark.parametrize(
    ("arm", "n_rows"), [("treated", MIN_ROWS_PER_ARM - 1), ("control", 20), ("control", 1)]
)
def test_too_few_rows_in_an_arm(arm, n_rows):
    frame = criteo_frame()
    other = 0 if arm == "treated" else 1
    frame = pd.concat([frame[frame["treatment"] == other], frame[frame["treatment"] != other].head(n_rows)])
    rows = "1 row" if n_rows == 1 else f"{n_rows} rows"
    with pytest.raises(ImpactIQError, match=rf"The {arm} arm has only {rows}; at least {MIN_ROWS_PER_ARM}"):
        prepare_experiment(frame)


def test_thirty_rows_per_arm_are_enough():
    frame = criteo_frame(n_rows=2 * MIN_ROWS_PER_ARM, seed=3)
    assert prepare_experiment(frame).n_rows == 2 * MIN_ROWS_PER_ARM


def test_missing_outcome_says_how_many_and_where():
    frame = criteo_frame()
    frame["visit"] = frame["visit"].astype(float)
    frame.loc[[6, 7, 300], "visit"] = np.nan
    with pytest.raises(
        ImpactIQError,
        match=r"The outcome 'visit' is empty in 3 rows of the treated and control arms \(first: row 7 \(line 8",
    ):
        prepare_experiment(frame)


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({8: 2}, r"'visit' should hold only 0 and 1 but also holds 2 \(first: row 9 \("),
        ({8: 2, 3: -1}, r"also holds -1 and 2 \(first: row 4 \("),
        ({5: 0.5}, r"also holds 0.5 \(first: row 6 \("),
    ],
)
def test_binary_outcome_with_other_values_names_them(values, match):
    frame = criteo_frame()
    frame["visit"] = frame["visit"].astype(float)
    for position, value in values.items():
        frame.loc[position, "visit"] = value
    with pytest.raises(ImpactIQError, match=match):
        prepare_experiment(frame)


def test_outcome_written_as_words_is_refused():
    frame = criteo_frame()
    frame["visit"] = np.where(frame["visit"] == 1, "yes", "no")
    with pytest.raises(
        ImpactIQError,
        match=r"The outcome 'visit' should hold numbers, but row 1 \(line 2 .*\) holds 'yes' \(400 rows like this\). Recode the outcome as numbers",
    ):
        prepare_experiment(frame)


def test_infinite_amount_is_refused():
    frame = hillstrom_frame()
    frame.loc[3, "spend"] = np.inf
    with pytest.raises(
        ImpactIQError, match=r"The outcome 'spend' is infinite \(inf\) in 1 row \(first: row 4 "
    ):
        prepare_experiment(frame, hillstrom_schema(frame, treated=ARMS[:2]))


@pytest.mark.parametrize("dtype", [object, "category", "str"])
def test_text_in_a_numeric_feature_names_column_row_and_value(dtype):
    frame = criteo_frame()
    f3 = frame["f3"].astype(str).astype(object)
    f3[16] = "abc"
    f3[30] = "n/a?"
    frame["f3"] = f3.astype(dtype)
    with pytest.raises(
        ImpactIQError,
        match=r"The numeric feature 'f3' should hold numbers, but row 17 \(line 18 of a CSV file\) holds 'abc' "
        r"\(2 rows like this\).*categorical feature",
    ):
        prepare_experiment(frame)


@pytest.mark.parametrize("dtype", [object, "category", "str"])
def test_numbers_stored_as_text_are_numbers(dtype):
    frame = criteo_frame()
    expected = frame["f3"].to_numpy(np.float32)
    text = frame["f3"].astype(str).astype(object)
    text[5] = None
    expected[5] = np.nan
    frame["f3"] = text.astype(dtype)
    experiment = prepare_experiment(frame)
    np.testing.assert_array_equal(experiment.frame["f3"], expected)


def test_missing_numeric_features_are_kept_and_counted():
    frame = criteo_frame()
    frame.loc[[1, 2, 3, 4, 5], "f2"] = np.nan
    frame.loc[[9], "f7"] = np.nan
    experiment = prepare_experiment(frame)
    assert int(np.isnan(experiment.frame["f2"]).sum()) == 5
    assert (
        "Missing values in numeric features 'f2' (5 rows), 'f7' (1 row): the models treat them as unknown "
        "rather than dropping the rows."
    ) in experiment.warnings


def test_categorical_features_get_sorted_text_categories_and_a_missing_category():
    frame = hillstrom_frame()
    frame["channel"] = frame["channel"].astype(object)
    frame.loc[[0, 3, 4], "channel"] = None
    frame["recency"] = frame["recency"].astype(np.int64)
    schema = dataclasses.replace(
        hillstrom_schema(frame),
        numeric_features=("history",),
        categorical_features=("recency", "zip_code", "channel"),
    )
    experiment = prepare_experiment(frame, schema)
    channel = experiment.frame["channel"]
    assert list(channel.cat.categories) == sorted(["Multichannel", "Phone", "Web", MISSING_CATEGORY])
    assert channel.iloc[0] == MISSING_CATEGORY and channel.iloc[2] == MISSING_CATEGORY  # rows 0 and 3 kept
    assert experiment.warnings[-1] == (
        "The categorical feature 'channel' is empty in 2 rows; those rows get the category 'missing'."
    )
    recency = experiment.frame["recency"]
    assert list(recency.cat.categories) == sorted(str(v) for v in range(1, 13))
    kept = frame["segment"] != "Womens E-Mail"
    assert recency.astype(str).tolist() == frame.loc[kept, "recency"].astype(str).tolist()
    assert list(experiment.frame["zip_code"].cat.categories) == ["Rural", "Surburban", "Urban"]


LEFT_OUT = "have the same value in every treated and control row, so they cannot tell people apart"


@pytest.mark.parametrize(
    ("column", "value"), [("history", 5.0), ("history", np.nan), ("channel", "Web"), ("zip_code", "Rural")]
)
def test_a_constant_feature_the_user_chose_is_left_out_with_a_warning(column, value):
    frame = hillstrom_frame()
    frame[column] = value
    schema = hillstrom_schema(frame)
    assert column in schema.features
    experiment = prepare_experiment(frame, schema)
    assert experiment.schema.features == tuple(c for c in schema.features if c != column)
    assert list(experiment.X.columns) == list(experiment.schema.features)
    assert f"The feature(s) '{column}' {LEFT_OUT}: they were left out of the features." in experiment.warnings
    # The column stays in the frame: a model trained where it varied can still score these rows.
    assert column in experiment.frame.columns


def test_a_feature_constant_only_in_the_kept_arms_is_left_out():
    frame = hillstrom_frame()
    frame["recency"] = np.where(frame["segment"] == "Womens E-Mail", 99, 7)
    experiment = prepare_experiment(frame, hillstrom_schema(frame))
    assert "recency" not in experiment.schema.features
    assert any("'recency'" in w and LEFT_OUT in w for w in experiment.warnings)


def test_a_constant_feature_of_the_criteo_layout_is_left_out_with_a_warning():
    frame = criteo_frame()
    frame["f1"] = 10.059654474774549
    frame["f11"] = -0.1686792210005612
    experiment = prepare_experiment(frame)
    assert experiment.schema.features == tuple(c for c in CRITEO_FEATURES if c not in ("f1", "f11"))
    assert list(experiment.X.columns) == list(experiment.schema.features)
    assert (
        f"The feature(s) 'f1', 'f11' {LEFT_OUT}: they were left out of the features." in experiment.warnings
    )


@pytest.mark.parametrize("mapped", [False, True])
def test_a_table_whose_every_feature_is_constant_is_an_error(mapped):
    frame = criteo_frame()
    frame[list(CRITEO_FEATURES)] = 1.0
    schema = None
    if mapped:
        schema = build_schema(
            frame,
            treatment="treatment",
            treated_values=[1],
            control_values=[0],
            outcomes=["visit"],
            features=CRITEO_FEATURES,
        )
    with pytest.raises(
        ImpactIQError,
        match=r"Every feature \('f0', .*\) has the same value in every treated and control row.*vary",
    ):
        prepare_experiment(frame, schema)


def test_few_positive_outcomes_in_an_arm_give_a_warning():
    frame = criteo_frame()
    control = frame["treatment"] == 0
    frame.loc[control, "conversion"] = 0
    frame.loc[frame.index[control][:3], "conversion"] = 1
    experiment = prepare_experiment(frame)
    assert (
        "Only 3 rows of the control arm have 'conversion' = 1: the effect on 'conversion' will be too uncertain to act on. "
        "Use more rows."
    ) in experiment.warnings
    assert not any("treated arm" in w or "'visit' = 1" in w for w in experiment.warnings)


@pytest.mark.parametrize(
    ("column_values", "treated", "control"),
    [((1, 0), ("1",), ("0",)), (("1", "0"), (1,), (0,)), ((True, False), (True,), (False,))],
)
def test_treatment_values_match_across_text_and_numbers(column_values, treated, control):
    frame = hillstrom_frame()
    frame["arm"] = np.where(np.arange(len(frame)) % 2 == 0, *column_values)
    schema = build_schema(
        frame, treatment="arm", treated_values=treated, control_values=control, outcomes=["visit"]
    )
    experiment = prepare_experiment(frame, schema)
    np.testing.assert_array_equal(experiment.t, (np.arange(len(frame)) % 2 == 0).astype(np.int8))


def test_read_and_prepare_a_criteo_csv():
    frame = criteo_frame()
    experiment = prepare_experiment(read_table(frame.to_csv(index=False).encode(), filename="criteo.csv"))
    np.testing.assert_array_equal(experiment.t, frame["treatment"])
    np.testing.assert_allclose(experiment.X.to_numpy(), frame[list(CRITEO_FEATURES)], rtol=1e-6)


def test_read_and_prepare_a_hillstrom_csv_with_a_text_value_in_a_number_column():
    frame = hillstrom_frame()
    frame["history"] = frame["history"].astype(object)
    frame.loc[41, "history"] = "$1,000"
    table = read_table(frame.to_csv(index=False).encode(), filename="hillstrom.csv")
    with pytest.raises(
        ImpactIQError, match=r"'history' should hold numbers, but row 42 \(line 43 .*\) holds '\$1,000'"
    ):
        schema = dataclasses.replace(
            hillstrom_schema(table), numeric_features=("history", "recency"), categorical_features=()
        )
        prepare_experiment(table, schema)


def test_a_feature_that_is_one_number_or_missing_is_kept():
    frame = criteo_frame()
    frame["f4"] = np.where(np.arange(len(frame)) % 3 == 0, 1.0, np.nan)
    experiment = prepare_experiment(frame)
    assert "f4" in experiment.schema.features
    assert not any("same value" in w for w in experiment.warnings)
    assert any("'f4' (266 rows)" in w for w in experiment.warnings)


@pytest.mark.parametrize("bad", [np.inf, -np.inf, 1e39, -3.5e38])
def test_a_feature_value_a_model_cannot_use_becomes_missing_with_a_warning(bad):
    frame = criteo_frame()
    frame.loc[[4, 9], "f3"] = bad
    experiment = prepare_experiment(frame)
    f3 = experiment.frame["f3"].to_numpy()
    assert np.isnan(f3[[4, 9]]).all() and np.isfinite(np.delete(f3, [4, 9])).all()
    assert "f3" in experiment.schema.features
    warning = next(w for w in experiment.warnings if w.startswith("The numeric feature 'f3'"))
    assert f"{bad:g} in 2 rows (first: row 5 (line 6 of a CSV file))" in warning
    assert "treated as missing" in warning


def test_the_largest_float32_is_still_a_number():
    frame = criteo_frame()
    frame.loc[0, "f3"] = float(np.finfo(np.float32).max)
    experiment = prepare_experiment(frame)
    assert experiment.frame["f3"].iloc[0] == np.finfo(np.float32).max
    assert not any("'f3' holds" in w for w in experiment.warnings)


def test_a_feature_with_only_unusable_values_is_left_out():
    frame = criteo_frame()
    frame["f5"] = np.inf
    experiment = prepare_experiment(frame)
    assert "f5" not in experiment.schema.features
    assert any(w.startswith("The numeric feature 'f5' holds inf in 400 rows") for w in experiment.warnings)
    assert any("'f5'" in w and LEFT_OUT in w for w in experiment.warnings)


def test_unusable_values_read_from_a_csv_become_missing():
    frame = criteo_frame()
    frame["f2"] = frame["f2"].astype(object)
    frame.loc[1, "f2"] = "inf"
    frame.loc[2, "f2"] = "1e39"
    experiment = prepare_experiment(read_table(frame.to_csv(index=False).encode(), filename="x.csv"))
    assert np.isnan(experiment.frame["f2"].iloc[[1, 2]]).all()
    assert any(
        w.startswith("The numeric feature 'f2' holds 1e+39 and inf in 2 rows") for w in experiment.warnings
    )


def test_warnings_of_the_reader_come_first():
    raw = criteo_frame().rename(columns={"exposure": "exposé"}).to_csv(index=False).encode("latin-1")
    experiment = prepare_experiment(read_table(raw, filename="latin.csv"))
    assert experiment.warnings[0].startswith("'latin.csv' is not UTF-8 text; it was read as Windows-1252")


def test_the_experiment_does_not_change_with_the_table_it_came_from():
    frame = hillstrom_frame()
    experiment = prepare_experiment(frame, hillstrom_schema(frame))
    before = experiment.frame.copy()
    frame.loc[:, "spend"] = -1.0
    frame.loc[:, "history"] = -1.0
    frame.loc[:, "segment"] = "No E-Mail"
    pd.testing.assert_frame_equal(experiment.frame, before)


def _three_arm_table(n_per_arm: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    arms = np.repeat(["none", "email", "social"], n_per_arm)
    return pd.DataFrame(
        {
            "channel": arms,
            "x": rng.normal(size=arms.size),
            "y": rng.integers(0, 2, arms.size),
            "tau_y_email": 0.01,
            "tau_y_social": np.linspace(0, 0.1, arms.size),
        }
    )


def test_separate_arms_give_each_row_its_arm_and_each_arm_its_truth():
    table = _three_arm_table()
    schema = build_schema(
        table,
        treatment="channel",
        treated_values=["email", "social"],
        control_values=["none"],
        outcomes=["y"],
        separate_arms=True,
    )
    experiment = prepare_experiment(table, schema)
    assert experiment.arm_names == ("email", "social")
    np.testing.assert_array_equal(experiment.arm, np.repeat([0, 1, 2], 40))
    np.testing.assert_array_equal(experiment.t, experiment.arm > 0)
    np.testing.assert_allclose(experiment.arm_tau("y", "social"), table["tau_y_social"], rtol=1e-6)
    assert experiment.arm_tau("y", "display") is None
    assert "tau_y_email" not in experiment.schema.features


def test_a_pooled_experiment_has_no_arms():
    table = _three_arm_table()
    schema = build_schema(
        table,
        treatment="channel",
        treated_values=["email", "social"],
        control_values=["none"],
        outcomes=["y"],
    )
    assert prepare_experiment(table, schema).arm is None


def test_an_arm_with_too_few_rows_is_refused_by_name():
    table = _three_arm_table()
    table = table[~((table["channel"] == "social") & (table.index % 40 > 5))]
    schema = build_schema(
        table,
        treatment="channel",
        treated_values=["email", "social"],
        control_values=["none"],
        outcomes=["y"],
        separate_arms=True,
    )
    with pytest.raises(ImpactIQError, match="arm 'social' of 'channel' has only 6 rows"):
        prepare_experiment(table, schema)


def test_arms_coded_as_floats_are_named_as_written():
    table = _three_arm_table()
    table["channel"] = table["channel"].map({"none": 0.0, "email": 1.0, "social": 2.0})
    table = table.rename(columns={"tau_y_email": "tau_y_1", "tau_y_social": "tau_y_2"})
    schema = build_schema(
        table,
        treatment="channel",
        treated_values=[np.float64(1.0), np.float64(2.0)],
        control_values=[np.float64(0.0)],
        outcomes=["y"],
        separate_arms=True,
    )
    experiment = prepare_experiment(table, schema)
    assert experiment.arm_names == ("1", "2")
    np.testing.assert_allclose(experiment.arm_tau("y", "2"), table["tau_y_2"], rtol=1e-6)
    assert "tau_y_1" not in experiment.schema.features
