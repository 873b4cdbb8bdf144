"""Fixtures shared by every test package."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ci_pipeline.config import Config, load_config
from ci_pipeline.store.db import Store, open_store


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
