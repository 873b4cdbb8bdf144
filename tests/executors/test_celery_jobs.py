"""Stage jobs as Celery payloads, task ids and namespaces, artifact paths, and uploads over HTTP."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st

from ci_pipeline.artifacts_http import ArtifactClient, relative_to_base, safe_relative
from ci_pipeline.cli.worker import queues_of
from ci_pipeline.config import Config, load_config
from ci_pipeline.errors import StageFailure, UsageError
from ci_pipeline.executors.base import StageContext
from ci_pipeline.executors.celery_app import namespace, queue_name, task_id
from ci_pipeline.executors.celery_jobs import (
    job_from_payload,
    job_payload,
    root_id,
    shares_artifact_root,
)
from ci_pipeline.store.db import open_store
from ci_pipeline.web.server import ArtifactFiles
from ci_pipeline.web.state import WebState
from ci_pipeline.web.uploads import router

TOKEN = "s3cret"


def _config(state: Path, **web: str) -> Config:
    environ = {"CI_PIPELINE_STATE_DIR": str(state), "CI_PIPELINE_EXECUTOR_BROKER": "amqp://g:g@h:5672/ci_a",
               "CI_PIPELINE_WEB_BASE_URL": "http://testserver", "CI_PIPELINE_WEB_TOKEN": TOKEN}
    environ.update({f"CI_PIPELINE_WEB_{key.upper()}": value for key, value in web.items()})
    return load_config(None, environ=environ)


def _job(config: Config) -> StageContext:
    root = Path(config.artifacts.root)
    return StageContext(run_id=7, stage="build", attempt=2, fields={"repo": "vim"}, options={},
                        command="true", implementation="x:y", timeout=5.0, workdir=config.state_path / "work",
                        log_path=Path("l"), artifacts_dir=root / "runs" / "7" / "build",
                        artifacts_url="http://a/runs/7/build/")


def test_namespace_and_task_ids_come_from_the_vhost() -> None:
    assert namespace("amqp://guest:guest@127.0.0.1:5672//") == "default"
    assert namespace("amqp://g:g@h:5672/t_1") == "t_1"
    assert task_id("t_1", 3, "build", 2) == "ci-pipeline:t_1:3:build:2"
    assert queue_name("smoke") == "ci-pipeline.smoke"


def test_worker_queues_are_stage_kinds() -> None:
    assert queues_of("image,smoke") == ["ci-pipeline.image", "ci-pipeline.smoke"]
    assert len(queues_of("")) == 7
    with pytest.raises(UsageError, match="Unknown stage kind 'kvm'"):
        queues_of("build,kvm")


def test_a_payload_maps_the_job_onto_the_worker(tmp_path: Path) -> None:
    scheduler, worker = _config(tmp_path / "s"), _config(tmp_path / "w")
    payload = job_payload(_job(scheduler), scheduler)
    assert payload["artifacts_relative"] == "runs/7/build" and payload["namespace"] == "ci_a"
    job = job_from_payload(payload, worker)
    assert job.artifacts_dir == Path(worker.artifacts.root) / "runs/7/build"
    assert job.workdir.is_relative_to(worker.state_path) and (job.run_id, job.attempt) == (7, 2)
    assert not shares_artifact_root(payload, worker)
    assert shares_artifact_root(payload, scheduler)
    assert root_id(Path(scheduler.artifacts.root)) == payload["root_id"]


@pytest.mark.parametrize(("change", "problem"), [
    ({"namespace": ".."}, "namespace or stage is not a plain name"),
    ({"job": {"stage": "../build"}}, "namespace or stage is not a plain name"),
    ({"artifacts_relative": "../../etc"}, "leaves the artifact root"),
    ({"artifacts_relative": "/etc"}, "leaves the artifact root"),
    ({"job": {"run_id": "7; rm -rf /"}}, "run_id is not an integer"),
])
def test_a_payload_that_would_leave_the_workers_directories_is_refused(
    tmp_path: Path, change: dict[str, object], problem: str
) -> None:
    scheduler, worker = _config(tmp_path / "s"), _config(tmp_path / "w")
    payload = job_payload(_job(scheduler), scheduler)
    for key, value in change.items():
        payload[key] = {**payload[key], **value} if isinstance(value, dict) else value
    with pytest.raises(ValueError, match=problem):
        job_from_payload(payload, worker)


@given(st.lists(st.sampled_from(["a", "b.txt", "..", ".", "", "c d", "x\\y"]), min_size=1, max_size=5))
def test_safe_relative_never_leaves_the_root(parts: list[str]) -> None:
    path = "/".join(parts)
    try:
        relative = safe_relative(path)
    except StageFailure:
        assert any(part in ("..", ".", "") for part in parts) or "\\" in path
        return
    assert not relative.is_absolute() and ".." not in relative.parts


def test_relative_to_base() -> None:
    assert relative_to_base("http://h/artifacts/f26/repo/", "http://h/artifacts") == "f26/repo/"
    assert relative_to_base("http://other/x", "http://h/artifacts") is None


@pytest.fixture
def server(tmp_path: Path) -> Iterator[httpx.Client]:
    """The upload router and the static artifact files on a real server; a client on it."""
    config = _config(tmp_path / "server")
    store = open_store(f"sqlite:///{tmp_path / 'store.sqlite'}")
    app = FastAPI()
    app.state.web = WebState(config=config, store=store)
    app.include_router(router)
    Path(config.artifacts.root).mkdir(parents=True)
    app.mount("/artifacts", ArtifactFiles(directory=config.artifacts.root, check_dir=False))
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    while not uv.started:
        time.sleep(0.01)
    port = uv.servers[0].sockets[0].getsockname()[1]
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        yield client
    uv.should_exit = True
    thread.join(5)
    store.close()


def test_uploads_need_the_token_and_a_plain_path(server: httpx.Client) -> None:
    assert server.put("/artifacts/a.txt", content=b"x").status_code == 401
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert server.put("/artifacts/a/../../etc/x", content=b"x", headers=headers).status_code in (400, 404)
    assert server.put("/artifacts/a/b.txt", content=b"hello", headers=headers).status_code == 201
    assert server.get("/artifacts/a/b.txt").content == b"hello"


def test_a_worker_uploads_a_tree_and_another_fetches_it(server: httpx.Client, tmp_path: Path) -> None:
    base = str(server.base_url).rstrip("/")
    producer = ArtifactClient(_config(tmp_path / "w1", base_url=base), client=server)
    tree = producer.root / "f26" / "repo" / "vim_repo"
    (tree / "repodata").mkdir(parents=True)
    (tree / "repodata" / "repomd.xml").write_text("<repomd/>")
    (producer.root / "runs" / "1" / "build").mkdir(parents=True)
    (producer.root / "runs" / "1" / "build" / "build.log").write_text("ok")
    uploaded = producer.upload_outputs(["runs/1/build"], {"repo_url": f"{base}/artifacts/f26/repo/vim_repo/"})
    assert uploaded == ["runs/1/build", "f26/repo/vim_repo/"]
    consumer = ArtifactClient(_config(tmp_path / "w2", base_url=base), client=server)
    fetched = consumer.fetch_inputs({"repo_url": f"{base}/artifacts/f26/repo/vim_repo/",
                                     "log": f"{base}/artifacts/runs/1/build/build.log"})
    assert len(fetched) == 2
    assert (consumer.root / "f26/repo/vim_repo/repodata/repomd.xml").read_text() == "<repomd/>"
    assert (consumer.root / "runs/1/build/build.log").read_text() == "ok"
