"""Altair charts for the pages, built from plain arrays and tables.

Charts live in the package (altair, not streamlit) so that their data preparation is tested
headless and pages stay thin. Curves with hundreds of thousands of points are thinned to a few
hundred before plotting: a browser cannot draw more, and the shape is unchanged.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from impactiq.evaluation import metrics
from impactiq.present.text import shorten

CURVE_POINTS = 300
MODEL_COLOR = "#2563eb"
RANDOM_COLOR = "#9ca3af"
PERFECT_COLOR = "#16a34a"
PREDICTED_COLOR = "#ea580c"


# How a chart draws a number, as the tables write it (`present.formatting`): an effect on a rate in
# percentage points, a rate in percent, anything else in the outcome's own units. Values are
# scaled here and the unit named in the axis title; Vega-Lite picks tick labels, so neighbouring
# ticks never repeat ("0.3%, 0.3%"), as a fixed format did on narrow ranges.
CHART_UNITS = {"pp": (100.0, " (pp)"), "rate": (100.0, " (%)"), "level": (1.0, "")}


def _in_unit(data: pd.DataFrame, columns, unit: str) -> tuple[pd.DataFrame, str]:
    """`data` with `columns` scaled to `unit` (see CHART_UNITS), and the axis title's suffix."""
    factor, suffix = CHART_UNITS[unit]
    return data.assign(**{c: data[c] * factor for c in columns}), suffix


def effect_unit(percent: bool) -> str:
    """The chart unit of an effect: percentage points on a 0/1 outcome, else the outcome's own."""
    return "pp" if percent else "level"


def thin_curve(x: np.ndarray, y: np.ndarray, points: int = CURVE_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """At most `points` points of a curve, evenly spaced along x, always keeping both ends."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) <= points:
        return x, y
    grid = np.linspace(x[0], x[-1], points)
    return grid, np.interp(grid, x, y)


def gain_curve_chart(
    curves: dict[str, tuple[np.ndarray, np.ndarray]], *, title: str, y_title: str
) -> alt.Chart:
    """Cumulative gain curves (model, random, perfect) on a share-of-users axis.

    The vertical scale is set by the model's and random targeting's curves: the perfect curve
    (every responder first) is often ten times higher and would flatten the model's into the
    axis. It is drawn up to the top of the chart and clipped there; its tooltip keeps its value.
    """
    frames = []
    for label, (x, y) in curves.items():
        x, y = thin_curve(x, y)
        share = x / x[-1] if x[-1] else x
        frames.append(pd.DataFrame({"share targeted": share, y_title: y, "curve": label}))
    data = pd.concat(frames, ignore_index=True)
    shown = data.loc[data["curve"] != "perfect", y_title]
    low, high = float(min(shown.min(), 0.0)), float(shown.max())
    pad = 0.1 * (high - low) if high > low else 1.0
    colors = alt.Scale(domain=list(curves), range=[MODEL_COLOR, RANDOM_COLOR, PERFECT_COLOR][: len(curves)])
    return (
        alt.Chart(data, title=title)
        .mark_line(clip=True)
        .encode(
            x=alt.X("share targeted:Q", axis=alt.Axis(format="%")),
            y=alt.Y(f"{y_title}:Q", scale=alt.Scale(domain=[low - (pad if low < 0 else 0.0), high + pad])),
            color=alt.Color("curve:N", scale=colors, legend=alt.Legend(orient="bottom")),
            strokeDash=alt.condition(alt.datum.curve == "random", alt.value([4, 4]), alt.value([0])),
            tooltip=[
                "curve:N",
                alt.Tooltip("share targeted:Q", format=".1%"),
                alt.Tooltip(f"{y_title}:Q", format=".2f"),
            ],
        )
    )


def estimate_with_interval_chart(
    data: pd.DataFrame,
    *,
    category: str,
    estimate: str,
    lower: str,
    upper: str,
    title: str,
    unit: str = "pp",
) -> alt.Chart:
    """Point estimates with 95% interval bars, one per category (arms, deciles, segments).

    `unit` is a CHART_UNITS key: "pp" for effects on a rate, "rate" for rates, "level" else."""
    data, suffix = _in_unit(data, [estimate, lower, upper], unit)
    axis = alt.Axis(title=f"{estimate}{suffix}")
    base = alt.Chart(data, title=title).encode(x=alt.X(f"{category}:N", sort=None, title=category))
    points = base.mark_point(filled=True, size=70, color=MODEL_COLOR).encode(
        y=alt.Y(f"{estimate}:Q", axis=axis),
        tooltip=[
            f"{category}:N",
            alt.Tooltip(f"{estimate}:Q", format=",.3f"),
            alt.Tooltip(f"{lower}:Q", format=",.3f"),
            alt.Tooltip(f"{upper}:Q", format=",.3f"),
        ],
    )
    bars = base.mark_rule(color=MODEL_COLOR).encode(y=f"{lower}:Q", y2=f"{upper}:Q")
    zero = (
        alt.Chart(pd.DataFrame({"zero": [0.0]}))
        .mark_rule(color=RANDOM_COLOR, strokeDash=[4, 4])
        .encode(y="zero:Q")
    )
    return zero + bars + points


def balance_chart(balance: pd.DataFrame, *, passed: bool, threshold: float = 0.1) -> alt.Chart:
    """Standardized mean differences per feature, with the ±threshold rule of thumb marked.

    The colours agree with the randomization verdict (`passed`): a difference beyond the rule
    of thumb is red only when the joint test finds imbalance. When it does not, such a bar is
    amber, "large here, but within chance": with a few hundred rows an SMD above 0.1 is common
    in a perfectly randomized experiment, and a red bar beside a green verdict says two things.
    """
    large = balance["smd"].abs() > threshold
    status = np.where(
        ~large, "within the rule of thumb", np.where(passed, "large, within chance", "imbalanced")
    )
    data = balance.assign(status=status)
    bars = (
        alt.Chart(data, title="Covariate balance (standardized mean difference, treated − control)")
        .mark_bar()
        .encode(
            x=alt.X("smd:Q", title="SMD"),
            y=alt.Y("feature:N", sort=None, title=None),
            color=alt.Color(
                "status:N",
                scale=alt.Scale(
                    domain=["within the rule of thumb", "large, within chance", "imbalanced"],
                    range=[MODEL_COLOR, "#d97706", "#dc2626"],
                ),
                legend=alt.Legend(orient="bottom", title=None),
            ),
            tooltip=["feature:N", alt.Tooltip("smd:Q", format=".4f"), "status:N"],
        )
    )
    limits = (
        alt.Chart(pd.DataFrame({"limit": [-threshold, threshold]}))
        .mark_rule(color=RANDOM_COLOR, strokeDash=[4, 4])
        .encode(x="limit:Q")
    )
    return bars + limits


def histogram_chart(
    values: np.ndarray, *, title: str, x_title: str, unit: str = "level", bins: int = 60
) -> alt.Chart:
    """A histogram computed here (not in the browser) so a million values cost a few bytes.

    `unit` is a CHART_UNITS key: predicted uplift on a 0/1 outcome is drawn in percentage
    points, on an amount (spend) in its own units."""
    values = np.asarray(values, dtype=float)
    counts, edges = np.histogram(values[np.isfinite(values)], bins=bins)
    data, suffix = _in_unit(
        pd.DataFrame({"start": edges[:-1], "end": edges[1:], "users": counts}), ["start", "end"], unit
    )
    return (
        alt.Chart(data, title=title)
        .mark_bar(color=MODEL_COLOR)
        .encode(
            x=alt.X("start:Q", bin="binned", title=f"{x_title}{suffix}"),
            x2="end:Q",
            y=alt.Y("users:Q"),
            tooltip=[alt.Tooltip("start:Q", format=",.3f"), alt.Tooltip("end:Q", format=",.3f"), "users:Q"],
        )
    )


def evaluation_charts(holdout: pd.DataFrame) -> tuple[alt.Chart, alt.Chart | None]:
    """Qini and uplift curves of a holdout (model, random, perfect), scikit-uplift definitions.

    The uplift curve and its perfect curve exist only for 0/1 outcomes; for an amount the
    second chart is None.
    """
    y, uplift, t = holdout["y"].to_numpy(), holdout["uplift"].to_numpy(), holdout["t"].to_numpy()
    binary = set(np.unique(y)) <= {0.0, 1.0}
    qini = _with_random(metrics.qini_curve(y, uplift, t))
    if binary:
        qini["perfect"] = metrics.perfect_qini_curve(y, t)
    qini_chart = gain_curve_chart(qini, title="Qini curve (holdout)", y_title="incremental outcomes")
    if not binary:
        return qini_chart, None
    curves = _with_random(metrics.uplift_curve(y, uplift, t))
    curves["perfect"] = metrics.perfect_uplift_curve(y, t)
    return qini_chart, gain_curve_chart(curves, title="Uplift curve (holdout)", y_title="uplift × users")


def observed_vs_predicted_chart(
    table: pd.DataFrame, *, category: str, title: str, percent: bool = True
) -> alt.Chart:
    """Observed uplift per group (95% CI) with the model's mean prediction as an orange tick.

    `table` has columns `uplift`, `uplift_lower`, `uplift_upper` (observed) and
    `predicted_uplift`; a prediction outside the observed interval is visible at a glance.
    """
    unit = effect_unit(percent)
    observed = estimate_with_interval_chart(
        table,
        category=category,
        estimate="uplift",
        lower="uplift_lower",
        upper="uplift_upper",
        title=title,
        unit=unit,
    )
    predicted = (
        alt.Chart(_in_unit(table, ["predicted_uplift"], unit)[0])
        .mark_tick(color=PREDICTED_COLOR, thickness=3, size=24)
        .encode(
            x=alt.X(f"{category}:N", sort=None),
            y="predicted_uplift:Q",
            tooltip=[f"{category}:N", alt.Tooltip("predicted_uplift:Q", format=",.3f")],
        )
    )
    return observed + predicted


def decile_chart(deciles: pd.DataFrame, *, percent: bool = True) -> alt.Chart:
    """Observed uplift per decile of predicted uplift against the mean prediction."""
    return observed_vs_predicted_chart(
        deciles,
        category="percentile",
        percent=percent,
        title="Observed uplift by decile of predicted uplift (95% CI); orange: mean prediction",
    )


def calibration_chart(table: pd.DataFrame, *, percent: bool = True) -> alt.Chart:
    """Doubly robust observed effect (95% CI) against mean predicted uplift per group, with the
    diagonal a calibrated model's points lie on (`evaluation.validation.calibration_table`)."""
    unit = effect_unit(percent)
    data, suffix = _in_unit(table, ["predicted", "observed", "observed_lower", "observed_upper"], unit)
    low = float(min(data["predicted"].min(), data["observed_lower"].min()))
    high = float(max(data["predicted"].max(), data["observed_upper"].max()))
    diagonal = (
        alt.Chart(pd.DataFrame({"predicted": [low, high], "observed": [low, high]}))
        .mark_line(color=RANDOM_COLOR, strokeDash=[4, 4])
        .encode(x="predicted:Q", y="observed:Q")
    )
    x = alt.X("predicted:Q", title=f"mean predicted uplift{suffix}", scale=alt.Scale(zero=False))
    tooltip = [
        alt.Tooltip("group:O", title="group"),
        alt.Tooltip("n:Q", format=","),
        alt.Tooltip("predicted:Q", format=",.3f"),
        alt.Tooltip("observed:Q", format=",.3f"),
        alt.Tooltip("observed_lower:Q", format=",.3f", title="observed lower"),
        alt.Tooltip("observed_upper:Q", format=",.3f", title="observed upper"),
    ]
    bars = (
        alt.Chart(data)
        .mark_rule(color=MODEL_COLOR)
        .encode(
            x=x,
            y=alt.Y("observed_lower:Q", title=f"observed effect, doubly robust{suffix}"),
            y2="observed_upper:Q",
        )
    )
    points = (
        alt.Chart(data).mark_circle(color=MODEL_COLOR, size=70).encode(x=x, y="observed:Q", tooltip=tooltip)
    )
    return (diagonal + bars + points).properties(
        title="Calibration: observed against predicted uplift by group (95% CI); dashed: calibrated"
    )


def toc_chart(toc: pd.DataFrame, *, percent: bool = True) -> alt.Chart:
    """The targeting operator characteristic with its 95% band (`validation.targeting_curve`)."""
    unit = effect_unit(percent)
    data, suffix = _in_unit(toc.assign(share=toc["fraction"] * 100), ["toc", "toc_lower", "toc_upper"], unit)
    x = alt.X("share:Q", title="share of users targeted, highest predicted uplift first (%)")
    band = (
        alt.Chart(data)
        .mark_area(opacity=0.2, color=MODEL_COLOR)
        .encode(x=x, y="toc_lower:Q", y2="toc_upper:Q")
    )
    line = (
        alt.Chart(data)
        .mark_line(color=MODEL_COLOR, point=True)
        .encode(
            x=x,
            y=alt.Y("toc:Q", title=f"effect among the targeted minus average effect{suffix}"),
            tooltip=[
                alt.Tooltip("share:Q", format=".0f", title="share (%)"),
                alt.Tooltip("toc:Q", format=",.3f"),
                alt.Tooltip("toc_lower:Q", format=",.3f", title="lower"),
                alt.Tooltip("toc_upper:Q", format=",.3f", title="upper"),
            ],
        )
    )
    zero = alt.Chart(pd.DataFrame({"y": [0.0]})).mark_rule(color=RANDOM_COLOR).encode(y="y:Q")
    return (band + line + zero).properties(title="Targeting operator characteristic (95% band); 0: random")


def holdout_charts(holdout: pd.DataFrame, deciles: pd.DataFrame | None, *, binary: bool) -> list[alt.Chart]:
    """A model's holdout evidence as charts, in reading order: the Qini curve, the uplift curve
    (0/1 outcomes only), observed against predicted uplift by decile, and the distribution of
    predicted uplift. The Train page and the report show the same list."""
    qini, uplift = evaluation_charts(holdout)
    shown = [qini] if uplift is None else [qini, uplift]
    if deciles is not None and len(deciles):
        shown.append(decile_chart(deciles, percent=binary))
    shown.append(
        histogram_chart(
            holdout["uplift"],
            title="Predicted uplift on the holdout",
            x_title="uplift",
            unit=effect_unit(binary),
        )
    )
    return shown


def validation_charts(summary: dict, *, binary: bool) -> list[alt.Chart]:
    """The calibration chart and, where it could be computed, the targeting curve, from
    `evaluation.validation.validation_summary`."""
    shown = [calibration_chart(pd.DataFrame(summary["calibration"]), percent=binary)]
    targeting = summary["targeting"]
    if "unavailable" not in targeting:
        shown.append(toc_chart(pd.DataFrame(targeting["toc"]), percent=binary))
    return shown


def allocation_chart(per_segment: pd.DataFrame) -> alt.Chart:
    """Users contacted per segment under the traditional and the causal plan, side by side."""
    data = per_segment.melt(
        id_vars="segment",
        value_vars=["traditional_contacts", "causal_contacts"],
        var_name="plan",
        value_name="contacts",
    )
    data["plan"] = data["plan"].str.replace("_contacts", "")
    return (
        alt.Chart(data, title="Users contacted per segment")
        .mark_bar()
        .encode(
            x=alt.X("segment:N", sort=None, title=None),
            xOffset="plan:N",
            y="contacts:Q",
            color=alt.Color("plan:N", legend=alt.Legend(orient="bottom")),
            tooltip=["segment:N", "plan:N", alt.Tooltip("contacts:Q", format=",")],
        )
    )


def targeting_curves_chart(curves: pd.DataFrame, *, strategies, share: float) -> alt.Chart:
    """Observed incremental revenue by share targeted per strategy (95% band), budget marked."""
    base = alt.Chart(
        curves, title="Incremental revenue by share targeted (observed, 95% band); rule: the budget"
    )
    x = alt.X("share:Q", axis=alt.Axis(format="%"), title="share of holdout users targeted")
    colors = alt.Scale(domain=list(strategies), range=[RANDOM_COLOR, PREDICTED_COLOR, MODEL_COLOR])
    band = base.mark_area(opacity=0.12).encode(
        x=x, y="revenue_lower:Q", y2="revenue_upper:Q", color=alt.Color("strategy:N", scale=colors)
    )
    line = base.mark_line().encode(
        x=x,
        y=alt.Y("revenue:Q", title="incremental revenue"),
        color=alt.Color("strategy:N", scale=colors, legend=alt.Legend(orient="bottom")),
        tooltip=["strategy:N", alt.Tooltip("share:Q", format=".0%"), alt.Tooltip("revenue:Q", format=",.0f")],
    )
    rule = alt.Chart(pd.DataFrame({"share": [share]})).mark_rule(strokeDash=[4, 4]).encode(x="share:Q")
    return band + line + rule


def sweep_chart(sweep: pd.DataFrame, feature: str, current: float, *, percent: bool) -> alt.Chart:
    """A numeric sweep's uplift curve with its 95% band, the profile's current value marked."""
    feature = shorten(feature)  # a name from the training data: any length
    sweep, suffix = _in_unit(sweep, ["uplift", "uplift_lower", "uplift_upper"], effect_unit(percent))
    axis = alt.Axis(title=f"uplift{suffix} (95% CI)")
    base = alt.Chart(sweep, title=f"Uplift as {feature} changes, the rest of the profile fixed").encode(
        x=alt.X("value:Q", title=feature)
    )
    band = base.mark_area(opacity=0.2, color=MODEL_COLOR).encode(
        y=alt.Y("uplift_lower:Q", axis=axis), y2="uplift_upper:Q"
    )
    line = base.mark_line(color=MODEL_COLOR).encode(
        y="uplift:Q",
        tooltip=[
            "value:Q",
            alt.Tooltip("uplift:Q", format=",.3f"),
            alt.Tooltip("uplift_lower:Q", format=",.3f", title="lower"),
            alt.Tooltip("uplift_upper:Q", format=",.3f", title="upper"),
        ],
    )
    now = alt.Chart(pd.DataFrame({"value": [current]})).mark_rule(color="#ea580c", strokeDash=[4, 4])
    return (
        band
        + line
        + now.encode(x="value:Q", tooltip=[alt.Tooltip("value:Q", title=f"this user's {feature}")])
    )


# ------------------------------------------------------------------ batch


def contribution_chart(table: pd.DataFrame, *, percent: bool) -> alt.Chart:
    """Bars of the non-zero contributions of an `explain_uplift` table, largest first."""
    shown = table[table["contribution"] != 0].astype({"value": str, "baseline": str})
    shown, suffix = _in_unit(shown, ["contribution"], effect_unit(percent))
    return (
        alt.Chart(shown, title="What moves this user's uplift away from the typical user's")
        .mark_bar(color=MODEL_COLOR)
        .encode(
            x=alt.X("contribution:Q", title=f"contribution{suffix}"),
            y=alt.Y("feature:N", sort=None, title=None),
            tooltip=["feature:N", "value:N", "baseline:N", alt.Tooltip("contribution:Q", format=".4f")],
        )
    )


def _with_random(model_curve: tuple[np.ndarray, np.ndarray]) -> dict:
    """The model's curve and the random-targeting line from the origin to its end point."""
    x, y = model_curve
    return {"model": (x, y), "random": (np.array([0.0, x[-1]]), np.array([0.0, y[-1]]))}


def channel_heatmap(table: pd.DataFrame, *, percent: bool) -> alt.Chart:
    """Which channel works for which segment: observed uplift per segment and channel, coloured
    around zero, with the 95% interval and the users a hover away."""
    scale = 100.0 if percent else 1.0
    unit = " pp" if percent else ""
    data = pd.DataFrame(
        {
            "segment": table["segment"].map(shorten),
            "channel": table["channel"].map(shorten),
            "uplift": table["observed_uplift"] * scale,
            "interval": [
                f"[{lo * scale:+.2f}{unit}, {hi * scale:+.2f}{unit}]"
                for lo, hi in zip(table["observed_uplift_lower"], table["observed_uplift_upper"], strict=True)
            ],
            "users": table["treated"] + table["control"],
        }
    )
    extreme = float(np.nanmax(np.abs(data["uplift"]))) if data["uplift"].notna().any() else 1.0
    base = alt.Chart(
        data, title=f"Observed uplift per segment and channel{' (pp)' if percent else ''}"
    ).encode(x=alt.X("channel:N", sort=None, title=None), y=alt.Y("segment:N", sort=None, title=None))
    cells = base.mark_rect().encode(
        color=alt.Color(
            "uplift:Q", scale=alt.Scale(scheme="redblue", domain=[-extreme, extreme]), title="uplift"
        ),
        tooltip=[
            "segment:N",
            "channel:N",
            alt.Tooltip("uplift:Q", format="+.2f", title=f"uplift{unit}"),
            alt.Tooltip("interval:N", title="95% CI"),
            alt.Tooltip("users:Q", format=","),
        ],
    )
    labels = base.mark_text().encode(text=alt.Text("uplift:Q", format="+.2f"))
    return cells + labels


def credit_share_chart(shares: pd.DataFrame) -> alt.Chart:
    """Each model's share of credited conversions per channel, models side by side within a channel
    (`present.journey_tables.credit_shares`)."""
    data = shares.assign(channel=shares["channel"].map(shorten))
    return (
        alt.Chart(data, title="Share of credited conversions, by model")
        .mark_bar()
        .encode(
            x=alt.X("channel:N", sort=None, title=None),
            xOffset=alt.XOffset("model:N", sort=None),
            y=alt.Y("share:Q", axis=alt.Axis(format="%"), title="share of credit"),
            color=alt.Color("model:N", sort=None, title="model"),
            tooltip=[
                "channel:N",
                "model:N",
                alt.Tooltip("share:Q", format=".1%"),
                alt.Tooltip("conversions:Q", format=",.1f", title="credited conversions"),
            ],
        )
    )


def credit_against_incremental_chart(
    shares: pd.DataFrame, incremental: pd.DataFrame, *, label: str
) -> alt.Chart:
    """Each model's share of credit per channel (bars) against each channel's share of the
    incremental conversions (black ticks): where they differ, a budget following the model
    follows conversions the channel did not cause."""
    bars = credit_share_chart(shares).properties(
        title=f"Share of credit (bars) against share of incremental conversions ({label}, ticks)"
    )
    ticks = (
        alt.Chart(incremental.assign(channel=incremental["channel"].map(shorten)))
        .mark_tick(color="black", thickness=3, size=40)
        .encode(
            x=alt.X("channel:N", sort=None),
            y=alt.Y("share:Q"),
            tooltip=[
                "channel:N",
                alt.Tooltip("share:Q", format=".1%", title=f"share of incremental ({label})"),
            ],
        )
    )
    return bars + ticks


def touches_chart(histogram: pd.DataFrame) -> alt.Chart:
    """Attributed conversions by the number of touches on their path."""
    return (
        alt.Chart(histogram, title="Touches before converting")
        .mark_bar(color=MODEL_COLOR)
        .encode(
            x=alt.X("touches:N", sort=None, title="touches on the path"),
            y=alt.Y("conversions:Q", title="conversions"),
            tooltip=["touches:N", alt.Tooltip("conversions:Q", format=",")],
        )
    )
