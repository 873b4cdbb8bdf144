"""The ResultsDB v2.0 compatible API: filters, latest, paging, posting."""

from __future__ import annotations

import httpx
from web_fixtures import NVR


def test_latest_per_testcase_for_an_item(client: httpx.Client) -> None:
    data = client.get("/api/v2.0/results/latest", params={"item": NVR}).json()["data"]
    names = {row["testcase"]["name"]: row["outcome"] for row in data}
    assert names["ci-pipeline.build"] == "PASSED" and names["ci-pipeline.functional.test_div"] == "PASSED"
    assert "ci-pipeline.compose" not in names


def test_filters_like_outcome_and_data_keys(client: httpx.Client) -> None:
    rows = client.get("/api/v2.0/results", params={"testcases:like": "ci-pipeline.functional.*"}).json()
    assert {r["testcase"]["name"] for r in rows["data"]} == {
        "ci-pipeline.functional.test_add",
        "ci-pipeline.functional.test_div",
    }
    assert client.get("/api/v2.0/results", params={"repo": "ci-calc", "test": "test_add"}).json()["data"][0][
        "data"
    ]["test"] == ["test_add"]
    assert client.get("/api/v2.0/results", params={"outcome": "FAILED"}).json()["data"] == []
    assert client.get("/api/v2.0/results", params={"item:like": "ci-calc-*", "type": "koji_build"}).json()[
        "data"
    ]
    assert client.get("/api/v2.0/results", params={"since": "2999-01-01"}).json()["data"] == []
    assert client.get("/api/v2.0/results", params={"since": "yesterday"}).status_code == 400


def test_paging_links(client: httpx.Client) -> None:
    first = client.get("/api/v2.0/results", params={"limit": 2}).json()
    assert len(first["data"]) == 2 and first["prev"] is None and "page=1" in first["next"]
    second = httpx.get(first["next"]).json()
    assert second["prev"] and {r["id"] for r in second["data"]}.isdisjoint({r["id"] for r in first["data"]})


def test_post_result_needs_token_and_is_found(client: httpx.Client, auth: dict[str, str]) -> None:
    body = {
        "outcome": "passed",
        "testcase": {"name": "dist.rpmlint"},
        "data": {"item": "foo-1-1.fc26", "type": "koji_build", "scenario": ["a", "b"]},
        "groups": ["g-1"],
    }
    assert client.post("/api/v2.0/results", json=body).status_code == 401
    created = client.post("/api/v2.0/results", json=body, headers=auth)
    assert created.status_code == 201 and created.json()["outcome"] == "PASSED"
    got = client.get(f"/api/v2.0/results/{created.json()['id']}").json()
    assert got["data"]["scenario"] == ["a", "b"] and got["groups"] == ["g-1"]
    assert client.get("/api/v2.0/results", params={"scenario": "b"}).json()["data"][0]["id"] == got["id"]
    assert client.get("/api/v2.0/groups/g-1").status_code == 200
    assert client.get("/api/v2.0/testcases/dist.rpmlint").json()["name"] == "dist.rpmlint"
    assert client.get("/api/v2.0/testcases/nope").status_code == 404
    bad = client.post("/api/v2.0/results", json={**body, "outcome": "GREAT"}, headers=auth)
    assert bad.status_code == 400 and "outcome" in bad.json()["message"]
