"""Fixtures of the engine tests: a store on SQLite and on PostgreSQL, runs, a pipeline file."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ci_pipeline.bus.base import Bus
from ci_pipeline.bus.memory import MemoryBus


@pytest.fixture
def bus() -> Iterator[Bus]:
    """An in-memory bus."""
    bus = MemoryBus("memory://")
    yield bus
    bus.close()
