"""Migration 0007: the waivers and decision_answers tables come and go, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, text

from ci_pipeline.store.db import Store, alembic_config

from .test_migration_executor_handle import unmigrated as unmigrated  # the fixture, shared

WAIVER = (
    "INSERT INTO waivers (id, subject_type, subject_identifier, testcase, product_version, waived, "
    "username, comment, timestamp) VALUES (1, 'koji_build', 'vim-1-1.fc26', 't1', 'fedora-26', true, "
    "'ci-pipeline', 'known', CURRENT_TIMESTAMP)"
)


def _tables(store: Store) -> set[str]:
    return set(inspect(store.engine).get_table_names())


def test_the_tables_come_with_0007_and_go_back(unmigrated: Store) -> None:
    config = alembic_config(unmigrated.engine)
    command.upgrade(config, "0006")
    assert not {"waivers", "decision_answers"} & _tables(unmigrated)
    command.upgrade(config, "0007")
    assert {"waivers", "decision_answers"} <= _tables(unmigrated)
    indexes = {index["name"] for index in inspect(unmigrated.engine).get_indexes("waivers")}
    assert {"ix_waivers_subject", "ix_waivers_timestamp"} <= indexes
    with unmigrated.engine.begin() as conn:
        conn.execute(text(WAIVER))
        assert conn.execute(text("SELECT waived FROM waivers")).scalar_one() in (True, 1)
    command.downgrade(config, "0006")
    assert not {"waivers", "decision_answers"} & _tables(unmigrated)
    assert "stage_runs" in _tables(unmigrated)
    command.upgrade(config, "head")
    assert {"waivers", "decision_answers"} <= _tables(unmigrated)
