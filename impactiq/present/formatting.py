"""Numbers as a reader sees them: one way to write an estimate and its interval, whatever the page.

`format_estimate(value, lower, upper, unit)` is the only place that decides how a number looks:
its unit, its sign, its precision and how its 95% interval is written ("+1.23 pp [+0.45 pp,
+2.01 pp]"). Tables, metrics, captions and the command line all call it, so a rate effect reads
the same in the Data page's summary, the Train page's metrics and the Segments table.

Units (`UNITS`):

- `pp`: an effect on a rate, in signed percentage points;
- `rate`: a rate or probability, in percent;
- `change`: a relative change (lift, ROI), in signed percent;
- `share`: a share of something (coverage, waste), in percent;
- `effect`: an effect in the outcome's own units (spend), signed;
- `level`: a level in the outcome's own units (mean spend), unsigned;
- `count`: whole things (users, conversions, contacts);
- `total`: a sum of an amount (incremental spend);
- `money`: an amount of money (spend, revenue, profit), two decimals;
- `score`: a unitless score (Qini coefficient, correlation), four decimals.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from impactiq.present.text import shorten

# unit -> (format spec without the sign, suffix, signed by default)
_UNITS = {
    "pp": (".2f", " pp", True),
    "rate": (".2%", "", False),
    "change": (".1%", "", True),
    "share": (".1%", "", False),
    "effect": (",.3f", "", True),
    "level": (",.3f", "", False),
    "count": (",.0f", "", False),
    "total": (",.1f", "", False),
    "money": (",.2f", "", False),
    "score": (".4f", "", False),
}
UNITS = tuple(_UNITS)
MISSING = "–"


def format_estimate(value, lower=None, upper=None, unit: str = "level", *, signed: bool | None = None) -> str:
    """'value [lower, upper]' in `unit` (see the module docstring); the interval only when given.

    A rate effect is scaled to percentage points; a missing or infinite value is '–', and an
    interval with a missing bound is left out. `signed` overrides the unit's usual sign (a
    difference between two plans is signed even when it counts users).
    """
    if unit not in _UNITS:
        raise ValueError(f"unknown unit {unit!r}; choose one of {', '.join(UNITS)}")
    spec, suffix, default_sign = _UNITS[unit]
    sign = "+" if (default_sign if signed is None else signed) else ""

    def one(number) -> str:
        if not _finite(number):
            return MISSING
        number = float(number) * (100.0 if unit == "pp" else 1.0)
        return f"{number:{sign}{spec}}{suffix}"

    text = one(value)
    if text == MISSING or lower is None or upper is None or not (_finite(lower) and _finite(upper)):
        return text
    return f"{text} [{one(lower)}, {one(upper)}]"


def effect_unit(binary: bool) -> str:
    """The unit of an effect on an outcome: percentage points for a 0/1 outcome, else its own."""
    return "pp" if binary else "effect"


def level_unit(binary: bool) -> str:
    """The unit of an outcome's level: percent for a 0/1 outcome, else its own."""
    return "rate" if binary else "level"


def amount_unit(binary: bool) -> str:
    """The unit of a sum of outcomes: whole conversions for a 0/1 outcome, else a total."""
    return "count" if binary else "total"


def unit_labels(outcome: str, *, binary: bool) -> dict[str, str]:
    """Words for a table's quantities: conversions of a 0/1 outcome, amounts of any other."""
    if binary:
        return {
            "mean": f"{outcome} rate",
            "things": f"conversions ({outcome})",
            "per": "per conversion",
        }
    return {"mean": f"mean {outcome}", "things": f"{outcome} (amount)", "per": f"per unit of {outcome}"}


def value_label(binary: bool) -> str:
    """The label of the value-per-outcome input, the same on every page that asks for it."""
    return "Value per conversion" if binary else "Value per unit of the outcome"


def threshold_labels(binary: bool) -> dict[str, str]:
    """Each persuadability threshold and its label on a form, in the units the form uses."""
    uplift, level = (" (pp)", " (%)") if binary else ("", "")
    return {
        "persuadable": f"Persuadable from uplift{uplift}",
        "harm": f"Do-not-disturb from uplift −{uplift}",
        "baseline": f"Sure thing from outcome without treatment{level}",
    }


def describe_feature(spec: Mapping) -> str:
    """One line on a feature's training distribution, for a form's help text."""
    if spec["kind"] == "categorical":
        shares = ", ".join(
            f"{shorten(c)}: {format_estimate(s, unit='share')}"
            for c, s in list(spec["frequencies"].items())[:8]
        )
        return f"Training share of each category: {shares}."
    quantiles = ", ".join(f"{q}%: {short_number(v)}" for q, v in spec["quantiles"].items())
    missing = (
        f"; {format_estimate(spec['missing_share'], unit='share')} missing"
        if spec.get("missing_share")
        else ""
    )
    return f"Training range {short_number(spec['min'])} to {short_number(spec['max'])}; quantiles {quantiles}{missing}."


def file_size(n_bytes: int) -> str:
    """A file's size in MB, or GB from 1 GB on, to one decimal ("0.4 MB", "3.2 GB")."""
    if n_bytes >= 1024**3:
        return f"{n_bytes / 1024**3:,.1f} GB"
    return f"{n_bytes / 1024**2:,.1f} MB" if n_bytes >= 1024**2 // 20 else f"{n_bytes / 1024:,.1f} KB"


def short_number(value) -> str:
    """A feature value in four significant digits (text stays as it is)."""
    return value if isinstance(value, str) else f"{float(value):.4g}"


def profit_sentence(decision) -> str:
    """A `ProfitDecision` in one sentence: the profit per contact, its interval and what to do."""
    profit = format_estimate(
        decision.profit, decision.profit_lower, decision.profit_upper, "money", signed=True
    )
    return f"Expected incremental profit per contact: {profit}. {decision.reason[0].upper()}{decision.reason[1:]}."


def _finite(number) -> bool:
    try:
        return math.isfinite(float(number))
    except (TypeError, ValueError):
        return False


def class_label(klass: str, settled: bool) -> str:
    """A persuadability class with its certainty: "persuadable", or "likely persuadable" when the
    uplift's interval does not settle it (`decisions.persuadability.settled`)."""
    return klass if settled else f"likely {klass}"
