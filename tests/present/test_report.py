"""Tests for the model report: one self-contained HTML page, escaped, with every section it has data for."""

from __future__ import annotations

import dataclasses
import html
import json
import re

import pytest

from impactiq.data.demo import load_demo
from impactiq.data.designs import design_experiment
from impactiq.evaluation.comparison import compare_estimators
from impactiq.evaluation.refutation import refute
from impactiq.evaluation.training import train_model
from impactiq.present.report import model_report, report_filename
from impactiq.uplift.store import load_model, save_model

FAST = {"n_estimators": 20, "min_samples_leaf": 20}
SPEC = re.compile(r'<script type="application/json" id="(chart-spec-\d+)">(.*?)</script>', re.DOTALL)
HOSTILE_DATA = "</script><script>alert(1)</script>"
HOSTILE_FEATURE = "<b>x</b>"
HOSTILE_OUTCOME = '<img src="http://evil.example/x" onerror=alert(2)>'


@pytest.fixture(scope="module")
def experiment():
    return design_experiment("steps", 3_000, seed=1)


@pytest.fixture(scope="module")
def trained(experiment):
    return train_model(experiment, outcome="y", params=FAST, n_boot=20)


@pytest.fixture(scope="module")
def report(trained):
    return model_report(trained)


def _text(document: str) -> str:
    """What a reader sees: the document without its scripts and tags, entities decoded."""
    visible = re.sub(r"<(script|style)\b.*?</\1>", " ", document, flags=re.DOTALL)
    return html.unescape(re.sub(r"<[^>]+>", " ", visible))


def _specs(document: str) -> dict[str, dict]:
    return {spec_id: json.loads(text) for spec_id, text in SPEC.findall(document)}


def test_the_report_is_one_html_page_with_every_section(report, trained):
    assert report.startswith("<!DOCTYPE html>") and report.rstrip().endswith("</html>")
    markup = re.sub(r"<script\b.*?</script>", "", report, flags=re.DOTALL)
    assert markup.count("<html") == 1 and markup.count("<body>") == 1 and markup.count("<main>") == 1
    text = _text(report)
    for heading in ("Summary", "Holdout evidence", "Holdout metrics", "Validation", "Intervals"):
        assert f"<h2>{heading}" in report or f"<h3>{heading}" in report, heading
    assert "causal_forest" in text and "design steps" in text
    assert trained.data["fingerprint"]["sha256"][:12] in text
    assert "numpy" in text and "econml" in text  # the library versions
    assert "Estimators were not compared for this model" in text
    assert "Refutation checks were not run for this model; run them on the Train page." in text


def test_the_report_shows_verdicts_metrics_and_validation_in_words(report):
    text = _text(report)
    assert "Qini" in text and "best linear predictor slope" in text
    assert "Area under the targeting curve (AUTOC" in text
    assert "Average effect, doubly robust (AIPW)" in text
    assert "width calibrated on a simulated twin" in text and "factor on the interval width" in text


def test_numbers_carry_their_interval_in_percentage_points_and_never_read_nan(report):
    text = _text(report)
    assert re.search(r"[+-]\d+\.\d\d pp \[[+-]\d+\.\d\d pp, [+-]\d+\.\d\d pp\]", text)
    assert not re.search(r"\b(nan|inf|infinity)\b", text, flags=re.IGNORECASE)


def test_the_report_makes_no_outside_request(report):
    assert 'src="http' not in report and 'href="http' not in report
    assert not re.search(r"<script[^>]*\bsrc\s*=", report, flags=re.IGNORECASE)
    assert "<link" not in report.lower() and "<iframe" not in report.lower()
    # The Content-Security-Policy forbids any request the page might still try.
    policy = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', report)
    assert "default-src 'none'" in html.unescape(policy.group(1))


def test_the_vega_embed_bundle_is_inline(report):
    assert report.count("window.vegaEmbed=") == 1
    assert len(report) > 500_000
    assert "vega-embed" in report and "vegaEmbed(target, spec" in report


def test_every_chart_spec_is_embedded_as_json(report):
    specs = _specs(report)
    # Qini, uplift (0/1 outcome), deciles, histogram, calibration, targeting.
    assert len(specs) == 6
    assert set(re.findall(r'data-spec="(chart-spec-\d+)"', report)) == set(specs)
    titles = json.dumps(list(specs.values()))
    for title in ("Qini curve (holdout)", "Predicted uplift on the holdout", "Targeting operator"):
        assert title in titles
    assert all("vega-lite" in spec["$schema"] for spec in specs.values())


def test_names_from_data_and_users_appear_only_escaped(trained):
    schema = trained.schema
    hostile = dataclasses.replace(
        trained,
        outcome=HOSTILE_OUTCOME,
        schema=dataclasses.replace(
            schema,
            outcomes=(HOSTILE_OUTCOME,),
            binary_outcomes=(HOSTILE_OUTCOME,),
            numeric_features=(*schema.numeric_features[:-1], HOSTILE_FEATURE),
        ),
        data={**trained.data, "name": HOSTILE_DATA},
    )
    document = model_report(hostile)
    for name in (HOSTILE_DATA, HOSTILE_FEATURE, HOSTILE_OUTCOME):
        assert name not in document
        assert html.escape(name) in document
        assert name in _text(document)  # and reads as written
    # Only the report's own scripts: six chart specs, the bundle and the drawing code.
    assert document.count("<script") == 8 and document.count("</script>") == 8
    assert len(_specs(document)) == 6
    assert re.fullmatch(r"[A-Za-z0-9_.-]+", report_filename(hostile))


def test_a_model_with_refutation_and_comparison_shows_both_tables(experiment, trained):
    checks = refute(experiment, trained, n_subsets=1)
    selection = compare_estimators(experiment, "y", estimators=("linear_dml", "t_learner"), n_boot=20)
    model = dataclasses.replace(
        trained,
        data={
            **trained.data,
            "refutation": [check.to_dict() for check in checks],
            "selection": selection.to_dict(),
        },
    )
    document = model_report(model)
    text = _text(document)
    for check in ("placebo treatment", "random common cause", "data subsets"):
        assert check in text
    assert "rank correlation" in text and "tolerance (±)" in text
    assert "refutation checks passed" in text or "refutation checks failed" in text
    assert f"Chosen: {selection.chosen}, the estimator with the smallest doubly robust loss" in text
    assert "linear_dml" in text and "t_learner" in text and "average effect" in text
    assert "Refutation checks were not run" not in text and "not compared" not in text
    assert not re.search(r"\b(nan|inf)\b", text, flags=re.IGNORECASE)


def test_missing_evidence_says_why(trained):
    small = dataclasses.replace(
        trained,
        holdout=trained.holdout.head(30),
        data={**trained.data, "interval_calibration": {"unavailable": "too few validation rows"}},
    )
    text = _text(model_report(small))
    assert "The heterogeneity test could not be run: The heterogeneity test needs at least 50" in text
    assert "The targeting curve could not be computed" in text
    assert "The interval width is not calibrated: too few validation rows" in text


def test_a_multi_arm_model_gets_one_section_per_arm():
    experiment = load_demo("multichannel", n_rows=3_000)
    trained = train_model(experiment, outcome="conversion", estimator="t_learner", n_boot=20)
    document = model_report(trained)
    text = _text(document)
    assert len(trained.arms) == 3
    for arm in trained.arms:
        assert f"Holdout evidence: {arm} vs " in text
    assert document.count("<h2>Holdout evidence") == 3
    # Every arm's charts (Qini, uplift, deciles, histogram, calibration, targeting).
    assert len(_specs(document)) == 18
    assert "Estimators were not compared" in text
    assert "factor the twin asked for" in text and "only a factor above 1 is applied" in text


def test_a_multi_arm_auto_model_reports_its_comparison_arm_by_arm():
    experiment = load_demo("multichannel", n_rows=3_000, seed=4)
    trained = train_model(experiment, outcome="conversion", estimator="auto", n_boot=20, calibrate=False)
    document = model_report(trained)
    section = document[document.index("<h2>Model comparison</h2>") :]
    section = _text(section[: section.index("<h2>", 5)])
    assert f"Chosen: {trained.estimator}, the estimator with the smallest doubly robust loss" in section
    for arm in (*trained.arms, "every arm"):
        assert f" {arm} " in section
    assert "averaged over the arms" in section


def test_a_saved_model_renders_with_its_name_creation_time_and_versions(trained, tmp_path):
    saved = load_model(save_model(trained, "report_model", models_dir=tmp_path))
    document = model_report(saved)
    text = _text(document)
    assert "report_model" in text and saved.metadata["created"] in text
    assert f"econml {saved.metadata['versions']['econml']}" in text
    assert "width calibrated on a simulated twin" in text
    assert len(_specs(document)) == 6
    assert report_filename(saved) == "impactiq-report-report_model-y.html"


def test_report_filename_names_the_estimator_of_an_unsaved_model(trained):
    assert report_filename(trained) == "impactiq-report-causal_forest-y.html"


def test_a_machine_without_the_chart_renderer_is_told_in_words(monkeypatch):
    """Seen: the Train page's download failed on click with the browser's generic 'Failed to
    generate file', hiding the reason."""
    import importlib.util

    from impactiq.present import report

    assert report.report_unavailable() is None  # the requirements install it
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "vl_convert" else real(name, *a)
    )
    assert "vl-convert-python package, which is not installed here" in report.report_unavailable()
