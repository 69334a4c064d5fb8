"""Tests of impactiq.decisions.economics: the profit decision, the one check of cost and value, budgets."""

from __future__ import annotations

import math

import pytest

from impactiq.decisions import economics
from impactiq.errors import ImpactIQError


@pytest.mark.parametrize(
    ("uplift", "lower", "upper", "decision"),
    [
        (0.03, 0.02, 0.04, economics.TREAT),
        (0.03, 0.0, 0.04, economics.UNCERTAIN),
        (0.005, 0.001, 0.009, economics.DO_NOT_TREAT),
    ],
)
def test_profit_decision(uplift, lower, upper, decision):
    result = economics.profit_decision(uplift, lower, upper, 0.1, 10.0)
    assert result.decision == decision
    assert result.profit == pytest.approx(10 * uplift - 0.1)
    assert result.profit_lower == pytest.approx(10 * lower - 0.1) and result.profit_upper == pytest.approx(
        10 * upper - 0.1
    )
    assert result.reason.startswith(decision)


def test_profit_decision_arithmetic_and_no_interval():
    result = economics.profit_decision(0.03, math.nan, math.nan, 0.1, 10.0)
    assert result.profit == pytest.approx(0.2)
    assert result.decision == economics.TREAT and "no interval" in result.reason
    # On the estimate alone the decision is not settled, so no page shows it as a clear one.
    assert not result.settled
    assert economics.profit_decision(0.03, 0.02, 0.04, 0.1, 10.0).settled


@pytest.mark.parametrize(
    ("cost", "value", "match"),
    [
        (-1.0, 10.0, "cost per contact must be a positive amount"),
        (0.0, 10.0, "cost per contact must be a positive amount"),
        (0.1, math.inf, "value per success must be an amount of 0 or more"),
        (0.1, -2.0, "value per success must be an amount of 0 or more"),
    ],
)
def test_profit_decision_refuses_bad_money(cost, value, match):
    with pytest.raises(ImpactIQError, match=match):
        economics.profit_decision(0.01, 0.0, 0.02, cost, value)


@pytest.mark.parametrize(("budget", "cost", "contacts"), [(100.0, 0.3, 333), (0.0, 1.0, 0), (1e9, 1.0, 430)])
def test_contacts_for_budget(budget, cost, contacts):
    assert economics.contacts_for_budget(budget, cost, 430) == contacts


@pytest.mark.parametrize(("budget", "cost", "match"), [(-1.0, 1.0, "budget"), (10.0, 0.0, "cost")])
def test_bad_budgets_are_refused(budget, cost, match):
    with pytest.raises(ImpactIQError, match=match):
        economics.contacts_for_budget(budget, cost, 100)
