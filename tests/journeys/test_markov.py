"""The Markov removal effects against marketing-attribution-models, and the credit rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from impactiq.errors import ImpactIQError
from impactiq.journeys.markov import markov_attribution
from impactiq.journeys.paths import build_journeys
from tests.journeys.reference_paths import CASES, as_logs, reference_model


def _reference_removal_effects(rows, loops: bool) -> dict:
    model = reference_model(rows)
    result = model.run_markov(transition_to_same_state=loops)
    return result.metadata["removal_effect"]["removal_effect"].to_dict()


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("loops", [True, False])
def test_removal_effects_equal_the_reference(case, loops):
    rows = CASES[case]
    journeys = build_journeys(*as_logs(rows), lookback_days=30)
    ours = markov_attribution(journeys)
    reference = _reference_removal_effects(rows, loops)
    np.testing.assert_allclose(
        ours.removal_effects, [reference[c] for c in journeys.channels], rtol=0, atol=1e-9
    )


@pytest.mark.parametrize("case", CASES)
def test_credit_is_the_conversions_split_by_removal_effect(case):
    journeys = build_journeys(*as_logs(CASES[case], revenue=2.5), lookback_days=30)
    result = markov_attribution(journeys)
    total = sum(c for _, c, _ in CASES[case])
    np.testing.assert_allclose(
        result.conversions, total * result.removal_effects / result.removal_effects.sum()
    )
    np.testing.assert_allclose(result.revenue, 2.5 * result.conversions)


def test_a_two_channel_chain_by_hand():
    # a>b converts once, b once, a never: start>a 2/3, start>b 1/3; a>b 1/2, a>null 1/2; b>conv 1.
    journeys = build_journeys(*as_logs([("a>b", 1, 0), ("b", 1, 0), ("a", 0, 1)]), lookback_days=30)
    result = markov_attribution(journeys)
    # P = 1/3 * 1 + 1/3 * (1/2 * 1) ... start>a is 2 of 3 starts: P = 2/3 * 1/2 + 1/3 = 2/3.
    assert result.conversion_probability == pytest.approx(2 / 3)
    # Without a: only start>b converts, 1/3; without b: nothing converts.
    np.testing.assert_allclose(result.removal_effects, [1 - (1 / 3) / (2 / 3), 1.0])
    np.testing.assert_allclose(result.conversions, [2 / 3, 4 / 3])


def test_without_journeys_that_did_not_convert_it_says_what_is_missing():
    journeys = build_journeys(*as_logs([("a>b", 3, 0)]), lookback_days=30)
    with pytest.raises(ImpactIQError, match="did not convert"):
        markov_attribution(journeys)


def test_unattributed_conversions_are_not_walked():
    touches, conversions = as_logs(CASES["three channels"])
    lonely = pd.DataFrame({"person": [10_000], "timestamp": [pd.Timestamp("2024-02-01")], "revenue": [9.0]})
    with_lonely = build_journeys(touches, pd.concat([conversions, lonely]), lookback_days=30)
    plain = build_journeys(touches, conversions, lookback_days=30)
    np.testing.assert_allclose(
        markov_attribution(with_lonely).conversions, markov_attribution(plain).conversions
    )
