"""Stored rows as JSON-ready data: times with their zone, durations, log URLs, artifact files."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ci_pipeline.config import Config
from ci_pipeline.store.models import DeadLetter, OutboxMessage, Run, StageRun
from ci_pipeline.store.records import (
    artifact_files,
    dead_letter_json,
    message_body,
    message_json,
    run_json,
    seconds,
    stage_json,
    stamp,
)

START = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_a_stored_time_without_a_zone_is_utc() -> None:
    assert stamp(START.replace(tzinfo=None)) == "2026-01-02T03:04:05+00:00"
    assert stamp(None) is None
    assert seconds(START, START + timedelta(milliseconds=1500)) == 1.5
    assert seconds(START, None) is None


def test_a_run_without_a_build_url_links_to_its_dashboard_page(config: Config) -> None:
    run = Run(id=4, repo="vim", rev="a" * 40, namespace="rpms", branch="f26", ci_name="ci-pipeline-f26",
              build_id=9, state="running", status="SUCCESS", reason="", fields={"nvr": "vim-1-1.fc26"},
              created_at=START, started_at=START, finished_at=None, cancel_reason="Superseded.")
    data = run_json(run, config)
    assert data["build_url"] == f"{config.web_base_url}/job/ci-pipeline-f26/9/"
    assert (data["nvr"], data["duration"], data["cancel_requested"]) == ("vim-1-1.fc26", None, True)


def test_a_stage_has_log_urls_only_once_it_has_a_log() -> None:
    row = StageRun(stage="build", position=0, state="pending", status=None, attempt=0, reason="", outputs={},
                   log_path="")
    assert stage_json(row, 3)["log_url"] is None
    row.log_path = "/state/logs/3/build.1.log"
    data = stage_json(row, 3)
    assert data["log_url"] == "/api/v1/runs/3/stages/build/log"
    assert data["log_stream_url"] == "/api/v1/runs/3/stages/build/log/stream"


def test_a_dead_letter_says_whether_its_payload_was_cut() -> None:
    row = DeadLetter(id=1, received_at=START, subscription="s", topic="t", reason="bad", payload=b"ab\xff",
                     payload_size=10)
    data = dead_letter_json(row)
    assert (data["payload"], data["payload_size"], data["payload_truncated"]) == ("ab\ufffd", 10, True)


def test_a_message_that_is_not_json_has_no_envelope_and_an_empty_body() -> None:
    row = OutboxMessage(id=1, topic="t", run_id=None, payload=b"\x00", created_at=START, sent_at=None)
    data = message_json(row)
    assert data["envelope"] is None and message_body(data) == {}
    good = message_json(OutboxMessage(id=2, topic="t", payload=b'{"msg": {"a": "b"}}', created_at=START))
    assert message_body(good) == {"a": "b"}


def test_artifact_files_lists_a_runs_files_with_their_urls(config: Config) -> None:
    assert artifact_files(config, 5) == []
    base = config.artifact_root / "runs" / "5" / "build"
    (base / "repo").mkdir(parents=True)
    (base / "repo" / "a.rpm").write_bytes(b"rpm")
    (base / "build.log").write_text("log")
    files = artifact_files(config, 5, limit=1)
    assert files == [
        {
            "path": "runs/5/build/build.log",
            "size": 3,
            "url": f"{config.artifacts_base_url}/runs/5/build/build.log",
            "href": "/artifacts/runs/5/build/build.log",
        }
    ]
    assert len(artifact_files(config, 5)) == 2
