"""The /api/v1 runs, records and write endpoints, served by uvicorn."""

from __future__ import annotations

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web_fixtures import NVR, add_finished_run

from ci_pipeline.config import Config
from ci_pipeline.store.db import Store


def test_runs_list_filters_and_shows_stage_chips(client: httpx.Client) -> None:
    data = client.get("/api/v1/runs", params={"repo": "ci-calc", "state": "complete"}).json()["data"]
    assert [run["nvr"] for run in data] == [NVR]
    assert [stage["stage"] for stage in data[0]["stages"]] == ["build", "functional", "compose"]
    assert client.get("/api/v1/runs", params={"repo": "nope"}).json()["data"] == []


def test_run_detail_and_missing_run(client: httpx.Client) -> None:
    run = client.get("/api/v1/runs/1").json()
    assert run["fields"]["nvr"] == NVR and run["stages"][1]["status"] == "SUCCESS"
    missing = client.get("/api/v1/runs/999")
    assert missing.status_code == 404 and "no run 999" in missing.json()["detail"]


def test_log_tail_and_stream(client: httpx.Client) -> None:
    assert client.get("/api/v1/runs/1/stages/build/log", params={"tail": 2}).text == (
        "build line 49\nbuild line 50\n"
    )
    with client.stream("GET", "/api/v1/runs/1/stages/build/log/stream") as response:
        body = "".join(response.iter_text())
    assert body.count("data: ") == 51 and "event: end" in body
    assert client.get("/api/v1/runs/1/stages/e2e/log").status_code == 404


def test_tests_messages_decisions_and_health(client: httpx.Client) -> None:
    tests = client.get("/api/v1/runs/1/tests").json()["data"]
    assert {t["test"] for t in tests} == {"test_add", "test_div"}
    messages = client.get(
        "/api/v1/messages", params={"topic": "*.package.complete", "repo": "ci-calc"}
    ).json()
    assert len(messages["data"]) == 1
    assert client.get("/api/v1/messages", params={"topic": "*.image.*"}).json()["data"] == []
    ignored = client.get("/api/v1/decisions", params={"decision": "ignore"}).json()["data"]
    assert [d["repo"] for d in ignored] == ["vim"]
    health = client.get("/api/v1/health").json()
    assert health["store"] is True and health["outbox_depth"] == 1


def test_writes_need_the_token(client: httpx.Client, auth: dict[str, str]) -> None:
    assert client.post("/api/v1/runs/1/cancel").status_code == 401
    assert client.post("/api/v1/runs/1/cancel", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.post("/api/v1/runs/1/cancel", headers=auth).status_code == 409
    rerun = client.post("/api/v1/runs/1/rerun", json={"stage": "functional"}, headers=auth)
    assert rerun.status_code == 200
    assert client.get("/api/v1/runs/1").json()["stages"][1]["state"] == "pending"
    assert client.post("/api/v1/runs/1/rerun", json={"stage": "nope"}, headers=auth).status_code == 404


def test_trigger_records_a_decision(client: httpx.Client, auth: dict[str, str]) -> None:
    response = client.post(
        "/api/v1/trigger", headers=auth, json={"repo": "vim", "rev": "b" * 40, "branch": "f26"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["decision"] in ("ignore", "queued")
    bad = client.post("/api/v1/trigger", headers=auth, json={"repo": "vim", "rev": "xyz", "branch": "f26"})
    assert bad.status_code == 400 and bad.json()["detail"]


def test_job_urls_redirect(client: httpx.Client) -> None:
    assert client.get("/job/ci-pipeline-f26/1/").headers["location"] == "/runs/1"
    assert client.get("/job/ci-pipeline-trigger/7/").headers["location"].startswith("/decisions/")
    assert client.get("/job/ci-pipeline-f26/99/").status_code == 404


_PATHS = st.sampled_from(
    [
        "/api/v1/runs",
        "/api/v1/decisions",
        "/api/v1/messages",
        "/api/v2.0/results",
        "/api/v2.0/results/latest",
        "/api/v2.0/testcases",
        "/api/v2.0/groups",
    ]
)
_KEYS = st.sampled_from(
    [
        "page",
        "limit",
        "since",
        "until",
        "repo",
        "topic",
        "outcome",
        "testcases",
        "testcases:like",
        "item:like",
        "_distinct_on",
        "state",
        "x",
    ]
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=_PATHS, params=st.lists(st.tuples(_KEYS, st.text(max_size=30)), max_size=4))
def test_query_parameters_never_cause_a_server_error(
    client: httpx.Client, path: str, params: list[tuple[str, str]]
) -> None:
    response = client.get(path, params=params)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.json()["detail"]


def test_runs_are_paged_by_key_to_the_oldest_and_agree_with_offset_pages(
    client: httpx.Client, web_config: Config, sqlite_store: Store
) -> None:
    ids = [1, *(add_finished_run(sqlite_store, web_config, generation=n) for n in range(1, 7))]
    seen: list[int] = []
    params: dict[str, int] = {"limit": 3}
    while True:
        answer = client.get("/api/v1/runs", params=params).json()
        seen += [run["id"] for run in answer["data"]]
        if not answer["has_next"]:
            assert answer["next_before"] is None
            break
        params = {"limit": 3, "before": answer["next_before"]}
    assert seen == sorted(ids, reverse=True)
    by_offset = [run["id"] for page in range(3)
                 for run in client.get("/api/v1/runs", params={"limit": 3, "page": page}).json()["data"]]
    assert by_offset == seen
    assert client.get("/api/v1/runs", params={"before": 0}).status_code == 400
