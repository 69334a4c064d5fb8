"""Tests for impactiq.evaluation.metrics: values computed by hand, equality with scikit-uplift, guards.

scikit-uplift is a test dependency (requirements-dev.txt) and the definition these metrics
promise to follow, so it is imported directly: a missing reference must fail, not skip.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sklift.metrics as sklift
from scipy.stats import norm
from sklift.metrics import metrics as sklift_module

from impactiq.errors import ImpactIQError
from impactiq.evaluation import metrics

# scikit-uplift 0.5.1 calls a scikit-learn helper and a pandas keyword that are deprecated; that
# is its concern, not ours.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Function stable_cumsum is deprecated:FutureWarning"),
    pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.set_index is deprecated"),
]

# Eight rows, worked through by hand below. Scores tie at 0.7 (rows 1, 2) and 0.3 (rows 4, 5, 6).
#
#   row  uplift  t  y
#    0    0.9    1  1
#    1    0.7    0  0
#    2    0.7    1  1
#    3    0.5    1  0
#    4    0.3    0  1
#    5    0.3    1  0
#    6    0.3    0  0
#    7    0.1    0  0
#
# Ranking, highest score first, ties later row first: 0 | 2 1 | 3 | 6 5 4 | 7.
# At each distinct-score threshold (n rows in; n_t, n_c treated/control; Y_t, Y_c their sums):
#
#   after   n  n_t  n_c  Y_t  Y_c   Qini Y_t - Y_c*n_t/n_c   uplift (Y_t/n_t - Y_c/n_c)*n
#   0.9     1   1    0    1    0    1                        (1 - 0) * 1       = 1
#   0.7     3   2    1    2    0    2                        (1 - 0) * 3       = 3
#   0.5     4   3    1    2    0    2                        (2/3 - 0) * 4     = 8/3
#   0.3     7   4    3    2    1    2 - 1*4/3 = 2/3          (1/2 - 1/3) * 7   = 7/6
#   0.1     8   4    4    2    1    2 - 1*4/4 = 1            (1/2 - 1/4) * 8   = 2
HAND_UPLIFT = np.array([0.9, 0.7, 0.7, 0.5, 0.3, 0.3, 0.3, 0.1])
HAND_T = np.array([1, 0, 1, 1, 0, 1, 0, 0])
HAND_Y = np.array([1, 0, 1, 0, 1, 0, 0, 0])
HAND_X = [0, 1, 3, 4, 7, 8]
HAND_QINI = [0, 1, 2, 2, 2 / 3, 1]
HAND_UPLIFT_CURVE = [0, 1, 3, 8 / 3, 7 / 6, 2]


def _hand(**replaced):
    data = {"y_true": HAND_Y, "uplift": HAND_UPLIFT, "treatment": HAND_T}
    return {**data, **replaced}


def _experiment(seed: int, *, ties: bool, outcome: str, n_rows: int = 400):
    """A seeded unbalanced experiment whose effect grows with the predicted uplift."""
    rng = np.random.default_rng(seed)
    t = (rng.random(n_rows) < 0.7).astype(int)
    uplift = rng.normal(size=n_rows)
    if ties:
        uplift = np.round(uplift, 1)
    converted = rng.random(n_rows) < 0.2 + 0.15 * t * (uplift > 0)
    y = converted.astype(int) if outcome == "binary" else converted * rng.lognormal(3, 1, n_rows)
    return y, uplift, t


EXPERIMENTS = [
    pytest.param(seed, ties, outcome, id=f"seed{seed}-{'ties' if ties else 'distinct'}-{outcome}")
    for seed in (0, 1, 2)
    for ties in (False, True)
    for outcome in ("binary", "continuous")
]


@pytest.fixture
def any_outcome_sklift(monkeypatch):
    """scikit-uplift's arithmetic applies to any numeric outcome; only its input check insists on
    0/1. Relaxing that check lets continuous outcomes be compared too (our own guards have
    already checked the treatment)."""
    monkeypatch.setattr(sklift_module, "check_is_binary", lambda array: None)


# Values by hand ---------------------------------------------------------------------------------


def test_qini_curve_by_hand():
    x, y = metrics.qini_curve(**_hand())
    np.testing.assert_array_equal(x, HAND_X)
    np.testing.assert_allclose(y, HAND_QINI, rtol=0, atol=1e-12)


def test_uplift_curve_by_hand():
    x, y = metrics.uplift_curve(**_hand())
    np.testing.assert_array_equal(x, HAND_X)
    np.testing.assert_allclose(y, HAND_UPLIFT_CURVE, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("negative_effect", "expected_x", "expected_y"),
    [
        # Oracle score y*t - y*(1-t): rows 0, 2 score 1; rows 1, 3, 5, 6, 7 score 0; row 4 scores -1.
        # After 1: n=2, Q=2. After 0: n=7, n_t=4, n_c=3, Y_c=0, Q=2. After -1: n=8, Q=2-1*4/4=1.
        (True, [0, 2, 7, 8], [0, 2, 2, 1]),
        # Incremental outcomes overall: 2 - 4*1/4 = 1, reached after 1 row and kept to n=8.
        (False, [0, 1, 8], [0, 1, 1]),
    ],
)
def test_perfect_qini_curve_by_hand(negative_effect, expected_x, expected_y):
    x, y = metrics.perfect_qini_curve(HAND_Y, HAND_T, negative_effect=negative_effect)
    np.testing.assert_allclose(x, expected_x, rtol=0, atol=1e-12)
    np.testing.assert_allclose(y, expected_y, rtol=0, atol=1e-12)


def test_perfect_uplift_curve_by_hand():
    # 1 control responder (row 4) < 2 treated non-responders (rows 3, 5), so the oracle score is
    # 2*(y == t) + t: rows 0, 2 score 3; rows 1, 6, 7 score 2; rows 3, 5 score 1; row 4 scores 0.
    #   after 3: n=2, (2/2 - 0)*2 = 2      after 2: n=5, (2/2 - 0/3)*5 = 5
    #   after 1: n=7, (2/4 - 0/3)*7 = 3.5  after 0: n=8, (2/4 - 1/4)*8 = 2
    x, y = metrics.perfect_uplift_curve(HAND_Y, HAND_T)
    np.testing.assert_array_equal(x, [0, 2, 5, 7, 8])
    np.testing.assert_allclose(y, [0, 2, 5, 3.5, 2], rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("score", "kwargs", "expected"),
    [
        # Trapezoids under the Qini curve: 0.5 + 3 + 2 + 4 + 5/6 = 31/3; random line to (8, 1): 4.
        # Perfect (negative effects): 2 + 10 + 1.5 = 13.5. (31/3 - 4) / (13.5 - 4) = 2/3.
        (metrics.qini_auc_score, {}, 2 / 3),
        # Perfect without negative effects: 0.5 + 7 = 7.5. (31/3 - 4) / (7.5 - 4) = 38/21.
        (metrics.qini_auc_score, {"negative_effect": False}, 38 / 21),
        # Uplift curve: 0.5 + 4 + 17/6 + 23/4 + 19/12 = 44/3; random line to (8, 2): 8.
        # Perfect: 2 + 10.5 + 8.5 + 2.75 = 23.75. (44/3 - 8) / (23.75 - 8) = 80/189.
        (metrics.uplift_auc_score, {}, 80 / 189),
    ],
)
def test_auc_scores_by_hand(score, kwargs, expected):
    assert score(**_hand(), **kwargs) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    ("strategy", "k", "expected"),
    [
        # Top int(8*0.5)=4 rows: 0, 2, 1, 3. Treated 0, 2, 3 -> 2/3; control 1 -> 0.
        ("overall", 0.5, 2 / 3),
        # Top 5 adds row 6, not row 4, from the 0.3 tie (later row first): control 1, 6 -> 0.
        # Had ties kept their order, row 4 (a control responder) would give 2/3 - 1/2 = 1/6.
        ("overall", 5, 2 / 3),
        # Top 6 adds row 5 (treated, 0): treated 2/4; control 0.
        ("overall", 6, 1 / 2),
        # Treated ranked 0, 2, 3, 5 and control 1, 6, 4, 7; top int(4*0.5)=2 of each: 1 - 0.
        ("by_group", 0.5, 1.0),
        # Top 3 of each: treated 0, 2, 3 -> 2/3; control 1, 6, 4 -> 1/3.
        ("by_group", 3, 1 / 3),
    ],
)
def test_uplift_at_k_by_hand(strategy, k, expected):
    assert metrics.uplift_at_k(**_hand(), strategy=strategy, k=k) == pytest.approx(expected, abs=1e-12)


def test_uplift_by_decile_by_hand():
    # Two bins of four ranked rows: 0, 2, 1, 3 and 6, 5, 4, 7.
    # Bin 1: treated 0, 2, 3 (2 of 3), control 1 (0 of 1): uplift 2/3, variance (2/3)(1/3)/3 + 0.
    # Bin 2: treated 5 (0 of 1), control 6, 4, 7 (1 of 3): uplift -1/3, variance 0 + (1/3)(2/3)/3.
    table = metrics.uplift_by_decile(**_hand(), bins=2)
    half_width = norm.ppf(0.975) * np.sqrt(2 / 27)
    expected = pd.DataFrame(
        {
            "bin": [1, 2],
            "percentile": ["0-50", "50-100"],
            "n_treatment": [3, 1],
            "n_control": [1, 3],
            "response_rate_treatment": [2 / 3, 0.0],
            "response_rate_control": [0.0, 1 / 3],
            "uplift": [2 / 3, -1 / 3],
            "uplift_lower": [2 / 3 - half_width, -1 / 3 - half_width],
            "uplift_upper": [2 / 3 + half_width, -1 / 3 + half_width],
            "predicted_uplift": [(0.9 + 0.7 + 0.7 + 0.5) / 4, (0.3 * 3 + 0.1) / 4],
        }
    )
    pd.testing.assert_frame_equal(table, expected, check_dtype=False, atol=1e-12)


def test_uplift_by_decile_splits_ties_by_rank_and_leaves_an_empty_arm_nan():
    # Four bins of two: 0, 2 | 1, 3 | 6, 5 | 4, 7. The 0.3 tie straddles bins 3 and 4, and
    # bin 1 holds no control row, so its control rate and uplift are undefined.
    table = metrics.uplift_by_decile(**_hand(), bins=4)
    assert table["n_treatment"].tolist() == [2, 1, 1, 0]
    assert table["n_control"].tolist() == [0, 1, 1, 2]
    assert table["response_rate_control"].isna().tolist() == [True, False, False, False]
    assert table["uplift_lower"].isna().tolist() == [True, False, False, True]
    assert table["response_rate_control"].iloc[3] == 0.5  # rows 4 (1) and 7 (0)


def test_inputs_may_be_series_with_any_index_and_boolean_treatment():
    index = [10, 3, 7, 1, 0, 5, 2, 9]
    as_series = _hand(
        y_true=pd.Series(HAND_Y, index=index),
        uplift=pd.Series(HAND_UPLIFT, index=index),
        treatment=pd.Series(HAND_T.astype(bool), index=index),
    )
    assert metrics.qini_auc_score(**as_series) == pytest.approx(2 / 3, abs=1e-12)


# Equality with scikit-uplift --------------------------------------------------------------------


@pytest.mark.usefixtures("any_outcome_sklift")
@pytest.mark.parametrize(("seed", "ties", "outcome"), EXPERIMENTS)
@pytest.mark.parametrize("curve", ["qini_curve", "uplift_curve"])
def test_curves_equal_sklift(curve, seed, ties, outcome):
    y, uplift, t = _experiment(seed, ties=ties, outcome=outcome)
    ours = getattr(metrics, curve)(y, uplift, t)
    theirs = getattr(sklift, curve)(y, uplift, t)
    np.testing.assert_array_equal(ours[0], theirs[0])
    np.testing.assert_allclose(ours[1], theirs[1], rtol=0, atol=1e-10)


@pytest.mark.usefixtures("any_outcome_sklift")
@pytest.mark.parametrize(("seed", "ties", "outcome"), EXPERIMENTS)
def test_auc_scores_equal_sklift(seed, ties, outcome):
    y, uplift, t = _experiment(seed, ties=ties, outcome=outcome)
    assert metrics.qini_auc_score(y, uplift, t) == pytest.approx(
        sklift.qini_auc_score(y, uplift, t), abs=1e-10
    )
    if outcome == "binary":
        for negative_effect in (True, False):
            ours_perfect = metrics.perfect_qini_curve(y, t, negative_effect=negative_effect)
            theirs_perfect = sklift.perfect_qini_curve(y, t, negative_effect=negative_effect)
            for ours, theirs in zip(ours_perfect, theirs_perfect, strict=True):
                np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-10)
        assert metrics.qini_auc_score(y, uplift, t, negative_effect=False) == pytest.approx(
            sklift.qini_auc_score(y, uplift, t, negative_effect=False), abs=1e-10
        )
        assert metrics.uplift_auc_score(y, uplift, t) == pytest.approx(
            sklift.uplift_auc_score(y, uplift, t), abs=1e-10
        )


@pytest.mark.usefixtures("any_outcome_sklift")
@pytest.mark.parametrize(("seed", "ties", "outcome"), EXPERIMENTS)
@pytest.mark.parametrize("strategy", metrics.STRATEGIES)
@pytest.mark.parametrize("k", [0.1, 0.25, 0.5, 0.99, 37, 100])
def test_uplift_at_k_equals_sklift(strategy, k, seed, ties, outcome):
    y, uplift, t = _experiment(seed, ties=ties, outcome=outcome)
    ours = metrics.uplift_at_k(y, uplift, t, strategy=strategy, k=k)
    assert ours == pytest.approx(sklift.uplift_at_k(y, uplift, t, strategy=strategy, k=k), rel=0, abs=1e-12)


@pytest.mark.parametrize(("seed", "ties"), [(0, False), (1, True), (2, True)])
def test_uplift_by_decile_equals_sklift_uplift_by_percentile(seed, ties):
    y, uplift, t = _experiment(seed, ties=ties, outcome="binary")
    ours = metrics.uplift_by_decile(y, uplift, t)
    theirs = sklift.uplift_by_percentile(y, uplift, t, strategy="overall", bins=10, std=True)
    assert ours["percentile"].tolist() == theirs.index.tolist()
    for column in ("n_treatment", "n_control", "response_rate_treatment", "response_rate_control", "uplift"):
        np.testing.assert_allclose(ours[column], theirs[column], rtol=0, atol=1e-12)
    half_width = norm.ppf(0.975) * theirs["std_uplift"].to_numpy()
    np.testing.assert_allclose(ours["uplift_upper"] - ours["uplift"], half_width, rtol=0, atol=1e-12)


def test_uplift_at_k_raises_where_sklift_returns_nan():
    # The top 2 rows (0 and 2, both treated) hold no control row: scikit-uplift averages an
    # empty slice and returns NaN; we say why instead.
    with pytest.warns(RuntimeWarning):
        assert np.isnan(sklift.uplift_at_k(**_hand(), strategy="overall", k=2))
    with pytest.raises(ImpactIQError, match="top 2 of 8 rows .* hold no control rows"):
        metrics.uplift_at_k(**_hand(), strategy="overall", k=2)


# Guards -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: metrics.qini_curve([0, 1, 1], [0.1, 0.2], [0, 1, 1]),
            "one value per row each; got lengths 3, 2, 3",
        ),
        (lambda: metrics.qini_curve([], [], []), "empty"),
        (lambda: metrics.qini_curve([[0, 1]], [[0.1, 0.2]], [[0, 1]]), "one-dimensional"),
        (
            lambda: metrics.qini_curve(["a", "b"], [0.1, 0.2], [0, 1]),
            "y_true must hold numbers; got dtype <U1",
        ),
        (
            lambda: metrics.qini_curve(**_hand(treatment=[1, 0, 2, 1, 0, 1, 0, 0])),
            "1 \\(treated\\) or 0 \\(control\\); got 2.0 in row 2",
        ),
        (
            lambda: metrics.qini_curve(**_hand(treatment=np.ones(8))),
            "both treated \\(1\\) and control \\(0\\).*only treated",
        ),
        (
            lambda: metrics.uplift_curve(**_hand(y_true=[1, 0, np.nan, 0, 1, 0, 0, np.nan])),
            "y_true must be finite.*rows 2, 7",
        ),
        (
            lambda: metrics.uplift_curve(**_hand(uplift=np.r_[np.inf, HAND_UPLIFT[1:]])),
            "uplift must be finite.*row 0",
        ),
        (lambda: metrics.qini_curve(**_hand(treatment=pd.Series(["b"] * 8))), "treatment must hold numbers"),
        (
            lambda: metrics.uplift_auc_score(**_hand(y_true=HAND_Y * 2.5)),
            "uplift_auc_score is defined for a 0/1 outcome only",
        ),
        (lambda: metrics.perfect_uplift_curve(HAND_Y * 2.5, HAND_T), "0/1 outcome only"),
        (
            lambda: metrics.qini_auc_score(**_hand(), negative_effect="yes"),
            "negative_effect must be True or False",
        ),
        (
            lambda: metrics.perfect_qini_curve(1 - HAND_Y, HAND_T, negative_effect=False),
            "assumes the treatment helps",
        ),
        (lambda: metrics.qini_auc_score(**_hand(y_true=np.zeros(8))), "qini_auc_score is undefined here"),
        (
            lambda: metrics.uplift_at_k(**_hand(), strategy="top", k=0.5),
            "strategy must be one of overall, by_group; got 'top'",
        ),
        (
            lambda: metrics.uplift_at_k(**_hand(), strategy="by_group", k=5),
            "top k of the treated arm is 5 of its 4 rows",
        ),
        (
            lambda: metrics.uplift_at_k(**_hand(), strategy="by_group", k=0.2),
            "top k of the treated arm is 0 of its 4 rows",
        ),
        (lambda: metrics.uplift_at_k(**_hand(), strategy="overall", k=0.1), "top 0 of 8 rows"),
        (
            lambda: metrics.uplift_by_decile(**_hand(), bins=9),
            "bins must be a whole number from 1 to the 8 rows; got 9",
        ),
        (lambda: metrics.uplift_by_decile(**_hand(), bins=2.0), "bins must be a whole number"),
        (lambda: metrics.bootstrap_ci(metrics.qini_auc_score, **_hand(), n_boot=1), "n_boot must be"),
        (
            lambda: metrics.bootstrap_ci(metrics.qini_auc_score, **_hand(), alpha=1.5),
            "alpha must lie strictly between 0 and 1",
        ),
        (lambda: metrics.pehe([0.1, 0.2], [0.1]), "tau, uplift must have one value per row"),
        (lambda: metrics.ate_error([0.1, np.nan], [0.1, 0.2]), "tau must be finite"),
        (
            lambda: metrics.interval_coverage([0, 0], [-1, 1], [1, 0.5]),
            "lower must not exceed upper; got lower > upper in row 1",
        ),
    ],
)
def test_guards_say_what_is_wrong(call, match):
    with pytest.raises(ImpactIQError, match=match):
        call()


@pytest.mark.parametrize("k", [0, -1, 8, 9, 0.0, 1.0, 1.5, True, "0.3", None])
def test_uplift_at_k_rejects_k_outside_sklift_range(k):
    with pytest.raises(
        ImpactIQError, match=r"k must be a fraction in \(0, 1\) or a whole number of rows in \[1, 7\]"
    ):
        metrics.uplift_at_k(**_hand(), strategy="overall", k=k)


def test_uplift_at_k_requires_a_strategy():
    with pytest.raises(TypeError, match="strategy"):
        metrics.uplift_at_k(**_hand(), k=0.5)


# Bootstrap --------------------------------------------------------------------------------------


def _targetable(n_rows: int, seed: int = 0):
    """Binary outcome with a true effect tau, and a noisy estimate of it as the model's uplift."""
    rng = np.random.default_rng(seed)
    t = (rng.random(n_rows) < 0.6).astype(np.int8)
    tau = np.clip(rng.normal(0.05, 0.1, n_rows), -0.1, 0.3)
    y = (rng.random(n_rows) < 0.2 + tau * t).astype(np.int8)
    return y, tau + rng.normal(0, 0.05, n_rows), t


BOOTSTRAPPED = [
    pytest.param(metrics.qini_auc_score, {}, id="qini_auc_score"),
    pytest.param(metrics.uplift_auc_score, {}, id="uplift_auc_score"),
    pytest.param(metrics.uplift_at_k, {"strategy": "overall", "k": 0.3}, id="uplift_at_k-overall"),
    pytest.param(metrics.uplift_at_k, {"strategy": "by_group", "k": 0.3}, id="uplift_at_k-by_group"),
]


@pytest.mark.parametrize(("metric", "kwargs"), BOOTSTRAPPED)
def test_bootstrap_interval_contains_the_estimate_on_all_rows(metric, kwargs):
    y, uplift, t = _targetable(2000)
    estimate, lower, upper = metrics.bootstrap_ci(metric, y, uplift, t, n_boot=50, **kwargs)
    assert estimate == metric(y, uplift, t, **kwargs)
    assert lower < estimate < upper


def test_bootstrap_is_deterministic_for_a_seed():
    y, uplift, t = _targetable(1000)
    first = metrics.bootstrap_ci(metrics.qini_auc_score, y, uplift, t, n_boot=30, seed=3)
    assert metrics.bootstrap_ci(metrics.qini_auc_score, y, uplift, t, n_boot=30, seed=3) == first
    assert metrics.bootstrap_ci(metrics.qini_auc_score, y, uplift, t, n_boot=30, seed=4) != first


def test_bootstrap_interval_narrows_with_more_rows():
    def width(n_rows):
        _, lower, upper = metrics.bootstrap_ci(metrics.qini_auc_score, *_targetable(n_rows), n_boot=50)
        return upper - lower

    # The standard error shrinks like 1/sqrt(n): 8 times the rows, about 2.8 times narrower.
    assert width(8000) < width(1000) / 2


@pytest.mark.parametrize(("metric", "kwargs"), BOOTSTRAPPED)
def test_bootstrap_of_fewer_rows_rescaled_matches_the_full_bootstrap(metric, kwargs):
    # m-out-of-n: replicates of a quarter of the rows, their spread shrunk by sqrt(1/4), give
    # about the interval that replicates of all the rows give.
    y, uplift, t = _targetable(8000)
    estimate, lower, upper = metrics.bootstrap_ci(metric, y, uplift, t, n_boot=200, **kwargs)
    small = metrics.bootstrap_ci(metric, y, uplift, t, n_boot=200, max_rows=2000, **kwargs)
    assert small[0] == estimate
    assert small[1] < estimate < small[2]
    assert (small[2] - small[1]) == pytest.approx(upper - lower, rel=0.25)


def test_bootstrap_resamples_within_each_arm():
    # Every replicate keeps the arm sizes, so a metric that counts treated rows never varies.
    y, uplift, t = _targetable(500)
    assert metrics.bootstrap_ci(lambda y, uplift, t: t.sum(), y, uplift, t, n_boot=20) == (t.sum(),) * 3


def test_bootstrap_keeps_tied_rows_in_their_original_order():
    # With y holding each row's original position, a replicate keeps ties ranking as in the
    # estimate exactly when, among equal scores, original positions never decrease.
    rng = np.random.default_rng(0)
    uplift = np.round(rng.normal(size=300), 1)
    t = rng.integers(0, 2, 300)

    def tied_rows_in_original_order(y, uplift, t):
        by_score = np.argsort(uplift, kind="stable")
        tied = uplift[by_score][1:] == uplift[by_score][:-1]
        return float(np.all(np.diff(y[by_score])[tied] >= 0))

    assert (
        metrics.bootstrap_ci(tied_rows_in_original_order, np.arange(300.0), uplift, t, n_boot=20)
        == (1.0,) * 3
    )


# Scores against the true effect -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("tau", "uplift", "expected_pehe", "expected_ate_error"),
    [
        ([0, 0, 0, 0], [1, -1, 1, -1], 1.0, 0.0),
        ([0.1, 0.2], [0.1, 0.2], 0.0, 0.0),
        ([0, 0], [3, 4], np.sqrt(12.5), 3.5),
    ],
)
def test_pehe_and_ate_error(tau, uplift, expected_pehe, expected_ate_error):
    assert metrics.pehe(tau, uplift) == pytest.approx(expected_pehe, abs=1e-12)
    assert metrics.ate_error(tau, uplift) == pytest.approx(expected_ate_error, abs=1e-12)


def test_interval_coverage_counts_bounds_as_inside():
    # Row 0 inside, row 1 below its interval, row 2 on both bounds, row 3 above.
    assert metrics.interval_coverage([0, 1, 2, 3], [-1, 1.5, 2, 0], [1, 2, 2, 2]) == 0.5


def test_aipw_scores_with_zero_predictions_average_to_the_difference_in_means():
    y = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 0.0])
    t = np.array([1, 1, 1, 0, 0, 0])
    zeros = np.zeros(6)
    scores = metrics.aipw_scores(y, t, zeros, zeros)
    assert scores.mean() == pytest.approx(2 / 3 - 1 / 3)


def test_aipw_scores_need_both_arms():
    with pytest.raises(ImpactIQError, match="both treated and control"):
        metrics.aipw_scores([1.0, 0.0], [1, 1], [0.0, 0.0], [0.0, 0.0])


def test_an_arm_score_is_the_two_arm_score_on_that_arm_and_control():
    """With one arm the several-arm score is the two-arm AIPW score exactly; with two, arm k's
    score on a row of the other arm is the model's difference plus the control correction only."""
    rng = np.random.default_rng(3)
    y, t = rng.integers(0, 2, 50).astype(float), rng.integers(0, 2, 50)
    mu = rng.uniform(size=(50, 2))
    two = metrics.arm_aipw_scores(y, t, mu, [0.4, 0.6])[:, 0]
    assert two == pytest.approx(metrics.aipw_scores(y, t, mu[:, 0], mu[:, 1], propensity=0.6))
    arm = np.array([0, 1, 2])
    mu3 = np.array([[0.1, 0.3, 0.2]] * 3)
    scores = metrics.arm_aipw_scores(np.array([1.0, 0.0, 1.0]), arm, mu3, [0.5, 0.25, 0.25])
    assert scores[0] == pytest.approx([0.2 - 0.9 / 0.5, 0.1 - 0.9 / 0.5])
    assert scores[1] == pytest.approx([0.2 - 0.3 / 0.25, 0.1])
    assert scores[2] == pytest.approx([0.2, 0.1 + 0.8 / 0.25])


def test_the_arm_scores_average_to_each_arm_s_effect():
    """Unbiased whatever the predicted outcomes: zeros as predictions still give the true effects."""
    rng = np.random.default_rng(4)
    n = 200_000
    arm = rng.choice(3, n, p=[0.5, 0.3, 0.2])
    y = (rng.random(n) < np.array([0.2, 0.26, 0.17])[arm]).astype(float)
    scores = metrics.arm_aipw_scores(y, arm, np.zeros((n, 3)), [0.5, 0.3, 0.2])
    assert scores.mean(axis=0) == pytest.approx([0.06, -0.03], abs=0.006)


def test_arm_scores_refuse_shapes_that_do_not_match():
    with pytest.raises(ImpactIQError, match="one predicted outcome per row and arm"):
        metrics.arm_aipw_scores(np.zeros(4), np.zeros(4), np.zeros((4, 2)), [0.3, 0.3, 0.4])
    with pytest.raises(ImpactIQError, match="strictly between 0 and 1"):
        metrics.arm_aipw_scores(np.zeros(4), np.zeros(4), np.zeros((4, 2)), [0.0, 1.0])
