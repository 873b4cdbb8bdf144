"""Nothing a stage starts outlives it under a real ``ci-pipeline serve``: not after ``runs cancel``,
not after a normal shutdown, not after ``kill -9`` of serve (and a cancel while it is down).

The build command starts one child that calls ``setsid`` and one double-forked daemon, both named
by a marker, then sleeps; the processes are looked for by that name.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from ci_pipeline.config import load_config
from ci_pipeline.messages.inbound import GitPush
from ci_pipeline.store import runs as q
from ci_pipeline.store.db import open_store
from ci_pipeline.trigger import Trigger

pytestmark = pytest.mark.integration


def _setup(tmp_path: Path, marker: str) -> Path:
    command = (
        f"setsid bash -c 'exec -a {marker}-setsid sleep 1000' & "
        f"( setsid bash -c 'exec -a {marker}-daemon sleep 1000' </dev/null >/dev/null 2>&1 & ); "
        "sleep 1000"
    )
    pipeline = tmp_path / "pipeline.toml"
    pipeline.write_text(f'[[stage]]\nname = "build"\nrun = {json.dumps(command)}\n')
    config_path = tmp_path / "ci.toml"
    config_path.write_text(
        f'state_dir = "{tmp_path / "state"}"\n[pipeline]\nfile = "{pipeline}"\n'
        '[trigger]\npackages = ["pkg"]\n'
    )
    config = load_config(config_path, environ={})
    store = open_store(config.store.url)
    with store.session() as session:
        push = GitPush(repo="pkg", rev="a" * 40, namespace="rpms", branch="f26", msg_id="m1")
        Trigger(config, store).decide_pushes(session, [push], force=True)
    store.close()
    return config_path


def _cli(config_path: Path, *args: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "ci_pipeline", "--config", str(config_path), *args]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=dict(os.environ))


def _marked(marker: str) -> list[str]:
    found = subprocess.run(["pgrep", "-f", f"^{marker}-"], capture_output=True, text=True).stdout
    return found.split()


def _wait_marked(marker: str, count: int, serve: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while len(_marked(marker)) < count and time.monotonic() < deadline and serve.poll() is None:
        time.sleep(0.05)
    assert len(_marked(marker)) == count, "the stage's children did not start"


def _none_left(marker: str, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while _marked(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not _marked(marker)


def _run_status(config_path: Path) -> str | None:
    store = open_store(load_config(config_path, environ={}).store.url)
    with store.session() as session:
        status = q.get_run(session, 1).status
    store.close()
    return status


def _cancel(config_path: Path) -> None:
    cancel = _cli(config_path, "runs", "cancel", "1")
    _, stderr = cancel.communicate(timeout=60)
    assert cancel.returncode == 0, stderr.decode()


@pytest.mark.parametrize("ending", ["runs-cancel", "sigterm", "kill-9-then-cancel"])
def test_nothing_a_stage_started_outlives_it(tmp_path: Path, ending: str) -> None:
    marker = f"ci-serve-{uuid.uuid4().hex[:12]}"
    config_path = _setup(tmp_path, marker)
    serve = _cli(config_path, "serve", "--until-idle", "--no-web")
    try:
        _wait_marked(marker, 2, serve)
        if ending == "runs-cancel":
            _cancel(config_path)
            assert _none_left(marker)
        elif ending == "sigterm":
            serve.send_signal(signal.SIGTERM)
            serve.wait(60)
            assert _none_left(marker, seconds=0)  # gone by the time serve has exited
        else:
            serve.send_signal(signal.SIGKILL)
            serve.communicate(timeout=60)
            assert _none_left(marker)
            _cancel(config_path)  # while no scheduler runs
            serve = _cli(config_path, "serve", "--until-idle", "--no-web")
        _, stderr = serve.communicate(timeout=120)
        assert serve.returncode == 0, stderr.decode()
        assert _none_left(marker, seconds=0)
        if ending != "sigterm":
            assert _run_status(config_path) == "ABORTED"
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()
