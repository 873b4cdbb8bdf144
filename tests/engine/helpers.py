"""Helpers of the engine tests: stores, runs inserted directly, pipelines of commands, bus checks."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from ci_pipeline.bus.base import Bus
from ci_pipeline.config import Config
from ci_pipeline.engine.core import Engine
from ci_pipeline.engine.definition import PipelineDefinition, StageSpec
from ci_pipeline.engine.relay import relay_all
from ci_pipeline.messages.topics import STAGE_ORDER, Stage
from ci_pipeline.store.db import Store, open_store
from ci_pipeline.store.models import Run

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


@contextmanager
def sqlite_store_at(path: Path) -> Iterator[Store]:
    """A migrated SQLite store in ``path``."""
    store = open_store(f"sqlite:///{path}")
    try:
        yield store
    finally:
        store.close()


@contextmanager
def postgres_store(*, migrate: bool = True) -> Iterator[Store]:
    """A store in a fresh PostgreSQL schema (migrated unless told otherwise), dropped afterwards."""
    schema = f"t_{secrets.token_hex(6)}"
    admin = create_engine(POSTGRES.replace("postgresql://", "postgresql+psycopg://"))
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    store = open_store(f"{POSTGRES}?options=-csearch_path%3D{schema}", migrate=migrate)
    try:
        yield store
    finally:
        store.close()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def add_run(
    store: Store,
    repo: str = "vim",
    branch: str = "f26",
    rev: str | None = None,
    options: dict[str, Any] | None = None,
) -> int:
    """Insert a queued run as the trigger would; return its id."""
    rev = rev or secrets.token_hex(20)
    with store.session() as session:
        build_id = (session.execute(text("SELECT COUNT(*) FROM runs")).scalar() or 0) + 1
        fields = {
            "CI_NAME": f"ci-pipeline-{branch}",
            "CI_TYPE": "custom",
            "build_id": str(build_id),
            "build_url": f"http://ci/job/ci-pipeline-{branch}/{build_id}/",
            "username": "fedora-atomic",
            "repo": repo,
            "rev": rev,
            "namespace": "rpms",
            "branch": branch,
            "ref": f"fedora/{branch}/x86_64/atomic-host",
            "message-content": "",
            "test_guidance": "''",
        }
        run = Run(
            repo=repo,
            rev=rev,
            namespace="rpms",
            branch=branch,
            ci_name=fields["CI_NAME"],
            build_id=build_id,
            fields=fields,
            options=options or {},
        )
        session.add(run)
        session.flush()
        return run.id


def command_pipeline(
    commands: dict[str, str] | None = None, **overrides: dict[str, Any]
) -> PipelineDefinition:
    """All seven stages as commands (``true`` unless given), image every run."""
    commands = commands or {}
    specs = []
    for stage in STAGE_ORDER:
        options: dict[str, Any] = {"interval": 0.0} if stage == Stage.IMAGE else {}
        options.update(overrides.get(str(stage), {}))
        specs.append(StageSpec(name=stage, command=commands.get(str(stage), "true"), **options))
    return PipelineDefinition(tuple(specs))


class ManualClock:
    """A monotonic clock that moves only when a test moves it (the engine's ``clock``)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass."""
        self.now += seconds


def drive(engine: Engine, bus: Bus, rounds: int = 2000) -> None:
    """Tick until nothing is left, then relay the outbox."""
    for _ in range(rounds):
        if not engine.tick(wait=0.05) and engine.idle():
            break
    else:
        raise AssertionError("the engine did not finish its runs")
    relay_all(engine.store, bus)


def messages(bus: Bus) -> list[tuple[str, dict[str, str]]]:
    """Every message on the bus: (topic suffix after ci.pipeline., body)."""
    out = []
    for delivery in bus.replay():
        envelope = json.loads(delivery.payload)
        out.append((delivery.topic.split(".ci.pipeline.", 1)[1], envelope["msg"]))
    return out


def run_messages(bus: Bus, build_id: str) -> list[str]:
    """The topic suffixes of one run's messages with their status, in bus order."""
    return [
        f"{suffix}:{body['status']}" for suffix, body in messages(bus) if body.get("build_id") == build_id
    ]


def stage_config(config: Config, **pipeline: Any) -> Config:
    """``config`` with ``[pipeline]`` keys replaced."""
    return config.model_copy(update={"pipeline": config.pipeline.model_copy(update=pipeline)})


def expected_sequence(stages: Sequence[str], final: str = "SUCCESS") -> list[str]:
    """The message sequence of a run whose ``stages`` all run and succeed (build queued by the trigger)."""
    from ci_pipeline.messages.topics import TOPIC_WORDS

    sequence: list[str] = []
    for stage in stages:
        words = TOPIC_WORDS[Stage(stage)]
        states = ["running", "complete"] if stage == "build" else ["queued", "running", "complete"]
        sequence += [f"{words}.{state}:SUCCESS" for state in states]
    return [*sequence, f"complete:{final}"]
