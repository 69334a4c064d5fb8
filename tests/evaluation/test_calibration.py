"""Interval calibration on a simulated twin: factors learned, applied, saved, and the truth nearer 95%."""

from __future__ import annotations

import numpy as np
import pytest

from impactiq.data.designs import design_experiment
from impactiq.errors import ImpactIQError
from impactiq.evaluation.calibration import SPREAD_METHOD, TRUTH_METHOD, calibrate_intervals
from impactiq.evaluation.training import train_model
from impactiq.uplift.estimators import UpliftModel
from impactiq.uplift.portable import PortableModel

FAST = {"n_estimators": 20, "min_samples_leaf": 20}


@pytest.fixture(scope="module")
def steps():
    return design_experiment("steps", 4_000, seed=2)


def _fitted(experiment, **options):
    model = UpliftModel(estimator="causal_forest", random_state=0, params=FAST, **options)
    return model.fit(experiment.y("y"), experiment.t, experiment.X)


def test_the_factor_is_applied_to_every_interval_and_named_in_the_method(steps):
    model = _fitted(steps)
    before = model.effect_with_interval(steps.X)
    rows = np.arange(steps.n_rows)
    calibration = calibrate_intervals(model, steps.y("y"), steps.t, steps.X, rows[:3000], rows[3000:], seed=0)
    (factor,) = calibration.scale
    assert 0.25 <= factor <= 4.0 and 0.0 <= calibration.twin_coverage[0] <= 1.0
    point, lower, upper = model.effect_with_interval(steps.X)
    assert np.array_equal(point, before[0])
    assert np.allclose(upper - point, factor * (before[2] - before[0]))
    assert f"factor {factor:.2f}" in model.interval_method


def test_the_twin_is_seeded(steps):
    rows = np.arange(steps.n_rows)
    factors = [
        calibrate_intervals(
            _fitted(steps), steps.y("y"), steps.t, steps.X, rows[:3000], rows[3000:], seed=5
        ).scale
        for _ in range(2)
    ]
    assert factors[0] == factors[1]


def test_training_calibrates_and_a_saved_model_keeps_the_factor(steps, tmp_path):
    trained = train_model(steps, outcome="y", params=FAST, n_boot=20)
    calibration = trained.data["interval_calibration"]
    assert calibration["n_validation"] > 200 and len(calibration["scale"]) == 1
    assert "simulated twin" in trained.model.interval_method
    trained.model.portable_.save(tmp_path)
    loaded = PortableModel.load(tmp_path)
    assert loaded.interval_scale_ == tuple(calibration["scale"])
    assert np.allclose(loaded.effect_interval(steps.X)[1], trained.model.effect_interval(steps.X)[1])
    uncalibrated = train_model(steps, outcome="y", params=FAST, n_boot=20, calibrate=False)
    assert "interval_calibration" not in uncalibrated.data


def test_an_amount_outcome_and_several_arms_are_calibrated(steps):
    amount = design_experiment("amount", 3_000, seed=1)
    model = UpliftModel(estimator="causal_forest", binary_outcome=False, params=FAST).fit(
        amount.y("y"), amount.t, amount.X
    )
    rows = np.arange(amount.n_rows)
    assert (
        len(
            calibrate_intervals(
                model, amount.y("y"), amount.t, amount.X, rows[:2200], rows[2200:], seed=0
            ).scale
        )
        == 1
    )
    arms = np.where(steps.t == 1, 1 + (steps.X["x8"].to_numpy() > 0.5), 0)
    model = UpliftModel(estimator="dr", params=FAST).fit(steps.y("y"), arms, steps.X)
    rows = np.arange(steps.n_rows)
    _, own_lower, own_upper = model.effect_by_arm_with_interval(steps.X.iloc[:5])
    calibration = calibrate_intervals(model, steps.y("y"), arms, steps.X, rows[:3000], rows[3000:], seed=0)
    assert len(calibration.scale) == 2
    _, lower, upper = model.effect_by_arm_with_interval(steps.X.iloc[:5])
    assert lower.shape == (5, 2) and np.all(upper >= lower)
    # A model of several arms other than the causal forest: its twin widens, never narrows.
    assert calibration.scale == tuple(max(1.0, f) for f in calibration.twin_scale)
    assert np.all(upper - lower >= own_upper - own_lower - 1e-12)
    assert calibration.to_dict()["twin_scale"] == list(calibration.twin_scale)
    assert calibration.to_dict()["method"] == TRUTH_METHOD


def test_with_several_arms_only_the_causal_forests_twin_may_narrow():
    """On the three-channel data at 1M rows the sharper truth's narrowing took e-mail and social to
    0.86-0.91 coverage, so it narrows neither those nor any model of several arms; the causal
    forest of several arms measures its spread instead, and that factor holds either way."""
    from impactiq.evaluation.calibration import applied_scale, measures_spread

    assert applied_scale([0.73, 1.2, 0.99], narrow=False) == (1.0, 1.2, 1.0)
    assert applied_scale([0.73, 1.2], narrow=True) == (0.73, 1.2)
    models = {
        estimator: UpliftModel(estimator=estimator) for estimator in ("causal_forest", "dr", "t_learner")
    }
    for model in models.values():
        model.n_arms_ = 2
    assert measures_spread(models["causal_forest"])
    assert not measures_spread(models["dr"]) and not measures_spread(models["t_learner"])
    # Leaves set by hand: no larger than the default's (50 rows), or the truth is needed.
    for leaf, spread in ((50, True), (20, True), (51, False), (0.01, False)):
        hand = UpliftModel(params={"min_samples_leaf": leaf})
        hand.n_arms_ = 2
        assert measures_spread(hand) is spread
    models["causal_forest"].n_arms_ = 1
    assert not measures_spread(models["causal_forest"])


def test_the_interval_method_says_which_narrowing_was_not_applied(steps):
    arms = np.where(steps.t == 1, 1 + (steps.X["x8"].to_numpy() > 0.5), 0)
    model = UpliftModel(estimator="causal_forest", params=FAST).fit(steps.y("y"), arms, steps.X)
    model.set_interval_scale((1.0, 1.2), asked=(0.8, 1.2))
    assert model.interval_method.endswith(
        "(factor 1.00, 1.20; the twin asked for 0.80, 1.20, and a model of several arms keeps its own width "
        "rather than narrow it)"
    )
    model.set_interval_scale((1.0, 1.2), asked=(1.0, 1.2))
    assert model.interval_method.endswith("(factor 1.00, 1.20)")


def test_too_few_validation_rows_and_a_model_without_intervals_are_refused(steps):
    rows = np.arange(steps.n_rows)
    with pytest.raises(ImpactIQError, match="at least 200 validation rows"):
        calibrate_intervals(_fitted(steps), steps.y("y"), steps.t, steps.X, rows[:3900], rows[3900:], seed=0)
    bare = UpliftModel(estimator="t_learner", n_bootstrap=0).fit(steps.y("y"), steps.t, steps.X)
    with pytest.raises(ImpactIQError, match="no intervals to calibrate"):
        calibrate_intervals(bare, steps.y("y"), steps.t, steps.X, rows[:3000], rows[3000:], seed=0)
    with pytest.raises(ImpactIQError, match="one interval factor per arm"):
        _fitted(steps).set_interval_scale((0.1,))


def test_a_forest_twin_takes_its_truth_from_a_forest_with_smaller_leaves(steps):
    """The twin's truth must keep structure the model smooths away: leaves 13/6 times smaller."""
    from impactiq.evaluation.calibration import SHARPER, _sharper

    model = _fitted(steps)
    sharper = _sharper(model, steps.y("y"), steps.t, steps.X)
    assert sharper.params_["min_samples_leaf"] == round(20 / SHARPER) == 9
    assert sharper.params_["n_estimators"] == model.params_["n_estimators"]
    # Smaller leaves follow the data more closely: their effects spread more.
    assert sharper.effect(steps.X).std() > model.effect(steps.X).std()


def test_a_twin_far_surer_of_itself_than_the_model_is_refused():
    """Outcomes drawn from an outcome model that follows its training rows are too predictable:
    a twin whose standard errors are a fraction of the model's calibrates nothing."""
    from impactiq.evaluation.calibration import _check_resemblance

    model_se = np.full((100, 2), 0.02)
    _check_resemblance(np.full((100, 2), 0.012), model_se)  # comparable: accepted
    # Rows whose forest variance is NaN (EconML's correction underflows) are left out, not fatal.
    _check_resemblance(np.where(np.arange(100)[:, None] % 10 == 0, np.nan, 0.012) * np.ones((1, 2)), model_se)
    with pytest.raises(ImpactIQError, match="does not resemble the data .* 10% of the model's"):
        _check_resemblance(np.column_stack([np.full(100, 0.02), np.full(100, 0.002)]), model_se)


def test_training_keeps_the_own_width_with_the_reason_when_the_twin_is_refused(steps, monkeypatch):
    """Any twin is refused when a twin must be surer than the model itself (a ratio no twin meets)."""
    from impactiq.evaluation import calibration

    monkeypatch.setattr(calibration, "MIN_SE_RATIO", 100.0)
    trained = train_model(steps, outcome="y", params=FAST, n_boot=20)
    assert "does not resemble the data" in trained.data["interval_calibration"]["unavailable"]
    assert "simulated twin" not in trained.model.interval_method


@pytest.mark.parametrize("estimator", ["linear_dml", "t_learner"])
def test_estimators_other_than_the_forests_take_their_twin_truth_from_a_sharper_causal_forest(
    steps, estimator
):
    """A linear twin truth is exactly what the linear model represents: the twin would hide its
    misspecification. A meta-learner's own estimate is rough, and the twin would count the
    roughness as error (intervals too wide on most designs). Their truth is a causal forest's."""
    from impactiq.evaluation.calibration import SHARPER, _effects, _sharper, _twin_effect
    from impactiq.uplift.estimators import forest_params

    y = steps.y("y")
    model = UpliftModel(estimator=estimator, random_state=0, n_bootstrap=2).fit(y, steps.t, steps.X)
    sharper = _sharper(model, y, steps.t, steps.X)
    assert sharper.estimator == "causal_forest"
    assert sharper.params_["min_samples_leaf"] == round(
        forest_params(steps.n_rows)["min_samples_leaf"] / SHARPER
    )
    truth = _twin_effect(model, y, steps.t, steps.X, several=False)
    np.testing.assert_allclose(truth, _effects(sharper, steps.X, several=False)[0])
    assert not np.allclose(truth[:, 0], model.effect(steps.X))


def test_the_twin_never_reuses_the_uniforms_of_data_drawn_from_the_same_seed():
    """Seen: on the multi-channel demo, generated and trained with seed 0, the twin's 0/1 outcomes
    were drawn with the generator's first uniforms (the "loyal" flag): 13% successes against the
    data's 5%, and standard errors a tenth of the model's, so calibration was refused."""
    from impactiq.data import multichannel
    from impactiq.data.demo import multichannel_experiment
    from impactiq.evaluation.calibration import twin_generator

    seed = 0
    data = multichannel_experiment(multichannel.make_multichannel(20_000, seed=seed))
    model = UpliftModel(estimator="causal_forest", random_state=seed, params=FAST).fit(
        data.y(multichannel.OUTCOME), data.arm, data.X
    )
    rows = np.arange(data.n_rows)
    calibration = calibrate_intervals(
        model, data.y(multichannel.OUTCOME), data.arm, data.X, rows[:15_000], rows[15_000:], seed=seed
    )
    assert len(calibration.scale) == 3
    # The stream is the seed's own, apart from default_rng(seed), and repeatable.
    assert not np.allclose(twin_generator(seed).random(5), np.random.default_rng(seed).random(5))
    assert np.array_equal(twin_generator(seed).random(5), twin_generator(seed).random(5))


@pytest.fixture(scope="module")
def channels():
    from impactiq.data import multichannel
    from impactiq.data.demo import multichannel_experiment

    return multichannel_experiment(multichannel.make_multichannel(20_000, seed=4))


def test_a_causal_forest_of_several_arms_applies_the_factor_its_spread_asks_for_in_full(channels):
    from impactiq.data import multichannel

    y = channels.y(multichannel.OUTCOME)
    model = UpliftModel(estimator="causal_forest", params=FAST).fit(y, channels.arm, channels.X)
    _, own_lower, own_upper = model.effect_by_arm_with_interval(channels.X.iloc[:50])
    rows = np.arange(channels.n_rows)
    calibration = calibrate_intervals(
        model, y, channels.arm, channels.X, rows[:15_000], rows[15_000:], seed=0
    )
    assert calibration.scale == calibration.twin_scale
    assert calibration.to_dict()["method"] == SPREAD_METHOD
    assert all(0.0 <= c <= 1.0 for c in calibration.twin_coverage)
    _, lower, upper = model.effect_by_arm_with_interval(channels.X.iloc[:50])
    np.testing.assert_allclose(upper - lower, (own_upper - own_lower) * np.array(calibration.scale))
    assert "factor" in model.interval_method and "asked" not in model.interval_method


def test_the_spread_twin_compares_two_refits_on_fresh_draws(channels, monkeypatch):
    """The two twins must differ only by their outcome draws: the same rows, the same settings.
    Were the second a copy of the first, every difference would be 0 and the factor the floor."""
    from impactiq.data import multichannel
    from impactiq.evaluation import calibration as module
    from impactiq.uplift.portable import MIN_INTERVAL_SCALE

    y = channels.y(multichannel.OUTCOME)
    model = UpliftModel(estimator="causal_forest", params=FAST).fit(y, channels.arm, channels.X)
    drawn = []
    original = module._twin_outcomes

    def recording(*args):
        drawn.append(original(*args))
        return drawn[-1]

    monkeypatch.setattr(module, "_twin_outcomes", recording)
    rows = np.arange(channels.n_rows)
    calibration = calibrate_intervals(
        model, y, channels.arm, channels.X, rows[:15_000], rows[15_000:], seed=0
    )
    assert len(drawn) == 2 and not np.array_equal(drawn[0], drawn[1])
    assert abs(drawn[0].mean() - y.mean()) < 0.01 and abs(drawn[1].mean() - y.mean()) < 0.01
    assert all(f > MIN_INTERVAL_SCALE for f in calibration.scale)


@pytest.mark.slow
def test_a_causal_forest_of_three_channels_covers_every_channels_true_effect():
    """Each arm's calibrated 95% intervals cover its true effect near 95% of the time, at the demo's
    size (100k rows) on a holdout drawn apart: here 0.915 / 0.901 / 0.916 (e-mail, social, display).
    The target, 0.90-0.98, is held by
    bench/bench_channels.py over three data sets at 100k and 1M rows; one data set is kept here, and
    a margin below the target allows for the last digits a different machine's arithmetic moves."""
    from impactiq.data import multichannel
    from impactiq.data.demo import multichannel_experiment
    from impactiq.evaluation.splits import validation_split

    train = multichannel_experiment(multichannel.make_multichannel(100_000, seed=5))
    holdout = multichannel_experiment(multichannel.make_multichannel(50_000, seed=6))
    y = train.y(multichannel.OUTCOME)
    model = UpliftModel(random_state=0).fit(y, train.arm, train.X)
    fit_rows, validation_rows = validation_split(train, np.arange(train.n_rows), multichannel.OUTCOME, seed=0)
    calibrate_intervals(model, y, train.arm, train.X, fit_rows, validation_rows, seed=0)
    _, lower, upper = model.effect_by_arm_with_interval(holdout.X)
    for k, arm in enumerate(train.arm_names):
        truth = holdout.arm_tau(multichannel.OUTCOME, arm)
        coverage = np.mean((lower[:, k] <= truth) & (truth <= upper[:, k]))
        assert 0.89 <= coverage <= 0.98, (arm, coverage)
