"""Fixtures of the store tests: a migrated store on SQLite and on PostgreSQL."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ci_pipeline.store.db import Store

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))
from helpers import postgres_store, sqlite_store_at


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated store, on SQLite and on PostgreSQL (a fresh schema per test)."""
    if request.param == "sqlite":
        with sqlite_store_at(tmp_path / "store.sqlite") as store:
            yield store
    else:
        with postgres_store() as store:
            yield store
