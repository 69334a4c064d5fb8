"""One real-browser journey: a real Streamlit server driven by Playwright through Debian's chromium.

The server runs on a free port against a temporary models folder, so the journey never
touches the developer's saved models.
"""

from __future__ import annotations

import os
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.app_server import running_app

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ROOT = Path(__file__).resolve().parent.parent
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
# Screenshots of every page, kept after the run as the test's artifacts (git ignores the folder).
SCREENSHOTS = Path(os.environ.get("IMPACTIQ_SCREENSHOTS", ROOT / "tests" / "artifacts" / "screenshots"))
# Page name -> its path (the Data page is the app's default, at the root).
PAGES = {
    "demo": "demo",
    "data": "",
    "train": "train",
    "simulator": "simulator",
    "segments": "segments",
    "journeys": "journeys",
}
STREAMLIT_OWN_ERRORS = ("_stcore/health", "_stcore/host-config")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def app_models(tmp_path_factory):
    """The models folder the app under test reads."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def app_url(app_models, tmp_path_factory):
    """A real `streamlit run` of the app on a free port, stopped after the module."""
    log_path = tmp_path_factory.mktemp("server") / "streamlit.log"
    with log_path.open("wb") as log, running_app({"IMPACTIQ_MODELS_DIR": str(app_models)}, log) as url:
        yield url


@pytest.fixture(scope="module")
def page(app_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(120_000)
        # Every request that would leave the machine (a font server, a CDN): there must be none.
        page.outside = []
        page.on(
            "request",
            lambda request: (
                page.outside.append(request.url)
                if urllib.parse.urlsplit(request.url).hostname not in LOCAL_HOSTS
                and not request.url.startswith(("data:", "blob:"))
                else None
            ),
        )
        # Console errors of ours: none. Streamlit's own 404s for /<page>/_stcore/health and
        # host-config on a direct link (its issue #7074) are not ours and are left out.
        page.console_errors = []
        page.on("console", lambda message: _record_console_error(page, message))
        yield page
        browser.close()


def _record_console_error(page, message) -> None:
    where = message.location.get("url", "")
    if message.type == "error" and not any(known in where for known in STREAMLIT_OWN_ERRORS):
        page.console_errors.append(f"{message.text} ({where})")


def _no_exception(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, "the app showed a stack trace"
    assert not page.outside, f"requests left the machine: {page.outside[:5]}"
    assert not page.console_errors, f"console errors: {page.console_errors[:5]}"


def _idle(page) -> None:
    """Wait until the app's script is not running (Streamlit marks the app element)."""
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for()


def _click_when_idle(page, target) -> None:
    """Click `target` once it is shown and the run that showed it has ended, as a person would:
    a click given to a page still running can be lost."""
    target.wait_for()
    _idle(page)
    target.click()


def _shown(page, text: str) -> None:
    """Wait for `text`; if it never comes, fail with what the page showed instead."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.get_by_text(text).first.wait_for()
    except PlaywrightTimeout:
        body = page.locator("body").inner_text()
        raise AssertionError(f"{text!r} never appeared; the page showed:\n{body[-3000:]}") from None


def test_a_shared_link_opens_inside_the_app(page, app_url):
    """The first request after start-up is a deep link: it must get the app's navigation."""
    page.goto(f"{app_url}/train")
    page.get_by_role("heading", name="Train").wait_for()
    navigation = page.locator('[data-testid="stSidebarNav"]')
    navigation.get_by_role("link", name="Segments").wait_for()
    assert "common" not in navigation.inner_text()
    _no_exception(page)


def test_journey(page, app_url, tmp_path):
    """Upload a CSV, train and save a model, score a profile, reach the split screen."""
    from impactiq.data.synthetic import make_criteo_like

    page.goto(app_url)
    page.get_by_text("Current data set: Synthetic").wait_for()
    _no_exception(page)

    upload = tmp_path / "campaign.csv"
    make_criteo_like(20_000, seed=11).to_csv(upload, index=False)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(upload)
    page.get_by_text("Current data set: campaign.csv").wait_for()
    page.locator('[data-testid="stDataFrame"]').first.wait_for()
    page.get_by_text("Randomization check").wait_for()
    _no_exception(page)

    navigation = page.locator('[data-testid="stSidebarNav"]')
    navigation.get_by_role("link", name="Train").click()
    _click_when_idle(page, page.get_by_role("button", name="Train"))
    page.get_by_text("Trained in").wait_for()
    page.get_by_text("causal_forest on visit: holdout of").wait_for()
    page.locator('[data-testid="stVegaLiteChart"]').first.wait_for()
    # A reload starts a new session: the workspace in the URL brings back the data and the model.
    assert "ws=" in page.url
    page.reload()
    page.get_by_text("Data: campaign.csv").wait_for()
    page.get_by_text("causal_forest on visit: holdout of").wait_for()
    _no_exception(page)
    _click_when_idle(page, page.get_by_role("button", name="Save model"))
    page.get_by_text("Saved as").wait_for()
    _no_exception(page)
    _the_report_renders_offline(page, tmp_path)

    navigation.get_by_role("link", name="Simulator").click()
    page.get_by_text("Result: visit").wait_for()
    # The metric labelled exactly "Uplift" (not "Uplift percentile among holdout users").
    uplift = page.locator('[data-testid="stMetric"]').filter(has=page.get_by_text("Uplift", exact=True)).first
    uplift.wait_for()
    assert "pp" in uplift.inner_text()
    _no_exception(page)

    navigation.get_by_role("link", name="Segments").click()
    page.get_by_text("Traditional attribution", exact=True).wait_for()
    page.get_by_text("Causal segment attribution", exact=True).wait_for()
    _no_exception(page)
    page.screenshot(path=str(tmp_path / "segments.png"), full_page=True)


def _the_report_renders_offline(page, tmp_path) -> None:
    """Download the model's HTML report and open it: every chart is drawn, nothing is fetched."""
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the report (HTML)").click()
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    assert path.name.startswith("impactiq-report-") and path.suffix == ".html"
    report = page.context.new_page()
    requests, errors = [], []
    report.on("request", lambda request: requests.append(request.url))
    report.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    report.set_content(path.read_text(encoding="utf-8"))
    charts = report.locator(".vega-embed")
    charts.first.locator("svg, canvas").first.wait_for()
    count = charts.count()
    assert count >= 6
    for index in range(count):
        charts.nth(index).locator("svg, canvas").first.wait_for()
    assert report.get_by_text("Refutation checks", exact=True).count() == 1
    assert not [url for url in requests if not url.startswith(("data:", "blob:", "about:"))], requests[:5]
    assert not errors, errors[:5]
    report.close()


def test_three_arm_journey(page, app_url):
    """Hillstrom with each e-mail an arm: the arm table, a three-arm model, every arm in the
    Simulator, and the channel split screen."""
    page.goto(app_url)
    page.get_by_text("Current data set:").first.wait_for()
    page.get_by_role("tab", name="Demo data").click()
    page.locator('[data-testid="stSelectbox"]').filter(has_text="Demo data set").click()
    page.get_by_role("option", name="Real e-mail experiment (Hillstrom").click()
    page.get_by_text("each e-mail an arm").click()
    _click_when_idle(page, page.get_by_role("button", name="Load demo data"))
    page.get_by_text("Mens E-Mail and Womens E-Mail vs No E-Mail").first.wait_for()
    page.get_by_text("Arm by arm").wait_for()
    _no_exception(page)

    navigation = page.locator('[data-testid="stSidebarNav"]')
    navigation.get_by_role("link", name="Train").click()
    _click_when_idle(page, page.get_by_role("button", name="Train"))
    page.get_by_text("Trained in").wait_for()
    page.get_by_role("tab", name="Womens E-Mail").wait_for()
    _click_when_idle(page, page.get_by_role("button", name="Save model"))
    page.get_by_text("Saved as").wait_for()
    _no_exception(page)

    navigation.get_by_role("link", name="Simulator").click()
    page.get_by_text("Every channel for this user").wait_for()
    page.get_by_text("Expected profit over the runner-up").first.wait_for()
    _no_exception(page)

    navigation.get_by_role("link", name="Segments").click()
    page.get_by_text("Which channel works for which segment").wait_for()
    page.get_by_text("Causal: each segment its best channel").wait_for()
    page.get_by_text("choosing each segment's channel gains").wait_for()
    _no_exception(page)


def test_touchpoint_journey(page, app_url, tmp_path):
    """Upload a touchpoint log, a conversion log, the CRM and the holdouts; reach the causal check."""
    from impactiq.journeys.synthetic import make_journeys

    data = make_journeys(4_000, seed=12)
    files = {
        "Touchpoints": ("touches.csv", data.touchpoints),
        "Conversions": ("orders.csv", data.conversions),
        "Customers (CRM)": ("crm.csv", data.customers),
        "Holdouts": ("holdouts.csv", data.holdouts),
    }
    page.goto(f"{app_url}/journeys")
    page.get_by_role("heading", name="Journeys").wait_for()
    page.get_by_text("Optional files").click()
    for label, (name, table) in files.items():
        path = tmp_path / name
        table.to_csv(path, index=False)
        uploader = page.locator('[data-testid="stFileUploader"]').filter(has_text=label)
        uploader.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(path)
        # As a person would, wait until the app has read the file and finished its run: under
        # load, a file given to the page while it was still running never arrived.
        _shown(page, f"Read {name}:")
        _idle(page)
    _click_when_idle(page, page.get_by_role("button", name="Link people and attribute"))
    _shown(page, "Credit per channel, every model side by side")
    _shown(page, "The causal check: credit against what each channel caused")
    _shown(page, "Closest to the experiment")
    _no_exception(page)
    page.screenshot(path=str(tmp_path / "journeys.png"), full_page=True)


def test_the_demo_shows_its_first_uplift_in_the_first_viewport(page, app_url, app_models, tmp_path):
    """On a 1366x768 screen the demo's first uplift, with its interval, needs no scrolling."""
    from impactiq.data.demo import load_demo
    from impactiq.evaluation.training import train_model
    from impactiq.uplift.store import save_model

    trained = train_model(
        load_demo("synthetic", n_rows=8_000, seed=3), outcome="visit", n_boot=20, params={"n_estimators": 40}
    )
    save_model(trained, "demo", models_dir=app_models, replace=True)
    page.set_viewport_size({"width": 1366, "height": 768})
    started = time.monotonic()
    page.goto(f"{app_url}/demo")
    first = page.locator('[data-testid="stMetric"]').first
    first.wait_for()
    seconds = time.monotonic() - started
    box = first.bounding_box()
    assert box is not None and box["y"] + box["height"] <= 768, box
    assert "pp" in first.inner_text()
    page.get_by_text("95% CI").first.wait_for()
    started = time.monotonic()
    page.goto(f"{app_url}/demo")  # again, as a visitor after the first: the server has loaded its modules
    page.locator('[data-testid="stMetric"]').first.wait_for()
    print(
        f"demo: first uplift visible {seconds:.1f} s after the server's first visit, {time.monotonic() - started:.1f} s after the next"
    )
    page.get_by_text("3. Where the budget goes: the split screen").wait_for()
    _no_exception(page)
    page.screenshot(path=str(tmp_path / "demo.png"), full_page=True)


def test_every_page_is_captured_without_an_error(page, app_url):
    """A screenshot of every page (after the journeys above have saved models), for people to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for name, path in PAGES.items():
        page.goto(f"{app_url}/{path}", wait_until="domcontentloaded")
        page.get_by_role("heading", level=1).first.wait_for()
        page.wait_for_load_state("networkidle")
        _no_exception(page)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    assert set(PAGES) <= {shot.stem for shot in SCREENSHOTS.glob("*.png")}
