"""The demo experiments: shipped files intact, loaded and validated like uploads."""

from __future__ import annotations

import gzip
import hashlib

import numpy as np
import pandas as pd
import pytest

from impactiq.data.demo import (
    CRITEO_SAMPLE_FILE,
    DEMO_DATASETS,
    HILLSTROM_ARMS,
    HILLSTROM_FILE,
    load_demo,
)
from impactiq.errors import ImpactIQError


@pytest.mark.parametrize(
    ("path", "sha256"),
    [
        (HILLSTROM_FILE, "1bcbb5b3aeb0c7059506ddeda3072f09a14d0c3f05f0330f762a60601303140e"),
        (CRITEO_SAMPLE_FILE, "3177ba5085da27f2092bae08f6318e3908a23e38965040432dd8889b688a71a7"),
    ],
)
def test_shipped_files_match_their_readme_checksums(path, sha256):
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sha256


def test_hillstrom_file_is_the_published_csv():
    lines = gzip.decompress(HILLSTROM_FILE.read_bytes()).decode().splitlines()
    assert (
        lines[0]
        == "recency,history_segment,history,mens,womens,zip_code,newbie,channel,segment,visit,conversion,spend"
    )
    assert len(lines) == 64_001


def test_every_demo_is_described():
    assert set(DEMO_DATASETS) == {"synthetic", "hillstrom", "multichannel", "criteo_sample"}
    assert "too small" in DEMO_DATASETS["criteo_sample"]


def test_the_multichannel_demo_keeps_every_channel_an_arm_with_its_truth():
    experiment = load_demo("multichannel", n_rows=4_000, seed=2)
    assert experiment.arm_names == ("email", "social", "display")
    assert experiment.schema.control_values == ("none",)
    assert experiment.arm_tau("conversion", "social") is not None
    assert not any(f.startswith("tau_") for f in experiment.schema.features)


def test_hillstrom_separate_keeps_both_e_mails_as_arms():
    experiment = load_demo("hillstrom", arm="separate")
    assert experiment.arm_names == ("Mens E-Mail", "Womens E-Mail")
    assert experiment.n_rows == 64_000 and "and" in experiment.name


def test_synthetic_demo_carries_the_truth():
    experiment = load_demo("synthetic", n_rows=5_000, seed=3)
    assert experiment.n_rows == 5_000
    assert experiment.schema.truth == {"visit": "tau_visit", "conversion": "tau_conversion"}
    assert "exposure" not in experiment.frame.columns
    assert "exposure" not in experiment.schema.features
    assert any("exposure" in w for w in experiment.warnings)
    assert experiment.t.mean() == pytest.approx(0.85, abs=0.02)
    assert experiment.tau("visit").mean() == pytest.approx(0.0103, abs=0.002)
    assert list(experiment.X.columns) == [f"f{i}" for i in range(12)]


def test_synthetic_demo_is_reproducible():
    first, second = load_demo("synthetic", n_rows=1_000, seed=1), load_demo("synthetic", n_rows=1_000, seed=1)
    assert first.frame.equals(second.frame)
    assert not first.frame.equals(load_demo("synthetic", n_rows=1_000, seed=2).frame)


@pytest.mark.parametrize(
    ("arm", "rows", "treated_rows", "dropped"),
    [("any", 64_000, 42_694, None), ("mens", 42_613, 21_307, "21,387"), ("womens", 42_693, 21_387, "21,307")],
)
def test_hillstrom_arms(arm, rows, treated_rows, dropped):
    experiment = load_demo("hillstrom", arm=arm)
    assert experiment.n_rows == rows
    assert int(experiment.t.sum()) == treated_rows
    assert experiment.schema.treated_values == HILLSTROM_ARMS[arm]
    assert experiment.schema.control_values == ("No E-Mail",)
    if dropped is None:
        assert experiment.warnings == []
    else:
        assert any(dropped in w and "left out" in w for w in experiment.warnings)


def test_hillstrom_roles():
    schema = load_demo("hillstrom").schema
    assert schema.treatment == "segment"
    assert schema.outcomes == ("visit", "conversion", "spend")
    assert schema.binary_outcomes == ("visit", "conversion")
    assert schema.numeric_features == ("recency", "history", "mens", "womens", "newbie")
    assert schema.categorical_features == ("history_segment", "zip_code", "channel")
    assert schema.truth == {}


def test_hillstrom_is_validated_like_an_upload():
    """prepare_experiment's compaction: float32 numeric features, text categories, int8 0/1 outcomes."""
    experiment = load_demo("hillstrom")
    frame = experiment.frame
    assert frame["history"].dtype == np.float32
    assert list(frame["zip_code"].cat.categories) == ["Rural", "Surburban", "Urban"]
    assert frame["visit"].dtype == np.int8
    # A reader independent of ImpactIQ's sees the same amounts.
    assert experiment.y("spend").sum() == pytest.approx(pd.read_csv(HILLSTROM_FILE)["spend"].sum(), abs=1e-6)
    assert experiment.tau("visit") is None


def test_criteo_sample_loads_and_says_it_is_too_small():
    experiment = load_demo("criteo_sample")
    assert experiment.n_rows == 1_000
    assert int(experiment.t.sum()) == 863
    assert experiment.schema.excluded == ("exposure",)
    assert experiment.schema.truth == {}
    assert "effects are noise" in experiment.warnings[0]
    assert experiment.y("conversion").sum() == 2


def test_unknown_demo_lists_the_names():
    with pytest.raises(ImpactIQError, match="synthetic, hillstrom, multichannel, criteo_sample"):
        load_demo("criteo_full")


def test_unknown_arm_lists_the_arms():
    with pytest.raises(ImpactIQError, match="any, mens, womens, separate"):
        load_demo("hillstrom", arm="kids")


def test_bad_row_count_is_a_user_error():
    with pytest.raises(ImpactIQError, match="n_rows"):
        load_demo("synthetic", n_rows=0)
