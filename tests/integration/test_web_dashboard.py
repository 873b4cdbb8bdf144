"""A finished run's page in headless Debian chromium (Playwright), and the resultsdb-api client unchanged."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from resultsdb_api import ResultsDBapi

from ci_pipeline.config import Config
from ci_pipeline.store.db import Store
from ci_pipeline.web.server import WebServer, start_web_server

sys.path.insert(0, str(Path(__file__).parents[1] / "web"))
from web_fixtures import NVR, TOKEN, add_finished_run

pytestmark = pytest.mark.integration
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def server(config: Config, sqlite_store: Store) -> Iterator[tuple[WebServer, int]]:
    web = config.web.model_copy(update={"listen": "127.0.0.1:0", "token": TOKEN})
    configured = config.model_copy(update={"web": web})
    run_id = add_finished_run(sqlite_store, configured, functional="FAILURE")
    handle = start_web_server(configured, sqlite_store)
    yield handle, run_id
    handle.stop()


def test_run_page_in_a_real_browser(server: tuple[WebServer, int], tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    handle, run_id = server
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{handle.port}/runs/{run_id}")
            text = page.inner_text("main")
            page.screenshot(path=str(tmp_path / "run.png"), full_page=True)
            log_href = page.get_attribute("#stage-build a.log", "href")
            page.goto(f"http://127.0.0.1:{handle.port}/")
            chips = page.locator(".chip").all_inner_texts()
            failure_chip = page.locator(".chip.failure").inner_text()
        finally:
            browser.close()
    assert NVR in text and "FAILURE" in text and "SUCCESS" in text
    for stage in ("build", "functional", "compose"):
        assert stage in text
    assert "test_div\tFAILED" in text  # the functional stage's failed test, listed first
    assert log_href == f"/api/v1/runs/{run_id}/stages/build/log"
    assert chips == ["build", "functional", "compose"] and failure_chip == "functional"
    assert (tmp_path / "run.png").stat().st_size > 10000
    Path("/tmp/ci-pipeline-run-page.png").write_bytes((tmp_path / "run.png").read_bytes())


def test_resultsdb_api_client_works_unchanged(server: tuple[WebServer, int]) -> None:
    handle, _run_id = server
    api = ResultsDBapi(f"http://127.0.0.1:{handle.port}/api/v2.0", auth_token=TOKEN, max_retries=0)
    created = api.create_result(
        outcome="PASSED", testcase="dist.depcheck", item="foo-1-1.fc26", type="koji_build", scenario="x86_64"
    )
    assert created["outcome"] == "PASSED"
    assert api.get_result(created["id"])["data"]["scenario"] == ["x86_64"]
    results = api.get_results(item=NVR, testcases="ci-pipeline.functional")
    assert [r["outcome"] for r in results["data"]] == ["FAILED"]
    assert {t["name"] for t in api.get_testcases(name_like="dist.*")["data"]} == {"dist.depcheck"}
    groups = api.get_groups()["data"]
    assert api.get_group(groups[0]["uuid"])["uuid"] == groups[0]["uuid"]
    api.create_testcase("dist.rpmgrill", ref_url="http://example.org/rpmgrill")
    assert api.get_testcase("dist.rpmgrill")["ref_url"] == "http://example.org/rpmgrill"
