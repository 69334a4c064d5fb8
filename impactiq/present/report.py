"""One model on one page: a self-contained HTML report to download, archive or send.

A report is the evidence a targeting decision was taken on, so it has to open months later, on a
laptop without the app, without a network, in any browser, and still show what the Train page
showed: what was trained on which data, how well it ranks on the holdout (every estimate with its
95% interval), whether its intervals were calibrated, which estimators it was chosen from and
whether it survived the refutation checks. Everything is therefore inside the one file: numbers
as text written by `formatting.format_estimate`, and charts as Vega-Lite specs (`present.charts`)
drawn by the vega-embed bundle that vl-convert ships, inlined. Nothing is fetched: there is no
`src` or `href` to any address, and the page's Content-Security-Policy forbids any request.

Names in a model come from files and users (data set, features, arms, outcome): every one is
HTML-escaped, and the JSON of a chart is written so that it cannot close its script element.
A section whose data the model lacks (no comparison, no refutation) says so and how to get it.
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import importlib.util
import json
import math
import re

import altair as alt
import pandas as pd

from impactiq.errors import ImpactIQError
from impactiq.evaluation.comparison import Comparison
from impactiq.evaluation.validation import validation_summary
from impactiq.present import charts
from impactiq.present.formatting import MISSING, effect_unit, format_estimate
from impactiq.present.tables import (
    holdout_heterogeneity_verdict,
    metrics_table,
    quality_verdict,
    uncalibrated_reason,
)
from impactiq.present.validation import (
    calibration_rows,
    calibration_sentence,
    comparison_sentence,
    estimate_text,
    readable_comparison,
    readable_refutation,
    refutation_verdict,
    targeting_sentence,
)
from impactiq.uplift.arms import ArmView
from impactiq.uplift.store import json_ready, library_versions

# The shortest prefix of a data fingerprint that still tells two data sets apart at a glance.
FINGERPRINT_CHARS = 12
# Characters a file name may hold; everything else becomes '_'.
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9_.-]+")
_FILENAME_PART_CHARS = 60
# Charts may export themselves as PNG or SVG (drawn in the page); the editor and source links
# would leave the file, so they are off.
_EMBED_OPTIONS = {"actions": {"export": True, "source": False, "compiled": False, "editor": False}}
# Scripts and styles inline only; no request of any kind. Vega compiles its expressions with
# `Function`, hence 'unsafe-eval'; exported images are data: and blob: URLs.
_CSP = (
    "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
    "img-src data: blob:; connect-src 'none'; base-uri 'none'; form-action 'none'"
)
_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #111827; margin: 0; }
main { max-width: 1100px; margin: 0 auto; padding: 1.5rem; }
h1 { font-size: 1.6rem; } h2 { border-bottom: 1px solid #e5e7eb; padding-bottom: .3rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: .9rem; }
th, td { border: 1px solid #e5e7eb; padding: .3rem .6rem; text-align: left; vertical-align: top; }
th { background: #f9fafb; }
.verdict { border-left: 4px solid #9ca3af; background: #f9fafb; padding: .5rem .8rem; margin: .5rem 0; }
.verdict.good { border-color: #16a34a; } .verdict.bad { border-color: #dc2626; }
.verdict.off { border-color: #ea580c; }
.note { color: #4b5563; font-size: .9rem; }
.charts { display: flex; flex-wrap: wrap; gap: 1rem; }
.chart { flex: 1 1 480px; min-height: 120px; }
"""
# The drawing code: every chart's spec is JSON in a <script type="application/json"> beside its
# <div>; a chart that fails says so in its place instead of leaving a blank.
_DRAW = """
document.querySelectorAll("div[data-spec]").forEach(function (target) {
  var spec = JSON.parse(document.getElementById(target.dataset.spec).textContent);
  vegaEmbed(target, spec, %s).catch(function (error) {
    target.textContent = "This chart could not be drawn: " + error;
  });
});
"""


# Why there is no report where the chart renderer is missing: the Train page says it before it
# offers the download, and building a report (the command line) raises it.
NO_RENDERER = (
    "The report's charts need the vl-convert-python package, which is not installed here; install the "
    "requirements (pip install -r requirements.txt) to build the report."
)


def report_unavailable() -> str | None:
    """Why no report can be built on this machine (its chart renderer is not installed), or None.

    Checked without importing it, so that the Train page can say so in words before it offers a
    download: a download built on click that fails shows only the browser's generic error."""
    return NO_RENDERER if importlib.util.find_spec("vl_convert") is None else None


def model_report(model) -> str:
    """The complete HTML document describing `model` (see the module).

    `model` is a `TrainedModel` (just trained) or a `SavedModel` (`uplift.store.load_model`);
    a multi-arm model gets one section of holdout evidence per arm against control.
    """
    binary = model.schema.is_binary(model.outcome)
    page = _Page()
    title = f"ImpactIQ model report: {_model_title(model)}"
    page.add(f"<h1>{_escape(title)}</h1>")
    _summary(page, model, binary)
    if model.arms:
        for arm in model.arms:
            view = ArmView(model, arm)
            _evidence(page, view, binary, f"Holdout evidence: {view.label}")
    else:
        _evidence(page, model, binary, "Holdout evidence")
    _intervals(page, model)
    _comparison(page, model, binary)
    _refutation(page, model.data.get("refutation"), binary)
    return page.document(title)


def report_filename(model) -> str:
    """A file name for `model`'s report: impactiq-report-<name or estimator>-<outcome>.html, made of
    letters, digits, '-', '_' and '.' only, so that it is safe on every file system and in a
    download header."""
    parts = [_filename_part(getattr(model, "name", None) or model.estimator), _filename_part(model.outcome)]
    return f"impactiq-report-{'-'.join(parts)}.html"


# ------------------------------------------------------------------ sections


def _summary(page: _Page, model, binary: bool) -> None:
    """What was trained, on which data, with which settings and libraries."""
    data, schema = model.data, model.schema
    metadata = getattr(model, "metadata", None) or {}
    fingerprint = (data.get("fingerprint") or {}).get("sha256")
    rows = [
        ("Model", getattr(model, "name", None) or "not saved (trained in this session)"),
        ("Estimator", model.estimator),
        ("Parameters", ", ".join(f"{k}={v}" for k, v in sorted(model.params.items())) or MISSING),
        (
            "Outcome",
            f"{model.outcome} ("
            + ("0/1: effects in percentage points" if binary else "an amount: effects in its own units")
            + ")",
        ),
        ("Treatment", _treatment_text(model)),
        ("Features", f"{len(schema.features)}: {', '.join(map(str, schema.features))}"),
        ("Data set", data.get("name") or MISSING),
        ("Rows", _rows_text(data)),
        ("Seed", model.seed),
        ("Data fingerprint (SHA-256)", f"{fingerprint[:FINGERPRINT_CHARS]}…" if fingerprint else MISSING),
        ("Created (UTC)", metadata.get("created") or "not saved yet"),
        ("Fit time", _fit_text(model.fit)),
        (
            "Library versions",
            _versions_text(metadata.get("versions") if metadata else library_versions()),
        ),
        ("Report written (UTC)", dt.datetime.now(dt.UTC).isoformat(timespec="seconds")),
    ]
    page.add("<h2>Summary</h2>")
    page.pairs(rows)


def _evidence(page: _Page, view, binary: bool, title: str) -> None:
    """Verdicts, holdout metrics, validation and charts of a two-arm model or one arm's view."""
    holdout = view.holdout
    page.add(f"<h2>{_escape(title)}</h2>")
    page.verdict(*quality_verdict(view.metrics))
    page.verdict(*holdout_heterogeneity_verdict(holdout, binary=binary))
    page.add("<h3>Holdout metrics (95% CI)</h3>")
    page.table(metrics_table(view.metrics, binary=binary))
    page.charts(charts.holdout_charts(holdout, view.deciles, binary=binary))
    _validation(page, validation_summary(holdout), binary)


def _validation(page: _Page, summary: dict, binary: bool) -> None:
    """The best linear predictor, the calibration by group and the targeting curve with AUTOC."""
    unit = effect_unit(binary)
    page.add("<h3>Validation</h3>")
    blp = summary["best_linear_predictor"]
    if "unavailable" in blp:
        page.note(f"The best linear predictor test could not be run: {blp['unavailable']}")
    else:
        p_value = blp["p_value"]
        page.table(
            pd.DataFrame(
                [
                    ("average effect (b1)", estimate_text(blp["ate"], unit), "doubly robust, on the holdout"),
                    ("slope (b2)", estimate_text(blp["slope"], "score"), "1: calibrated; 0: no information"),
                    (
                        "one-sided p-value (b2 <= 0)",
                        f"{p_value:.2g}" if _finite(p_value) else f"{MISSING} (no spread in the scores)",
                        "small: the model captures heterogeneity",
                    ),
                    ("rows", f"{blp['n']:,}", ""),
                ],
                columns=["best linear predictor", "estimate [95% CI]", "meaning"],
            )
        )
        page.note(blp["definition"])
    targeting = summary["targeting"]
    if "unavailable" in targeting:
        page.note(f"The targeting curve could not be computed: {targeting['unavailable']}")
    else:
        page.add(f"<p>{_escape(targeting_sentence(targeting['autoc'], binary=binary))}</p>")
        page.note(targeting["definition"])
    calibration = pd.DataFrame(summary["calibration"])
    page.add(f"<p>{_escape(calibration_sentence(calibration))}</p>")
    page.table(calibration_rows(calibration, binary=binary))
    page.charts(charts.validation_charts(summary, binary=binary))


def _intervals(page: _Page, model) -> None:
    """How the individual intervals are computed, and the factor calibration put on their width."""
    page.add("<h2>Intervals</h2>")
    if not model.has_intervals:
        page.note(f"The {model.estimator} model gives no intervals, so there is nothing to calibrate.")
        return
    method = getattr(model.model, "interval_method", None) or MISSING
    page.pairs([("Interval method (95%)", method)])
    reason = uncalibrated_reason(model.data)
    if reason:
        page.note(reason)
        return
    calibration = model.data["interval_calibration"]
    arms = model.arms or ("treated",)
    # Models calibrated before the twin's own factor was recorded applied it as it was.
    asked = calibration.get("twin_scale", calibration["scale"])
    rows = []
    for arm, scale, twin, coverage in zip(
        arms, calibration["scale"], asked, calibration["twin_coverage"], strict=False
    ):
        rows.append(
            {
                "arm": arm,
                "factor on the interval width": f"{scale:.2f}" if _finite(scale) else MISSING,
                "factor the twin asked for": f"{twin:.2f}" if _finite(twin) else MISSING,
                "coverage on the twin before calibration": format_estimate(coverage, unit="share"),
            }
        )
    page.table(pd.DataFrame(rows))
    page.note(
        f"Learned on {calibration.get('n_fit', 0):,} fit rows and {calibration.get('n_validation', 0):,} "
        f"validation rows of the training data: {calibration.get('method', '')}. A factor above 1 widens the "
        "estimator's own intervals, below 1 narrows them; 95% is the coverage they aim for."
    )


def _comparison(page: _Page, model, binary: bool) -> None:
    """The estimators compared by `estimator="auto"`, and why the chosen one was chosen."""
    page.add("<h2>Model comparison</h2>")
    selection = model.data.get("selection")
    if not selection:
        page.note(
            f"Estimators were not compared for this model: it was trained as {model.estimator} directly. "
            "Train with the estimator 'auto' on the Train page (or --estimator auto) to compare them."
        )
        return
    comparison = Comparison.from_dict(selection)
    page.table(readable_comparison(comparison, binary=binary))
    page.add(f"<p>{_escape(comparison_sentence(comparison))}</p>")
    page.note(comparison.loss_definition)


def _refutation(page: _Page, checks: list[dict] | None, binary: bool) -> None:
    """The refutation checks: placebo treatment, random common cause, data subsets."""
    page.add("<h2>Refutation checks</h2>")
    if not checks:
        page.note("Refutation checks were not run for this model; run them on the Train page.")
        return
    page.verdict(*refutation_verdict(checks))
    page.table(readable_refutation(checks, binary=binary))
    page.note(
        "Each check refits the model: on a shuffled treatment (the effect must vanish), with a noise "
        "feature added and on subsets of the training rows (the mean effect must stay within the 95% "
        "half-width of the doubly robust average effect, the tolerance)."
    )


# ------------------------------------------------------------------ sentences and cells


def _model_title(model) -> str:
    return f"{getattr(model, 'name', None) or model.estimator} for {model.outcome}"


def _treatment_text(model) -> str:
    schema = model.schema
    control = ", ".join(map(str, schema.control_values))
    if model.arms:
        shares = model.data.get("arm_shares") or {}
        arms = ", ".join(
            f"{arm} ({format_estimate(shares[arm], unit='share')} of rows)" if arm in shares else str(arm)
            for arm in model.arms
        )
        return f"column {schema.treatment}: arms {arms}, each against control {control}"
    treated = ", ".join(map(str, schema.treated_values))
    return f"column {schema.treatment}: treated {treated} against control {control}"


def _rows_text(data: dict) -> str:
    if "n_rows" not in data:
        return MISSING
    text = f"{data['n_rows']:,} rows"
    if data.get("sample"):
        text += f" (a stratified sample of {data['sample']:,})"
    if "n_train" in data and "n_holdout" in data:
        text += f"; trained on {data['n_train']:,}, judged on a holdout of {data['n_holdout']:,}"
        if _finite(data.get("test_size")):
            text += f" ({format_estimate(data['test_size'], unit='share')})"
    return text


def _fit_text(fit: dict) -> str:
    if not _finite(fit.get("seconds")):
        return MISSING
    text = f"{fit['seconds']:.1f} s"
    if _finite(fit.get("calibration_seconds")):
        text += f", interval calibration {fit['calibration_seconds']:.1f} s"
    return text


def _versions_text(versions: dict | None) -> str:
    if not versions:
        return f"{MISSING} (not recorded)"
    return ", ".join(f"{library} {version or 'not installed'}" for library, version in versions.items())


def _filename_part(value: object) -> str:
    part = _UNSAFE_FILENAME.sub("_", str(value)).strip("._-")[:_FILENAME_PART_CHARS]
    return part or "model"


def _finite(value) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


# ------------------------------------------------------------------ HTML


def _escape(value: object) -> str:
    return html.escape(str(value), quote=True)


def _script_json(value) -> str:
    """`value` as JSON that is safe inside a <script> element: no '<', '>' or '&' at all (they are
    written as \\u escapes, which JSON reads back unchanged), so no '</script>' or '<!--' can appear;
    NaN and infinity become null."""
    text = json.dumps(json_ready(value), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _inline_script(code: str) -> str:
    """JavaScript that cannot end its <script> element early (a no-op on vl-convert's bundle)."""
    return re.sub("</(script)", r"<\\/\1", code, flags=re.IGNORECASE).replace("<!--", "<\\!--")


class _Page:
    """The report's body, built part by part; charts are numbered in order of appearance."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.n_charts = 0

    def add(self, markup: str) -> None:
        self.parts.append(markup)

    def note(self, text: str) -> None:
        self.add(f'<p class="note">{_escape(text)}</p>')

    def verdict(self, level: str, sentence: str) -> None:
        self.add(f'<p class="verdict {_escape(level)}">{_escape(sentence)}</p>')

    def pairs(self, rows) -> None:
        cells = "".join(f"<tr><th>{_escape(k)}</th><td>{_escape(v)}</td></tr>" for k, v in rows)
        self.add(f"<table>{cells}</table>")

    def table(self, table: pd.DataFrame) -> None:
        """A table of text cells, every header and cell escaped; a missing cell is a dash."""
        head = "".join(f"<th>{_escape(c)}</th>" for c in table.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{_escape(_cell(v))}</td>" for v in row) + "</tr>"
            for row in table.itertuples(index=False)
        )
        self.add(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")

    def charts(self, shown) -> None:
        """Charts side by side: each a <div> and its Vega-Lite spec as JSON, drawn on load."""
        parts = []
        for chart in shown:
            self.n_charts += 1
            spec_id = f"chart-spec-{self.n_charts}"
            parts.append(
                f'<div class="chart" data-spec="{spec_id}"></div>'
                f'<script type="application/json" id="{spec_id}">{_script_json(chart.to_dict())}</script>'
            )
        self.add(f'<div class="charts">{"".join(parts)}</div>')

    def document(self, title: str) -> str:
        versions = _vega_versions()
        draw = _DRAW % json.dumps(_EMBED_OPTIONS)
        return "\n".join(
            [
                "<!DOCTYPE html>",
                '<html lang="en">',
                "<head>",
                '<meta charset="utf-8">',
                f'<meta http-equiv="Content-Security-Policy" content="{_escape(_CSP)}">',
                '<meta name="viewport" content="width=device-width, initial-scale=1">',
                f"<title>{_escape(title)}</title>",
                f"<style>{_STYLE}</style>",
                "</head>",
                "<body>",
                "<main>",
                *self.parts,
                f'<p class="note">Written by ImpactIQ. Charts drawn offline by {_escape(versions)}, '
                "included in this file.</p>",
                "</main>",
                f"<script>\n// {versions}, inlined so that the report works offline\n"
                f"{_inline_script(_vega_bundle())}\n</script>",
                f"<script>{draw}</script>",
                "</body>",
                "</html>",
            ]
        )


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return MISSING
    return str(value)


@functools.cache
def _vega_bundle() -> str:
    """vega, vega-lite and vega-embed as one script defining `vegaEmbed` (about 900 KB; built by
    vl-convert in about 4 s, so once per process), for the Vega-Lite version altair writes."""
    vlc = _vl_convert()
    major_minor = "_".join(alt.SCHEMA_VERSION.split(".")[:2])
    return vlc.javascript_bundle(vl_version=major_minor)


@functools.cache
def _vega_versions() -> str:
    vlc = _vl_convert()
    return (
        f"vega {vlc.get_vega_version()}, vega-lite {alt.SCHEMA_VERSION.lstrip('v')}, "
        f"vega-embed {vlc.get_vega_embed_version()}"
    )


def _vl_convert():
    # Imported here: a page that only offers the download should not pay for it at import.
    try:
        import vl_convert
    except ImportError as error:
        raise ImpactIQError(NO_RENDERER) from error
    return vl_convert
