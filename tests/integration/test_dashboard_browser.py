"""The dashboard in headless Debian chromium (Playwright): landmarks and labels in the accessibility
tree, keyboard use, contrast, a narrow window, and a running stage's log followed live. Screenshots
are kept under ``test-artifacts/screenshots/``."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from ci_pipeline.config import Config
from ci_pipeline.store.clock import utcnow
from ci_pipeline.store.db import Store
from ci_pipeline.store.runs import stages_of
from ci_pipeline.web.server import start_web_server

sys.path.insert(0, str(Path(__file__).parents[1] / "web"))
from web_fixtures import TOKEN, add_finished_run

from store.dashboard_rows import add_run_with_stages

pytestmark = pytest.mark.integration
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(__file__).parents[2] / "test-artifacts" / "screenshots"
PAGES = ("/", "/queue", "/trends", "/decisions", "/packages/ci-calc", "/runs/{failed}", "/runs/{running}")
#: The WCAG contrast ratio of a colour pair (colours as the browser computes them: rgb() or rgba()).
CONTRAST_JS = """(selector) => {
  const rgb = (text) => (text.match(/[\\d.]+/g) || []).map(Number);
  const channel = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  const lum = ([r, g, b]) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  const background = (el) => {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length === 3 || c[3] > 0) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  return [...document.querySelectorAll(selector)].filter(el => el.innerText.trim()).map(el => {
    const [a, b] = [lum(rgb(getComputedStyle(el).color)), lum(background(el))];
    return [el.innerText.trim().slice(0, 30), (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)];
  });
}"""


@pytest.fixture
def dashboard(config: Config, sqlite_store: Store) -> Iterator[dict[str, Any]]:
    """A served dashboard holding a failed run, a running run with a log, a waiting run and a queued one."""
    web = config.web.model_copy(update={"listen": "127.0.0.1:0", "token": TOKEN})
    configured = config.model_copy(update={"web": web})
    failed = add_finished_run(sqlite_store, configured, functional="FAILURE")
    start = utcnow() - timedelta(minutes=2)
    running = add_run_with_stages(sqlite_store, "ci-calc", start, [
        ("build", "complete", "SUCCESS", 20), ("functional", "running", None, 0)], state="running")
    add_run_with_stages(sqlite_store, "ci-hello", start, [("build", "queued", None, 0)], state="running")
    log = Path(configured.state_dir) / "logs" / f"{running}-functional.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("starting the functional tests\n")
    with sqlite_store.session() as session:
        stages_of(session, running)[1].log_path = str(log)
    server = start_web_server(configured, sqlite_store)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield {"base": f"http://127.0.0.1:{server.port}", "failed": failed, "running": running, "log": log,
               "store": sqlite_store}
    finally:
        server.stop()


@pytest.fixture
def browser() -> Iterator[Any]:
    """Debian's chromium, headless, driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS,
                                              headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def _pages(dashboard: dict[str, Any]) -> list[str]:
    return [dashboard["base"] + page.format(**dashboard) for page in PAGES]


def _shot(page: Any, name: str, tmp_path: Path) -> None:
    target = tmp_path / f"{name}.png"
    page.screenshot(path=str(target), full_page=True)
    assert target.stat().st_size > 5000
    (SCREENSHOTS / target.name).write_bytes(target.read_bytes())


def test_every_page_has_landmarks_labels_and_readable_contrast(
    dashboard: dict[str, Any], browser: Any, tmp_path: Path
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    for url in _pages(dashboard):
        page.goto(url)
        tree = page.locator("body").aria_snapshot()
        for landmark in ("- banner:", '- navigation "Main":', "- main:", "- contentinfo:"):
            assert landmark in tree, (url, landmark, tree[:600])
        assert page.locator("h1").count() == 1, url
        for text, ratio in page.evaluate(CONTRAST_JS, ".badge, .chip, .top nav a, .time, td, p, dt, summary"):
            assert ratio >= 4.5, (url, text, round(ratio, 2))
        name = url.rsplit("/", 1)[-1] or "runs"
        _shot(page, f"wide-{url.split('/')[3] or 'runs'}-{name}", tmp_path)
    page.goto(dashboard["base"] + "/")
    assert 'textbox "Package"' in page.locator("body").aria_snapshot()
    page.goto(dashboard["base"] + "/trends")
    tree = page.locator("main").aria_snapshot()
    assert 'img "build: duration percentiles per day' in tree and 'img "build: failure rate per day' in tree
    page.goto(dashboard["base"] + "/packages/ci-calc")
    assert 'region "outcomes per stage and run"' in page.locator("main").aria_snapshot()


def test_the_keyboard_reaches_the_content_and_the_runs(dashboard: dict[str, Any], browser: Any) -> None:
    page = browser.new_page()
    page.goto(dashboard["base"] + "/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "content"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "repo-filter"
    page.keyboard.type("ci-calc")
    page.keyboard.press("Enter")
    page.wait_for_url("**/?repo=ci-calc")
    page.goto(dashboard["base"] + "/packages/ci-calc")
    for _ in range(40):  # tab to the first run of the strip, then follow it
        page.keyboard.press("Tab")
        if "/runs/" in (page.evaluate("document.activeElement.getAttribute('href')") or ""):
            break
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    page.keyboard.press("Enter")
    page.wait_for_url("**/runs/*")
    assert page.locator("#stage-build").count() == 1


def test_pages_fit_a_narrow_window(dashboard: dict[str, Any], browser: Any, tmp_path: Path) -> None:
    page = browser.new_page(viewport={"width": 360, "height": 740})
    for url in _pages(dashboard):
        page.goto(url)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, (url, overflow)
        _shot(page, f"narrow-{url.split('/')[3] or 'runs'}-{url.rsplit('/', 1)[-1] or 'runs'}", tmp_path)


def test_a_running_stages_log_follows_live_with_failing_lines_marked(
    dashboard: dict[str, Any], browser: Any, tmp_path: Path
) -> None:
    page = browser.new_page()
    page.goto(dashboard["base"] + f"/runs/{dashboard['running']}")
    log = page.locator("#stage-functional pre.log")
    assert log.get_attribute("role") == "log"
    page.wait_for_selector("#stage-functional pre.log[data-following='true']")
    with dashboard["log"].open("a") as handle:
        handle.write("test_add PASSED\nERROR: test_div failed: boom\n")
    page.wait_for_selector("#stage-functional pre.log .line.failing", timeout=10000)
    assert log.locator(".line.failing").inner_text() == "ERROR: test_div failed: boom"
    assert "test_add PASSED" in log.inner_text()
    _shot(page, "live-log", tmp_path)
    with dashboard["store"].session() as session:
        row = stages_of(session, dashboard["running"])[1]
        row.state, row.status, row.finished_at = "complete", "FAILURE", utcnow()
    ended = "document.querySelector('#stage-functional .log-state').textContent.includes('FAILURE')"
    page.wait_for_function(ended, timeout=10000)
    raw = page.locator("#stage-functional a.log").first.get_attribute("href")
    assert raw == f"/api/v1/runs/{dashboard['running']}/stages/functional/log"
