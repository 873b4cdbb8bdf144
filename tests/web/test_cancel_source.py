"""A cancel through the API is recorded as coming from the API, and the run shows it."""

from __future__ import annotations

import httpx


def test_a_cancel_through_the_api_is_shown_with_its_source(
    client: httpx.Client, auth: dict[str, str]
) -> None:
    queued = client.post(
        "/api/v1/trigger", headers=auth, json={"repo": "ci-calc", "rev": "c" * 40, "branch": "f26"}
    ).json()
    assert queued["decision"] == "queued", queued
    run_id = queued["run_id"]
    before = client.get(f"/api/v1/runs/{run_id}").json()
    assert (before["cancel_requested"], before["cancel_source"]) == (False, None)
    assert client.post(f"/api/v1/runs/{run_id}/cancel", headers=auth).status_code == 200
    after = client.get(f"/api/v1/runs/{run_id}").json()
    assert (after["cancel_requested"], after["cancel_source"]) == (True, "api")
    listed = client.get("/api/v1/runs", params={"repo": "ci-calc"}).json()["data"]
    assert [run["cancel_source"] for run in listed] == ["api", None]
