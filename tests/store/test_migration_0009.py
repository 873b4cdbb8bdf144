"""Migration 0009: the machine_leases table comes and goes, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect

from ci_pipeline.store.db import Store, alembic_config

from .test_migration_executor_handle import unmigrated as unmigrated  # the fixture, shared


def _tables(store: Store) -> set[str]:
    return set(inspect(store.engine).get_table_names())


def test_machine_leases_come_with_0009_and_go_back(unmigrated: Store) -> None:
    config = alembic_config(unmigrated.engine)
    command.upgrade(config, "0008")
    assert "machine_leases" not in _tables(unmigrated)
    command.upgrade(config, "0009")
    assert "machine_leases" in _tables(unmigrated)
    indexes = {index["name"]: index for index in inspect(unmigrated.engine).get_indexes("machine_leases")}
    assert indexes["ux_machine_leases_machine"]["unique"]
    assert {"ix_machine_leases_run", "ix_machine_leases_holder"} <= set(indexes)
    command.downgrade(config, "0008")
    assert "machine_leases" not in _tables(unmigrated)
    command.upgrade(config, "head")
    assert "machine_leases" in _tables(unmigrated)
