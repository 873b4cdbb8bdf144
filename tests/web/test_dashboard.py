"""The server-rendered dashboard: runs with stage chips, a run's page, decisions, build_url links."""

from __future__ import annotations

import httpx
import pytest
from web_fixtures import NVR

from ci_pipeline.web.dashboard import chip_class


@pytest.mark.parametrize(
    ("state", "status", "expected"),
    [
        ("complete", "SUCCESS", "success"),
        ("complete", "FAILURE", "failure"),
        ("complete", None, "aborted"),
        ("running", None, "running"),
        (None, None, "pending"),
    ],
)
def test_a_chip_shows_the_status_once_complete_else_the_state(
    state: str | None, status: str | None, expected: str
) -> None:
    assert chip_class(state, status) == expected


def test_the_runs_page_lists_the_run_with_a_chip_per_stage(client: httpx.Client) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "ci-calc" in page.text and 'class="chip success' in page.text.replace("'", '"')
    assert "ci-calc" not in client.get("/", params={"repo": "vim"}).text


def test_a_runs_page_shows_its_stages_tests_and_messages(client: httpx.Client) -> None:
    page = client.get("/runs/1")
    assert page.status_code == 200
    for text in (NVR, "test_add", "test_div", "package.complete", "functional"):
        assert text in page.text
    assert client.get("/runs/999").status_code == 404


def test_the_decision_log_filters_by_decision(client: httpx.Client) -> None:
    ignored = client.get("/decisions", params={"decision": "ignore"}).text
    assert "not part of the tracked OS" in ignored and "is tracked." not in ignored
    assert "is tracked." in client.get("/decisions/1").text
    assert client.get("/decisions/999").status_code == 404


def test_a_build_url_leads_to_the_run_and_a_trigger_build_id_to_its_decision(client: httpx.Client) -> None:
    run = client.get("/job/ci-pipeline-f26/1/", follow_redirects=False)
    assert (run.status_code, run.headers["location"]) == (302, "/runs/1")
    decision = client.get("/job/ci-pipeline-trigger/7", follow_redirects=False)
    assert (decision.status_code, decision.headers["location"]) == (302, "/decisions/2")
    assert client.get("/job/ci-pipeline-f26/99/").status_code == 404


def test_a_runs_page_shows_the_waivers_of_its_build(client: httpx.Client, auth: dict[str, str]) -> None:
    assert "Waivers" not in client.get("/runs/1").text
    waiver = {
        "subject_type": "koji_build",
        "subject_identifier": NVR,
        "testcase": "ci-pipeline.compose",
        "product_version": "fedora-26",
        "comment": "No compose for this <branch>.",
        "username": "alice",
    }
    assert client.post("/api/v1.0/waivers/", json=waiver, headers=auth).status_code == 201
    other = {**waiver, "subject_identifier": "vim-1-1.fc26", "testcase": "other.test"}
    client.post("/api/v1.0/waivers/", json=other, headers=auth)
    client.post("/api/v1.0/waivers/", json={**waiver, "waived": False, "comment": "Revoked."}, headers=auth)
    page = client.get("/runs/1").text
    assert '<h2 id="waivers-h">Waivers</h2>' in page
    shown = ("ci-pipeline.compose", "fedora-26", "alice via ci-pipeline", "&lt;branch&gt;.", "revoked")
    for text in shown:
        assert text in page, text
    assert "other.test" not in page
