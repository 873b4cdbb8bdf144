"""Fixtures of the web tests: an app on a fresh store with one finished run, and an HTTP client."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from web_fixtures import TOKEN, add_finished_run

from ci_pipeline.config import Config
from ci_pipeline.store.db import Store
from ci_pipeline.web.server import start_web_server


@pytest.fixture
def web_config(config: Config) -> Config:
    """The test configuration with a write token."""
    web = config.web.model_copy(update={"token": TOKEN, "listen": "127.0.0.1:0"})
    return config.model_copy(update={"web": web})


def served_client(config: Config, store: Store, *, with_run: bool = True) -> Iterator[httpx.Client]:
    """A client of the app, served by uvicorn on a free port, on ``store`` (with one finished run added
    unless ``with_run`` is false)."""
    if with_run:
        add_finished_run(store, config)
    server = start_web_server(config, store)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as http:
            yield http
    finally:
        server.stop()


@pytest.fixture
def client(web_config: Config, sqlite_store: Store) -> Iterator[httpx.Client]:
    """A client of the app, served by uvicorn on a free port, on a store holding one finished run."""
    yield from served_client(web_config, sqlite_store)


@pytest.fixture
def auth() -> dict[str, str]:
    """The header that authorises writes."""
    return {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def any_client(web_config: Config, store: Store) -> Iterator[httpx.Client]:
    """A client of the served app on SQLite and on PostgreSQL, the store holding one finished run."""
    yield from served_client(web_config, store)
