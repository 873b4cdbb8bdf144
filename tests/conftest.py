"""Fixtures shared by every test package."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ci_pipeline.config import Config, load_config
from ci_pipeline.store.db import Store, open_store
from engine.helpers import postgres_store, sqlite_store_at

#: The seed's message examples (the message contract), kept in the repository's test data.
SEED_DIR = Path(__file__).resolve().parent / "data" / "seed"


@pytest.fixture(scope="session")
def seed_dir() -> Path:
    """The seed (the message contract's examples); the run fails loudly if it is missing."""
    if not any((SEED_DIR / "messages").glob("*.json")):
        pytest.fail(f"The seed messages are missing: expected JSON files in {SEED_DIR / 'messages'}.")
    return SEED_DIR


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """A default configuration whose state lives in a fresh temporary directory."""
    return load_config(environ={"CI_PIPELINE_STATE_DIR": str(tmp_path / "state")})


@pytest.fixture
def sqlite_store(config: Config) -> Iterator[Store]:
    """A migrated SQLite store in the test's state directory."""
    store = open_store(config.store.url)
    yield store
    store.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated store, on SQLite and on PostgreSQL (a fresh schema per test)."""
    if request.param == "sqlite":
        with sqlite_store_at(tmp_path / "store.sqlite") as store:
            yield store
    else:
        with postgres_store() as store:
            yield store
