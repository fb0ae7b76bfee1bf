"""The report in a real headless Chromium: no console error, charts and galleries drawn, no script run.

Needs Debian's ``chromium`` (``/usr/bin/chromium``, or ``PAIRSIFT_CHROMIUM``) and the ``playwright``
Python package (never ``playwright install``: the system browser is used). Skipped when either is
missing, except on CI (``CI=true``), where that is a failure. Screenshots are kept in
``$PAIRSIFT_TEST_ARTIFACTS`` (default ``test-artifacts/`` at the repository root).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pairsift.report import ReportConfig, build_report
from tests.report.conftest import HOSTILE_CAPTION, HOSTILE_TEXT

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def artifacts() -> Path:
    default = Path(__file__).resolve().parents[2] / "test-artifacts"
    folder = Path(os.environ.get("PAIRSIFT_TEST_ARTIFACTS", default))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (required on CI: .ci/run installs Debian's chromium)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = os.environ.get("PAIRSIFT_CHROMIUM", "/usr/bin/chromium")
    if not Path(executable).exists():
        _unavailable(f"no Chromium at {executable} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Visit:
    """A page opened from disk, with everything it reported: console errors, page errors, dialogs."""

    def __init__(self, browser: Any, path: Path) -> None:
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", self._dialog)
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(path.resolve().as_uri(), wait_until="load")

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def external_requests(self) -> list[str]:
        return [u for u in self.requests if not u.startswith(("file://", "data:"))]


def test_tiny_world_report_renders_charts_and_galleries(browser, tiny_run, tmp_path):
    out = tmp_path / "report.html"
    summary = build_report(ReportConfig(str(tiny_run.run), str(out)))
    visit = Visit(browser, out)
    page = visit.page
    charts = page.eval_on_selector_all(
        "svg.chart", "els => els.map(e => [e.getBoundingClientRect().width, e.querySelectorAll('*').length])"
    )
    # 2 histograms + 3 funnels + 1 scatter, each drawn with a real size and content
    assert len(charts) == 6 and all(width > 100 and parts > 5 for width, parts in charts)
    images = page.eval_on_selector_all(".gallery img", "els => els.map(e => [e.complete, e.naturalWidth])")
    assert len(images) >= summary.thumbnails > 0
    assert all(done and width > 0 for done, width in images)  # every thumbnail decoded
    assert page.locator(".card").count() >= summary.cards
    assert page.locator("#labels td", has_text="%").count() > 0
    page.screenshot(path=str(artifacts() / "report-tiny-world.png"), full_page=True)
    assert visit.errors == [] and visit.dialogs == [] and visit.external_requests() == []
    page.close()


def test_hostile_text_stays_text_in_the_browser(browser, hostile_run, tmp_path):
    run, subset = hostile_run
    out = tmp_path / "report.html"
    build_report(ReportConfig(str(run), str(out), subsets=(str(subset),)))
    visit = Visit(browser, out)
    page = visit.page
    assert page.evaluate("document.scripts.length") == 0
    assert page.evaluate("document.querySelectorAll('.card img, .card i, .card u').length") == 0
    captions = page.eval_on_selector_all(".card .caption", "els => els.map(e => e.textContent)")
    assert HOSTILE_CAPTION in captions
    assert HOSTILE_TEXT in page.inner_text("#galleries")
    page.screenshot(path=str(artifacts() / "report-hostile-text.png"), full_page=False)
    assert visit.dialogs == []  # no alert() ran
    assert visit.errors == [] and visit.external_requests() == []
    page.close()
