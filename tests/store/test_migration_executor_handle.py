"""Migration 0006: a stage's process group column becomes the executor's opaque handle, and back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, text

from ci_pipeline.store.db import Store, alembic_config
from engine.helpers import postgres_store

RUN = (
    "INSERT INTO runs (id, repo, rev, namespace, branch, generation, ci_name, build_id, state, status, "
    "reason, fields, options, created_at) VALUES (1, 'vim', :rev, 'rpms', 'f26', 0, 'ci-pipeline-f26', 1, "
    "'running', 'SUCCESS', '', '{}', '{}', CURRENT_TIMESTAMP)"
)
STAGE = (
    "INSERT INTO stage_runs (id, run_id, position, stage, state, attempt, reason, outputs, log_path, pgid) "
    "VALUES (:id, 1, :id, :stage, 'running', 1, '', '{}', '', :pgid)"
)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def unmigrated(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A store with no tables yet, on SQLite and on PostgreSQL (a fresh schema)."""
    if request.param == "sqlite":
        store = Store(f"sqlite:///{tmp_path / 'store.sqlite'}")
        yield store
        store.close()
        return
    with postgres_store(migrate=False) as store:
        yield store


def _columns(store: Store) -> set[str]:
    return {column["name"] for column in inspect(store.engine).get_columns("stage_runs")}


def test_recorded_process_groups_become_handles_and_go_back(unmigrated: Store) -> None:
    config = alembic_config(unmigrated.engine)
    command.upgrade(config, "0004")
    with unmigrated.engine.begin() as conn:
        conn.execute(text(RUN), {"rev": "a" * 40})
        conn.execute(text(STAGE), {"id": 1, "stage": "build", "pgid": 4242})
        conn.execute(text(STAGE), {"id": 2, "stage": "compose", "pgid": None})
    command.upgrade(config, "0006")
    assert "pgid" not in _columns(unmigrated) and "executor_handle" in _columns(unmigrated)
    with unmigrated.engine.begin() as conn:
        handles = dict(conn.execute(text("SELECT stage, executor_handle FROM stage_runs")).all())
        assert handles == {"build": "4242", "compose": None}
        conn.execute(text("UPDATE stage_runs SET executor_handle = '77@boot' WHERE stage = 'compose'"))
        conn.execute(text("INSERT INTO stage_runs (id, run_id, position, stage, state, attempt, reason, "
                          "outputs, log_path, executor_handle) VALUES (3, 1, 3, 'image', 'running', 1, '', "
                          "'{}', '', 'task:ci-pipeline:x')"))
    command.downgrade(config, "0004")
    assert "executor_handle" not in _columns(unmigrated) and "pgid" in _columns(unmigrated)
    with unmigrated.engine.begin() as conn:
        groups = dict(conn.execute(text("SELECT stage, pgid FROM stage_runs")).all())
    assert groups == {"build": 4242, "compose": 77, "image": None}
