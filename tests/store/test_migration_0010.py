"""Migration 0010: the dashboard's indexes come and go, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect

from ci_pipeline.store.db import Store, alembic_config

from .test_migration_executor_handle import unmigrated as unmigrated  # the fixture, shared

DASHBOARD_INDEXES = {
    ("results", "ix_results_run"),
    ("runs", "ix_runs_repo_id"),
    ("decisions", "ix_decisions_repo_id"),
    ("stage_runs", "ix_stage_runs_finished"),
    ("stage_runs", "ix_stage_runs_stage_finished"),
}


def _present(store: Store) -> set[tuple[str, str]]:
    found = inspect(store.engine)
    tables = {table for table, _name in DASHBOARD_INDEXES}
    names = {(table, index["name"]) for table in tables for index in found.get_indexes(table)}
    return names & DASHBOARD_INDEXES


def test_the_indexes_come_with_0010_and_go_back(unmigrated: Store) -> None:
    config = alembic_config(unmigrated.engine)
    command.upgrade(config, "0007")
    assert _present(unmigrated) == set()
    command.upgrade(config, "0010")
    assert _present(unmigrated) == DASHBOARD_INDEXES
    command.downgrade(config, "0007")
    assert _present(unmigrated) == set()
    command.upgrade(config, "head")
    assert _present(unmigrated) == DASHBOARD_INDEXES
