"""Webhook delivery ids: migration 0008 brings their table, and an id is taken once, on both stores."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect

from ci_pipeline.store.db import Store, alembic_config
from ci_pipeline.store.webhook_deliveries import take_deliveries, take_delivery

from .test_migration_executor_handle import unmigrated as unmigrated  # the fixture, shared


def test_a_delivery_id_is_taken_once_per_forge(store: Store) -> None:
    with store.session() as session:
        assert take_delivery(session, "github", "f6266f16-1bf3-46a5-9ea4-602e06ead473")
        assert not take_delivery(session, "github", "f6266f16-1bf3-46a5-9ea4-602e06ead473")
        assert take_delivery(session, "forgejo", "f6266f16-1bf3-46a5-9ea4-602e06ead473")


def test_a_rolled_back_delivery_leaves_its_id_free(store: Store) -> None:
    try:
        with store.session() as session:
            assert take_delivery(session, "gitlab", "retry-me")
            raise RuntimeError("the decision failed")
    except RuntimeError:
        pass
    with store.session() as session:
        assert take_delivery(session, "gitlab", "retry-me")


def test_the_table_comes_with_0008_and_goes_back(unmigrated: Store) -> None:
    config = alembic_config(unmigrated.engine)
    command.upgrade(config, "0008")
    assert "webhook_deliveries" in inspect(unmigrated.engine).get_table_names()
    command.downgrade(config, "0007")
    assert "webhook_deliveries" not in inspect(unmigrated.engine).get_table_names()
    command.upgrade(config, "head")


def test_a_batch_takes_each_id_once_even_when_it_repeats(store: Store) -> None:
    with store.session() as session:
        assert take_delivery(session, "pagure", "2026-a")
        keys = [("pagure", "2026-a"), ("pagure", "2026-b"), ("pagure", "2026-b"), ("gitlab", "2026-a")]
        assert take_deliveries(session, keys) == [False, True, False, True]
        assert take_deliveries(session, []) == []
