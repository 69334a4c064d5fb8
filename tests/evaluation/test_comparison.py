"""Model comparison on one split, and `auto` choosing by validation loss alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from impactiq.data.experiment import prepare_experiment
from impactiq.data.schema import build_schema
from impactiq.errors import ImpactIQError
from impactiq.evaluation.comparison import (
    AVERAGE_EFFECT,
    Comparison,
    compare_estimators,
    dr_loss,
)
from tests.support import strong_effect


@pytest.fixture(scope="module")
def experiment():
    return strong_effect(12_000, seed=5)


@pytest.fixture(scope="module")
def comparison(experiment):
    steps = []
    result = compare_estimators(
        experiment, "y", estimators=("linear_dml", "t_learner", "s_learner"), n_boot=20, on_step=steps.append
    )
    assert steps[0].startswith("fitting the validation loss") and steps[1:] == [
        "fitting linear_dml",
        "fitting t_learner",
        "fitting s_learner",
    ]
    return result


def test_the_chosen_estimator_has_the_smallest_validation_loss(comparison):
    losses = {c.estimator: c.loss for c in comparison.candidates}
    assert comparison.chosen != AVERAGE_EFFECT
    assert all(losses[comparison.chosen] <= loss for name, loss in losses.items() if name != AVERAGE_EFFECT)
    chosen = next(c for c in comparison.candidates if c.estimator == comparison.chosen)
    assert chosen.excess == 0.0 and chosen.excess_se == 0.0


def test_every_candidate_is_judged_on_the_same_rows(comparison, experiment):
    assert comparison.n_fit + comparison.n_validation + comparison.n_holdout == experiment.n_rows
    assert comparison.n_validation == pytest.approx(0.25 * 0.7 * experiment.n_rows, abs=5)
    for candidate in comparison.candidates:
        if candidate.estimator == AVERAGE_EFFECT:
            assert candidate.qini == {} and candidate.fit_seconds == 0.0
            continue
        assert candidate.qini["lower"] <= candidate.qini["estimate"] <= candidate.qini["upper"]
        assert candidate.fit_seconds > 0


def test_models_that_find_the_step_beat_the_average_effect(comparison):
    """The effect jumps by 15 pp at x0 = 0: a model that finds it has a lower DR loss than none."""
    losses = {c.estimator: c for c in comparison.candidates}
    assert losses[comparison.chosen].loss < losses[AVERAGE_EFFECT].loss
    assert losses[AVERAGE_EFFECT].excess > 0


def test_the_comparison_round_trips_through_json_values(comparison):
    assert Comparison.from_dict(comparison.to_dict()) == comparison


def test_the_loss_equals_its_definition_on_a_known_model():
    """DR loss by hand: with scores s_i and predictions u_i, mean (s_i - u_i)^2 ."""
    scores = np.array([1.0, -1.0, 0.5, 0.0])
    loss, se = dr_loss(scores, np.array([0.5, 0.0, 0.5, 0.0]))
    assert loss == pytest.approx((0.25 + 1.0 + 0.0 + 0.0) / 4)
    assert se == pytest.approx(np.std([0.25, 1.0, 0.0, 0.0], ddof=1) / 2)


def test_unknown_estimators_and_one_arm_estimators_on_arms_are_refused(experiment, arms_experiment):
    with pytest.raises(ImpactIQError, match="one or more of causal_forest"):
        compare_estimators(experiment, "y", estimators=("forest",))
    with pytest.raises(ImpactIQError, match="linear_dml, x_learner model one treatment against control"):
        compare_estimators(arms_experiment, "y", estimators=("causal_forest", "linear_dml", "x_learner"))


@pytest.fixture(scope="module")
def arms_experiment():
    """Two arms with opposite shapes: 'a' adds 25 pp where x0 > 0 and nothing elsewhere, 'b' adds
    15 pp where x0 < 0 and 5 pp elsewhere; a third of the rows each in control, a and b."""
    rng = np.random.default_rng(11)
    n = 15_000
    x = rng.normal(size=(n, 3))
    arm = rng.choice(np.array(["none", "a", "b"]), n)
    effect = np.select(
        [arm == "a", arm == "b"], [0.25 * (x[:, 0] > 0), np.where(x[:, 0] < 0, 0.15, 0.05)], 0.0
    )
    p = 0.3 + 0.1 * x[:, 1].clip(-1, 1) + effect
    frame = pd.DataFrame(x, columns=["x0", "x1", "x2"]).assign(arm=arm, y=(rng.random(n) < p).astype(int))
    schema = build_schema(
        frame,
        treatment="arm",
        treated_values=["a", "b"],
        control_values=["none"],
        outcomes=["y"],
        separate_arms=True,
    )
    return prepare_experiment(frame, schema, name="two arms")


@pytest.fixture(scope="module")
def arms_comparison(arms_experiment):
    return compare_estimators(
        arms_experiment, "y", estimators=("causal_forest", "t_learner", "s_learner"), n_boot=20
    )


def test_with_arms_the_chosen_estimator_has_the_smallest_loss_and_beats_the_average(arms_comparison):
    losses = {c.estimator: c for c in arms_comparison.candidates}
    chosen = losses[arms_comparison.chosen]
    assert set(losses) == {AVERAGE_EFFECT, "causal_forest", "t_learner", "s_learner"}
    assert all(chosen.loss <= c.loss for name, c in losses.items() if name != AVERAGE_EFFECT)
    # The arms' effects jump in opposite directions at x0 = 0: finding that pays, clearly.
    average = losses[AVERAGE_EFFECT]
    assert average.excess - 1.96 * average.excess_se > 0


def test_with_arms_every_candidate_is_judged_on_each_arm_of_the_holdout(arms_comparison):
    for candidate in arms_comparison.candidates:
        if candidate.estimator == AVERAGE_EFFECT:
            assert candidate.arms == {}
            continue
        assert candidate.qini == {} and set(candidate.arms) == {"a", "b"}
        for scores in candidate.arms.values():
            assert scores["qini"]["lower"] <= scores["qini"]["estimate"] <= scores["qini"]["upper"]
    assert Comparison.from_dict(arms_comparison.to_dict()) == arms_comparison
