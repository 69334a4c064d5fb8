"""Tests of impactiq.decisions.targeting: targeting curves, strategies and policy values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from impactiq.data.experiment import prepare_experiment
from impactiq.data.schema import build_schema
from impactiq.decisions import targeting
from impactiq.errors import ImpactIQError
from impactiq.evaluation.holdout import _doubly_robust_ate
from impactiq.evaluation.training import train_model


def _scored(n: int = 4_000, seed: int = 0) -> pd.DataFrame:
    """Scored rows whose uplift ranks the true effect well and whose response does not."""
    rng = np.random.default_rng(seed)
    tau = rng.uniform(-0.05, 0.25, n)
    base = rng.uniform(0.05, 0.6, n)
    t = (rng.random(n) < 0.5).astype(np.int8)
    y = (rng.random(n) < np.clip(base + t * tau, 0, 1)).astype(float)
    return pd.DataFrame(
        {"y": y, "t": t, "uplift": tau, "uplift_upper": tau + 0.05, "y0_pred": base, "y1_pred": base + tau}
    )


@pytest.fixture(scope="module")
def scored() -> pd.DataFrame:
    return _scored()


def _observed_top(frame: pd.DataFrame, column: str, n: int) -> float:
    top = frame.iloc[np.argsort(-frame[column].to_numpy(), kind="stable")[:n]]
    treated, control = top.loc[top["t"] == 1, "y"], top.loc[top["t"] == 0, "y"]
    return (treated.mean() - control.mean()) * n


@pytest.mark.parametrize("n", [200, 1_000, 2_500])
def test_strategies_are_scored_from_observed_outcomes(scored, n):
    result = targeting.compare_strategies(scored, n, value=3.0).set_index("strategy")
    overall = scored.loc[scored["t"] == 1, "y"].mean() - scored.loc[scored["t"] == 0, "y"].mean()
    assert result.loc["random", "incremental"] == pytest.approx(overall * n)
    assert result.loc["uplift", "incremental"] == pytest.approx(_observed_top(scored, "uplift", n))
    assert result.loc["response", "incremental"] == pytest.approx(_observed_top(scored, "y1_pred", n))
    assert result.loc["uplift", "revenue"] == pytest.approx(3.0 * result.loc["uplift", "incremental"])


def test_tied_scores_are_broken_as_the_qini_curve_breaks_them(scored):
    """Seen: targeting put the earlier of two tied rows first and the Qini curve (scikit-uplift's
    order) the later one, so the gain at k differed from uplift@k and followed the rows' order."""
    from impactiq.decisions import segmentation
    from impactiq.evaluation.metrics import ranked

    tied = scored.assign(uplift=np.round(scored["uplift"] * 4) / 4)  # a few distinct values, as trees give
    assert tied["uplift"].nunique() <= 3
    n = 1_500
    top = tied.iloc[ranked(tied["uplift"].to_numpy())[:n]]
    expected = (top.loc[top["t"] == 1, "y"].mean() - top.loc[top["t"] == 0, "y"].mean()) * n
    result = targeting.compare_strategies(tied, n).set_index("strategy")
    assert result.loc["uplift", "incremental"] == pytest.approx(expected)
    groups = segmentation.uplift_segments(tied["uplift"].to_numpy(), 4)
    first = groups.cat.categories[0] if hasattr(groups, "cat") else sorted(set(groups))[0]
    in_first = np.flatnonzero((groups == first).to_numpy())
    np.testing.assert_array_equal(
        np.sort(in_first), np.sort(ranked(tied["uplift"].to_numpy())[: len(in_first)])
    )


def test_doubly_robust_policy_gain_is_the_sum_of_aipw_scores_of_the_targeted(scored):
    n = 1_000
    result = targeting.compare_strategies(scored, n).set_index("strategy")
    y, t = scored["y"].to_numpy(), scored["t"].to_numpy()
    e = t.mean()
    y0, y1 = scored["y0_pred"].to_numpy(), scored["y1_pred"].to_numpy()
    gamma = y1 - y0 + t * (y - y1) / e - (1 - t) * (y - y0) / (1 - e)
    top = np.argsort(-scored["uplift"].to_numpy(), kind="stable")[:n]
    assert result.loc["uplift", "dr_gain"] == pytest.approx(gamma[top].sum())
    assert result.loc["random", "dr_gain"] == pytest.approx(gamma.mean() * n)
    assert result.loc["random", "dr_gain_vs_random"] == 0.0
    print(result.T.to_string())
    assert result.loc["uplift", "dr_gain"] > result.loc["random", "dr_gain"]
    assert result.loc["uplift", "dr_gain"] > result.loc["response", "dr_gain"]


def test_treating_everyone_gains_the_doubly_robust_average_effect(scored):
    result = targeting.policy_value(scored, np.ones(len(scored)))
    assert result["gain"] == pytest.approx(_doubly_robust_ate(scored)["estimate"])
    nobody = targeting.policy_value(scored, np.zeros(len(scored)))
    assert nobody["gain"] == 0.0
    assert result["value"] - nobody["value"] == pytest.approx(result["gain"])


def test_policies_must_be_probabilities(scored):
    with pytest.raises(ImpactIQError, match="between 0 and 1"):
        targeting.policy_value(scored, np.full(len(scored), 2.0))


def test_curves_end_at_the_overall_effect_and_match_direct_top_n(scored):
    curves = targeting.targeting_curves(scored, value=2.0, points=11)
    n = len(scored)
    overall = (scored.loc[scored["t"] == 1, "y"].mean() - scored.loc[scored["t"] == 0, "y"].mean()) * n
    ends = curves[curves["share"] == 1.0].set_index("strategy")
    np.testing.assert_allclose(ends["incremental"], overall)
    uplift = curves[(curves["strategy"] == "uplift") & (curves["targeted"] == 1_200)].iloc[0]
    assert uplift["incremental"] == pytest.approx(_observed_top(scored, "uplift", 1_200))
    assert uplift["revenue"] == pytest.approx(2.0 * uplift["incremental"])
    assert (curves.loc[curves["share"] == 0, "incremental"] == 0).all()
    assert set(curves["strategy"]) == set(targeting.STRATEGIES)


def _sure_things_experiment(n: int, seed: int):
    """50/50 experiment where the likeliest converters ('sure things', high x0) gain least.

    P(y=1 | x, t) = 0.05 + 0.6 x0 + t tau(x), tau(x) = 0.3 x1 (1 - x0) - 0.05: response
    targeting picks high x0, where tau is near -0.05; uplift targeting must find high x1, low x0.
    """
    rng = np.random.default_rng(seed)
    x = rng.random((n, 4))
    tau = 0.3 * x[:, 1] * (1 - x[:, 0]) - 0.05
    t = rng.random(n) < 0.5
    y = rng.random(n) < 0.05 + 0.6 * x[:, 0] + t * tau
    df = pd.DataFrame(x, columns=[f"x{i}" for i in range(4)])
    df["group"], df["y"], df["tau_y"] = np.where(t, "treated", "control"), y.astype(int), tau
    schema = build_schema(
        df, treatment="group", treated_values=["treated"], control_values=["control"], outcomes=["y"]
    )
    return prepare_experiment(df, schema)


@pytest.mark.slow
def test_uplift_targeting_beats_random_and_response_on_synthetic_data():
    """A causal forest on 50,000 rows with known effects, judged on its 15,000-row holdout."""
    experiment = _sure_things_experiment(50_000, seed=11)
    model = train_model(experiment, outcome="y", n_boot=5, seed=11)
    holdout = model.holdout
    contacts = int(0.2 * len(holdout))
    result = targeting.compare_strategies(holdout, contacts).set_index("strategy")
    # Observed incremental conversions (difference in means among the targeted x users targeted):
    # uplift targeting beats both others by more than its 95% interval's half-width.
    margin = result.loc["uplift", "incremental"] - result.loc["uplift", "incremental_lower"]
    assert result.loc["uplift", "incremental"] - result.loc["random", "incremental"] > margin
    assert result.loc["uplift", "incremental"] - result.loc["response", "incremental"] > margin
    assert result.loc["uplift", "dr_gain_vs_random_lower"] > 0
    assert result.loc["response", "dr_gain_vs_random"] < 0
    # The true effects of the users each strategy contacts agree.
    tau = holdout["tau"].to_numpy()
    true_gain = {
        strategy: tau[np.argsort(-holdout[column].to_numpy(), kind="stable")[:contacts]].sum()
        for strategy, column in (("uplift", "uplift"), ("response", "y1_pred"))
    }
    assert true_gain["uplift"] > tau.mean() * contacts > true_gain["response"]
    assert (
        result.loc["uplift", "incremental_lower"]
        < true_gain["uplift"]
        < result.loc["uplift", "incremental_upper"]
    )
