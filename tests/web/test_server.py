"""Starting the web server: a port in use is one clear error."""

from __future__ import annotations

import socket

import pytest

from ci_pipeline.config import Config
from ci_pipeline.errors import ConfigError
from ci_pipeline.store.db import Store
from ci_pipeline.web.server import start_web_server


def test_a_port_in_use_is_one_config_error(config: Config, sqlite_store: Store) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        web = config.web.model_copy(update={"listen": f"127.0.0.1:{port}"})
        with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{port}"):
            start_web_server(config.model_copy(update={"web": web}), sqlite_store)
