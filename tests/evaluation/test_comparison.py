"""Model comparison on one split, and `auto` choosing by validation loss alone."""

from __future__ import annotations

import numpy as np
import pytest

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


def test_multi_arm_data_and_unknown_estimators_are_refused(experiment):
    with pytest.raises(ImpactIQError, match="one or more of causal_forest"):
        compare_estimators(experiment, "y", estimators=("forest",))
    from impactiq.data.demo import load_demo

    with pytest.raises(ImpactIQError, match="pool the arms or keep one arm"):
        compare_estimators(load_demo("hillstrom", arm="separate"), "visit")
