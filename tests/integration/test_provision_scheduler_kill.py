"""kill -9 of the scheduler while a stage holds a lab host: the lease survives; the next scheduler reclaims.

A real ``ci-pipeline serve`` runs a pipeline whose smoke stage leases the one lab host of the ssh
provisioner (tests/integration/hold_machines.py) and holds it. The scheduler is killed with -9 (its
stage dies with it); a new store session still shows the lease, held by the dead stage process. A
new scheduler takes the run over, reclaims the host from the attempt it will not resume, and the
smoke stage's next attempt leases the same host and the run succeeds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lab_host import LabHost, client_key, start_lab_host

from ci_pipeline.config import load_config
from ci_pipeline.messages.inbound import GitPush
from ci_pipeline.messages.topics import STAGE_ORDER
from ci_pipeline.store import leases
from ci_pipeline.store import runs as q
from ci_pipeline.store.db import Store, open_store
from ci_pipeline.store.runs import owner_is_dead_here
from ci_pipeline.store.states import LeaseState, RunState, Status
from ci_pipeline.trigger import Trigger

pytestmark = pytest.mark.integration

HOLD = Path(__file__).with_name("hold_machines.py")


@pytest.fixture
def lab_host(tmp_path: Path) -> Iterator[tuple[LabHost, Path]]:
    key = client_key(tmp_path)
    host = start_lab_host("lab1", tmp_path / "lab", key)
    try:
        yield host, key
    finally:
        host.stop()


def _write_config(tmp_path: Path, store: Store, host: LabHost, key: Path, mark: Path) -> Path:
    config = tmp_path / "ci.toml"
    pipeline = tmp_path / "pipeline.toml"
    tables = []
    for stage in STAGE_ORDER:
        command = f"{sys.executable} {HOLD} {config} {mark}" if stage == "smoke" else "true"
        extra = "interval = 0\n" if stage == "image" else ""
        tables.append(f'[[stage]]\nname = "{stage}"\nrun = "{command}"\nretries = 1\n{extra}')
    pipeline.write_text("\n".join(tables))
    config.write_text(
        f'state_dir = "{tmp_path / "state"}"\n[store]\nurl = "{store.url}"\n'
        f'[pipeline]\nfile = "{pipeline}"\n[trigger]\npackages = ["vim"]\n'
        f'[provision]\nwait_seconds = 60\n[provision.smoke]\nprovisioner = "ssh"\n'
        f'[provision.ssh]\nkey = "{key}"\nconnect_timeout = 3\n'
        f'hosts = [{{ name = "lab1", address = "127.0.0.1", port = {host.port} }}]\n'
    )
    return config


def _serve(config: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "ci_pipeline",
        "--config",
        str(config),
        "serve",
        "--until-idle",
        "--no-web",
    ]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=dict(os.environ))


def _wait_for(path: Path, process: subprocess.Popen[bytes], timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return path.read_text()
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
        time.sleep(0.1)
    raise AssertionError(f"{path} did not appear within {timeout} s")


def test_a_lease_survives_the_schedulers_kill_and_the_next_scheduler_reclaims_it(
    tmp_path: Path, store: Store, lab_host: tuple[LabHost, Path]
) -> None:
    host, key = lab_host
    mark = tmp_path / "held"
    config_path = _write_config(tmp_path, store, host, key, mark)
    config = load_config(config_path, environ={})
    with store.session() as session:
        Trigger(config, store).decide_pushes(
            session,
            [GitPush(repo="vim", rev="a" * 40, namespace="rpms", branch="f26", msg_id="m1")],
            force=True,
        )
    first = _serve(config_path)
    assert _wait_for(mark, first) == "1 lab1\n"
    first.send_signal(signal.SIGKILL)
    first.communicate()
    mark.unlink()

    survivor = open_store(store.url, migrate=False)
    try:
        with survivor.session() as session:
            (lease,) = leases.current(session)
            assert (lease.machine, lease.stage, lease.attempt, lease.state) == (
                "lab1",
                "smoke",
                1,
                LeaseState.HELD,
            )
            holder = lease.holder
        deadline = time.monotonic() + 10  # the stage process dies with its scheduler
        while not owner_is_dead_here(holder) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert owner_is_dead_here(holder)

        second = _serve(config_path)
        _, stderr = second.communicate(timeout=240)
        assert second.returncode == 0, stderr.decode()
        assert mark.read_text() == "2 lab1\n"
        with survivor.session() as session:
            assert leases.current(session) == []
            (run,) = q.list_runs(session)
            assert (run.state, run.status) == (RunState.COMPLETE, Status.SUCCESS)
    finally:
        survivor.close()
