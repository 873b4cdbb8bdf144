"""Forwarding results to another ResultsDB: nothing lost while it is down, all sent in order once it is up."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from web_fixtures import add_finished_run

from ci_pipeline.config import Config
from ci_pipeline.store.db import Store
from ci_pipeline.store.models import ForwardCursor
from ci_pipeline.web.forward import Forwarder, backoff


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _fake_resultsdb(received: list[dict[str, Any]], port: int) -> uvicorn.Server:
    app = FastAPI()

    @app.post("/api/v2.0/results", status_code=201)
    async def results(request: Request) -> dict[str, Any]:
        received.append(await request.json())
        return {"id": len(received)}

    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    return server


def test_results_wait_while_the_target_is_down(config: Config, sqlite_store: Store) -> None:
    add_finished_run(sqlite_store, config)
    port = _free_port()
    forwarder = Forwarder(sqlite_store, f"http://127.0.0.1:{port}/api/v2.0")
    assert forwarder.forward_once() == 0
    with sqlite_store.session() as session:
        cursor = session.get(ForwardCursor, forwarder.target)
        assert cursor is not None and cursor.failures == 1 and cursor.last_result_id == 0
        cursor.next_attempt_at = None  # skip the backoff wait
    received: list[dict[str, Any]] = []
    server = _fake_resultsdb(received, port)
    try:
        assert forwarder.forward_once() == 4
        assert forwarder.forward_once() == 0
    finally:
        forwarder.close()
        server.should_exit = True
    assert [r["testcase"]["name"] for r in received] == [
        "ci-pipeline.functional.test_add",
        "ci-pipeline.functional.test_div",
        "ci-pipeline.build",
        "ci-pipeline.functional",
    ]


def test_backoff_grows_and_is_capped() -> None:
    assert [backoff(n) for n in (1, 2, 3)] == [1.0, 2.0, 4.0]
    assert backoff(50) == 300.0
