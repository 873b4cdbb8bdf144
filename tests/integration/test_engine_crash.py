"""kill -9 of ``ci-pipeline serve`` at random moments, then a restart: every run finishes, in order.

A real ``serve`` subprocess drives 20 runs of a seven-stage pipeline of command stages and is killed
ten times. The bus log must then hold, for every run, exactly queued/running/complete per stage and
the pipeline-end message, where the only extra messages are exact repeats (same msg_id) of the
at-least-once relay.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ci_pipeline.bus import open_bus
from ci_pipeline.config import load_config
from ci_pipeline.messages.inbound import GitPush
from ci_pipeline.messages.topics import STAGE_ORDER, TOPIC_WORDS
from ci_pipeline.store import runs as q
from ci_pipeline.store.db import open_store
from ci_pipeline.trigger import Trigger

pytestmark = pytest.mark.integration

RUNS = 20
KILLS = 10
MARKER_SLEEP = "0.317"


def _expected() -> list[str]:
    sequence = []
    for stage in STAGE_ORDER:
        states = ("running", "complete") if stage == "build" else ("queued", "running", "complete")
        sequence += [f"{TOPIC_WORDS[stage]}.{state}:SUCCESS" for state in states]
    return [*sequence, "complete:SUCCESS"]


def _write_config(tmp_path: Path) -> Path:
    pipeline = tmp_path / "pipeline.toml"
    tables = []
    for stage in STAGE_ORDER:
        extra = "interval = 0\n" if stage == "image" else ""
        tables.append(f'[[stage]]\nname = "{stage}"\nrun = "sleep {MARKER_SLEEP}"\n{extra}')
    pipeline.write_text("\n".join(tables))
    config = tmp_path / "ci.toml"
    config.write_text(
        f'state_dir = "{tmp_path / "state"}"\n[pipeline]\nfile = "{pipeline}"\nsupersede = false\n'
        "[executor]\nconcurrency = 4\n"
        f"[trigger]\npackages = {json.dumps([f'pkg{index}' for index in range(RUNS)])}\n"
    )
    return config


def _queue_runs(config_path: Path) -> None:
    config = load_config(config_path, environ={})
    store = open_store(config.store.url)
    trigger = Trigger(config, store)
    rng = random.Random(7)
    with store.session() as session:
        pushes = [
            GitPush(
                repo=f"pkg{index}",
                rev=f"{rng.getrandbits(160):040x}",
                namespace="rpms",
                branch="f26",
                msg_id=f"m{index}",
            )
            for index in range(RUNS)
        ]
        trigger.decide_pushes(session, pushes, force=True)
    store.close()


def _serve(config_path: Path, stderr: int = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "ci_pipeline", "--config", str(config_path)]
    command += ["serve", "--until-idle", "--no-web"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr, env=dict(os.environ))


def _wait_for_work(config_path: Path, process: subprocess.Popen[bytes]) -> None:
    """Wait until this serve process has started some stage (its start-up takes a while)."""
    config = load_config(config_path, environ={})
    store = open_store(config.store.url)
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline and process.poll() is None:
            with store.session() as session:
                owners = {run.owner for run in q.list_runs(session) if run.state != "complete"}
            if any(owner and owner.split(":")[1] == str(process.pid) for owner in owners):
                return
            time.sleep(0.05)
    finally:
        store.close()


def test_kill_9_at_random_points_loses_and_reorders_nothing(tmp_path: Path) -> None:
    config_path = _write_config(tmp_path)
    _queue_runs(config_path)
    rng = random.Random(11)
    for _ in range(KILLS):
        process = _serve(config_path)
        _wait_for_work(config_path, process)
        time.sleep(rng.uniform(0.0, 0.8))
        process.send_signal(signal.SIGKILL)
        process.wait()
    final = _serve(config_path, subprocess.PIPE)
    _, stderr = final.communicate(timeout=240)
    assert final.returncode == 0, stderr.decode()

    config = load_config(config_path, environ={})
    bus = open_bus(config.bus.url)
    per_run: dict[str, list[str]] = {}
    seen: set[str] = set()
    for delivery in bus.replay():
        envelope = json.loads(delivery.payload)
        if envelope["msg_id"] in seen:
            continue  # an exact repeat of the at-least-once relay
        seen.add(envelope["msg_id"])
        body = envelope["msg"]
        suffix = delivery.topic.split(".ci.pipeline.", 1)[1]
        per_run.setdefault(body["build_id"], []).append(f"{suffix}:{body['status']}")
    bus.close()
    assert len(per_run) == RUNS
    for build_id, sequence in per_run.items():
        assert [m for m in sequence if m != "package.queued:SUCCESS"] == _expected(), build_id
        assert sequence[0] == "package.queued:SUCCESS"

    store = open_store(config.store.url)
    with store.session() as session:
        runs = q.list_runs(session)
        attempts = [row.attempt for run in runs for row in q.stages_of(session, run.id)]
    store.close()
    assert len(runs) == RUNS and all(run.status == "SUCCESS" for run in runs)
    assert max(attempts) >= 2, attempts  # some running stage was killed and started again
    leftovers = subprocess.run(["pgrep", "-f", f"sleep {MARKER_SLEEP}"], capture_output=True, text=True)
    assert leftovers.stdout == "", "stage processes outlived their scheduler"
