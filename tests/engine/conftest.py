"""Fixtures of the engine tests: a store on SQLite and on PostgreSQL, runs, a pipeline file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ci_pipeline.bus.base import Bus
from ci_pipeline.bus.memory import MemoryBus
from ci_pipeline.config import Config
from ci_pipeline.store.db import Store

from .helpers import postgres_store, sqlite_store_at


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, config: Config, tmp_path: Path) -> Iterator[Store]:
    """A migrated store, on SQLite and on PostgreSQL (a fresh schema per test)."""
    if request.param == "sqlite":
        with sqlite_store_at(tmp_path / "engine.sqlite") as store:
            yield store
    else:
        with postgres_store() as store:
            yield store


@pytest.fixture
def bus() -> Iterator[Bus]:
    """An in-memory bus."""
    bus = MemoryBus("memory://")
    yield bus
    bus.close()
