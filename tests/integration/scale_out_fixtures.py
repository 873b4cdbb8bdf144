"""Helpers of the scale-out tests: a RabbitMQ vhost and PostgreSQL schema per test, workers, serves."""

from __future__ import annotations

import contextlib
import json
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg

from ci_pipeline.config import load_config
from ci_pipeline.messages.inbound import GitPush
from ci_pipeline.messages.topics import STAGE_ORDER
from ci_pipeline.store.db import open_store
from ci_pipeline.trigger import Trigger

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def rabbitmqctl(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``rabbitmqctl`` quietly."""
    command = ["rabbitmqctl", "-q", *args]
    return subprocess.run(command, capture_output=True, text=True, check=check, timeout=120)


@contextlib.contextmanager
def rabbit_vhost() -> Iterator[str]:
    """A fresh RabbitMQ virtual host for guest; deleted afterwards."""
    name = f"t_{uuid.uuid4().hex[:10]}"
    rabbitmqctl("add_vhost", name)
    rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
    try:
        yield name
    finally:
        rabbitmqctl("delete_vhost", name, check=False)


@contextlib.contextmanager
def postgres_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema; its store URL is yielded, the schema dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {name}")
    try:
        yield f"{POSTGRES}?options=-csearch_path%3D{name}"
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {name} CASCADE")


def write_pipeline(path: Path, command: str, stages: tuple[str, ...]) -> Path:
    """A pipeline file where ``stages`` run ``command`` and every other stage is disabled."""
    tables = []
    for stage in STAGE_ORDER:
        body = f"run = {json.dumps(command)}" if stage in stages else "enabled = false"
        tables.append(f'[[stage]]\nname = "{stage}"\n{body}\n')
    path.write_text("\n".join(tables))
    return path


def write_config(directory: Path, *, store_url: str, vhost: str, pipeline: Path, runs: int,
                 in_flight: int = 16, extra: str = "") -> Path:
    """A configuration of the celery executor on ``vhost`` with a store, a SQLite bus and state here."""
    config = directory / "ci.toml"
    packages = json.dumps([f"pkg{index}" for index in range(runs)])
    config.write_text(
        f'state_dir = "{directory / "state"}"\n'
        f'[store]\nurl = "{store_url}"\n'
        f'[bus]\nurl = "sqlite:///{directory / "bus.sqlite"}"\n'
        f'[pipeline]\nfile = "{pipeline}"\nsupersede = false\n'
        f"[trigger]\npackages = {packages}\n"
        f'[executor]\nkind = "celery"\nconcurrency = {in_flight}\n'
        f'broker = "amqp://guest:guest@127.0.0.1:5672/{vhost}"\n' + extra
    )
    return config


def queue_runs(config_path: Path, runs: int, seed: int = 7) -> None:
    """Decide one push per package, so ``runs`` runs are queued."""
    config = load_config(config_path, environ={})
    store = open_store(config.store.url)
    rng = random.Random(seed)
    pushes = [GitPush(repo=f"pkg{index}", rev=f"{rng.getrandbits(160):040x}", namespace="rpms",
                      branch="f26", msg_id=f"m{index}") for index in range(runs)]
    with store.session() as session:
        Trigger(config, store).decide_pushes(session, pushes, force=True)
    store.close()


def start_worker(config_path: Path, name: str, log: Path, concurrency: int = 2) -> subprocess.Popen[bytes]:
    """Start ``ci-pipeline worker`` and wait until Celery says it is ready."""
    command = [sys.executable, "-m", "ci_pipeline", "--config", str(config_path), "worker",
               f"--concurrency={concurrency}", f"--name={name}"]
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=dict(os.environ))
    deadline = time.monotonic() + 30
    while " ready." not in log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"worker {name} did not start:\n{log.read_text(errors='replace')}")
        time.sleep(0.1)
    return process


def start_serve(config_path: Path, log: Path) -> subprocess.Popen[bytes]:
    """Start ``ci-pipeline serve --until-idle --no-web``."""
    command = [sys.executable, "-m", "ci_pipeline", "--config", str(config_path), "serve",
               "--until-idle", "--no-web"]
    with log.open("wb") as output:
        return subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=dict(os.environ))


def stop(process: subprocess.Popen[bytes]) -> None:
    """End a process this test started, if it still runs."""
    if process.poll() is None:
        process.kill()
    process.wait()


def await_rabbitmq(timeout: float = 120.0) -> None:
    """Start the RabbitMQ node if needed and wait until it is up; a start that does not boot is retried."""
    deadline = time.monotonic() + timeout
    while rabbitmqctl("status", check=False).returncode != 0:
        assert time.monotonic() < deadline, "RabbitMQ did not start"
        subprocess.run(["rabbitmq-server", "-detached"], check=False, timeout=60)
        booting = time.monotonic() + 20
        while time.monotonic() < booting and rabbitmqctl("status", check=False).returncode != 0:
            time.sleep(0.5)
    rabbitmqctl("await_startup")


def restart_rabbitmq() -> None:
    """Stop the RabbitMQ node and start it again."""
    rabbitmqctl("stop")
    await_rabbitmq()


def ensure_rabbitmq_up() -> None:
    """Start RabbitMQ again if it is down (a failed test must not leave it stopped)."""
    await_rabbitmq()
