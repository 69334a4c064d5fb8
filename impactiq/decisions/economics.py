"""What a contact costs and a success is worth, and what that says about treating a user.

One check of cost and value serves every page and command (`check_economics`): a cost per
contact is a positive amount of money (a budget buys floor(budget / cost) contacts, and ROI is
return per money spent, so neither exists at a zero cost), a value per success zero or more. The profit decision for
one user carries the uplift's interval through value × uplift − cost; a budget becomes a
number of contacts as floor(budget / cost).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from impactiq.errors import ImpactIQError

# Cost of one contact and value of one success (same currency), the pages' starting point:
# treatment pays when the uplift exceeds cost / value = 1 percentage point. An amount such as
# spend is worth its face value.
DEFAULT_COST = 0.10
# The smallest cost per contact a page's input takes (the package takes any positive cost): an
# e-mail costs a fraction of a cent, and a cost of 0 would make every contact free.
SMALLEST_COST = 0.0001
DEFAULT_VALUE = 10.0
DEFAULT_VALUE_PER_UNIT = 1.0
# The share of the scored users a default budget reaches.
DEFAULT_BUDGET_SHARE = 0.3

TREAT = "treat"
UNCERTAIN = "uncertain"
DO_NOT_TREAT = "do not treat"


@dataclass(frozen=True)
class ProfitDecision:
    """Expected incremental profit of one contact, its 95% interval, and what to do."""

    profit: float
    profit_lower: float
    profit_upper: float
    decision: str
    reason: str

    @property
    def settled(self) -> bool:
        """Whether the decision rests on the interval (False: on the estimate alone, as a model
        without intervals gives); only a settled decision may be shown as a clear one."""
        return not (math.isnan(self.profit_lower) or math.isnan(self.profit_upper))


def check_economics(cost: float, value: float) -> None:
    """Refuse a cost per contact that is not a positive amount, or a value per success below zero."""
    for name, number, ok, hint in (
        ("cost per contact", cost, lambda v: v > 0, "a positive amount, e.g. 0.10"),
        ("value per success", value, lambda v: v >= 0, "an amount of 0 or more, e.g. 25"),
    ):
        if (
            isinstance(number, bool)
            or not isinstance(number, int | float | np.number)
            or not math.isfinite(number)
            or not ok(number)
        ):
            raise ImpactIQError(f"The {name} must be {hint}; got {number!r}.")


def default_value(binary: bool) -> float:
    """The illustrative value of one conversion (0/1 outcome) or one unit of an amount."""
    return DEFAULT_VALUE if binary else DEFAULT_VALUE_PER_UNIT


def profit_decision(uplift: float, lower: float, upper: float, cost: float, value: float) -> ProfitDecision:
    """Expected incremental profit of contacting a user, value × uplift − cost, and the decision.

    The profit's interval is the uplift's interval carried through the same formula (it is
    increasing in the uplift). Treat when even the lower bound is profitable, do not treat when
    even the upper bound loses money, and call it uncertain when the interval spans break-even.
    """
    check_economics(cost, value)
    profit = value * uplift - cost
    low, high = value * lower - cost, value * upper - cost
    if math.isnan(low) or math.isnan(high):
        decision = TREAT if profit > 0 else DO_NOT_TREAT
        reason = f"{decision}: judged on the estimate alone, since this model gives no interval"
    elif low > 0:
        decision, reason = TREAT, "treat: profitable even at the interval's lower bound"
    elif high < 0:
        decision, reason = DO_NOT_TREAT, "do not treat: a loss even at the interval's upper bound"
    else:
        lean = "a gain" if profit > 0 else "a loss"
        decision, reason = UNCERTAIN, f"uncertain: the interval spans break-even (the estimate is {lean})"
    return ProfitDecision(profit, low, high, decision, reason)


def contacts_for_budget(budget: float, cost: float, users: int) -> int:
    """How many users a budget reaches: floor(budget / cost), at most `users`."""
    check_economics(cost, 0.0)
    if isinstance(budget, bool) or not isinstance(budget, int | float | np.number) or not budget >= 0:
        raise ImpactIQError(
            f"The budget must be an amount of money of zero or more, e.g. 5000; got {budget!r}."
        )
    return int(min(users, np.floor(budget / cost + 1e-9)))


def check_contacts(contacts) -> int:
    """A number of contacts as an int; refuse anything but a whole number of zero or more."""
    if isinstance(contacts, bool) or not isinstance(contacts, int | np.integer) or contacts < 0:
        raise ImpactIQError(
            f"The number of contacts must be a whole number of zero or more; got {contacts!r}."
        )
    return int(contacts)
