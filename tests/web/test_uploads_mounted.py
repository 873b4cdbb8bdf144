"""The service's own web app accepts artifact uploads from remote workers."""

from __future__ import annotations

from pathlib import Path

import httpx

from ci_pipeline.config import Config
from ci_pipeline.store.db import Store
from ci_pipeline.web.server import start_web_server


def test_the_served_app_takes_uploads_with_the_token(config: Config, sqlite_store: Store) -> None:
    web = config.web.model_copy(update={"listen": "127.0.0.1:0", "token": "s3cret"})
    server = start_web_server(config.model_copy(update={"web": web}), sqlite_store)
    try:
        url = f"http://127.0.0.1:{server.port}/artifacts/f26/notes/hello.txt"
        assert httpx.put(url, content=b"hi").status_code == 401
        answer = httpx.put(url, content=b"hi", headers={"Authorization": "Bearer s3cret"})
        assert answer.status_code in (200, 201, 204), answer.text
        assert (Path(config.artifacts.root) / "f26/notes/hello.txt").read_bytes() == b"hi"
        assert httpx.get(url).content == b"hi"
    finally:
        server.stop()
