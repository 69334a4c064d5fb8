"""How soon the interview demo shows its first uplift (target: 3 s, in the first 1366x768 viewport).

Each run starts the app as `make demo` does (a fresh `streamlit run` on the saved demo model,
opening on the Demo page), waits until the server answers its health check, and then opens
the page in a fresh headless chromium: the time runs from the navigation to the first uplift
metric with its 95% interval on screen. That first visit pays the server's first session
(imports, the model load); a second visit in a new browser context shows what later visitors
see. The browser's own start is not counted: an interviewer's browser is already open.

    .venv/bin/python bench/bench_demo.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.app_server import running_app  # noqa: E402

TARGET_S = 3.0
VIEWPORT = {"width": 1366, "height": 768}
CHROMIUM = "/usr/bin/chromium"


def _first_uplift_seconds(browser, url: str) -> float:
    """Seconds from navigation to the first uplift, with its interval, inside the first viewport."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(60_000)
    started = time.monotonic()
    page.goto(url)
    first = page.locator('[data-testid="stMetric"]').first
    first.wait_for()
    page.get_by_text("95% CI").first.wait_for()
    seconds = time.monotonic() - started
    box = first.bounding_box()
    context.close()
    if box is None or box["y"] + box["height"] > VIEWPORT["height"]:
        raise AssertionError(f"the first uplift is below the first viewport: {box}")
    return seconds


def _one_server(browser, model_dir: Path) -> tuple[float, float]:
    """A fresh server as `make demo` starts it: its first visit and the visit after."""
    env = {"IMPACTIQ_START": "demo", "IMPACTIQ_MODELS_DIR": str(model_dir)}
    with tempfile.TemporaryFile() as log, running_app(env, log) as url:
        return _first_uplift_seconds(browser, url), _first_uplift_seconds(browser, url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh servers to time (default: 5)")
    parser.add_argument("--models", default=str(ROOT / "models"), help="models folder holding demo/")
    args = parser.parse_args()
    models = Path(args.models).resolve()
    if not (models / "demo").is_dir():
        sys.exit(f"no demo model in {models}: run `make setup` first")
    from playwright.sync_api import sync_playwright

    firsts, laters = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless=new", "--no-sandbox"]
        )
        for _ in range(args.runs):
            first, later = _one_server(browser, models)
            firsts.append(first)
            laters.append(later)
        browser.close()
    print(
        f"demo page at {VIEWPORT['width']}x{VIEWPORT['height']}, {args.runs} fresh servers (target {TARGET_S:.0f} s)"
    )
    print(
        f"first uplift with its interval, a server's first visit: median {statistics.median(firsts):.2f} s, "
        f"worst {max(firsts):.2f} s ({', '.join(f'{s:.2f}' for s in firsts)})"
    )
    print(
        f"the visit after: median {statistics.median(laters):.2f} s, worst {max(laters):.2f} s; "
        f"in the first viewport every time"
    )


if __name__ == "__main__":
    main()
