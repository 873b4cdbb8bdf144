"""The web application and its server: REST API, ResultsDB and Greenwave APIs, dashboard, artifacts.

``create_app(config, store)`` builds the FastAPI app; ``start_web_server(config, store)`` serves it
with uvicorn in a background thread and returns a handle whose ``stop()`` ends it.
"""

from __future__ import annotations

import gc
import html
import socket
import threading
from importlib import resources
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from ci_pipeline.config import Config
from ci_pipeline.errors import CIPipelineError, ConfigError, NotFound, StoreError
from ci_pipeline.logcontext import get_logger
from ci_pipeline.store.db import Store, UnstorableValue
from ci_pipeline.web import (
    api_gating,
    api_hooks,
    api_records,
    api_runs,
    api_waivers,
    dashboard,
    pages,
    resultsdb,
    uploads,
)
from ci_pipeline.web.forward import Forwarder
from ci_pipeline.web.gating import load_policies
from ci_pipeline.web.limits import RequestLimits
from ci_pipeline.web.state import WebState

log = get_logger(__name__)


class ArtifactFiles(StaticFiles):
    """The artifact root over HTTP, with an HTML listing for directories (yum repos, compose trees)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        """A file as StaticFiles serves it; a directory as a list of links."""
        root = Path(str(self.directory)).resolve()
        target = (root / path).resolve()
        if target.is_relative_to(root) and target.is_dir():
            if not scope["path"].endswith("/"):
                return Response(status_code=301, headers={"Location": scope["path"] + "/"})
            return HTMLResponse(directory_listing(target, scope["path"]))
        return await super().get_response(path, scope)


def directory_listing(directory: Path, url_path: str) -> str:
    """A plain HTML index of one directory."""
    entries = sorted(directory.iterdir(), key=lambda p: (not p.is_dir(), p.name))
    links = "".join(
        f'<li><a href="{html.escape(p.name)}{"/" if p.is_dir() else ""}">{html.escape(p.name)}'
        f"{'/' if p.is_dir() else ''}</a></li>"
        for p in entries
    )
    title = html.escape(url_path)
    return f"<!doctype html><title>Index of {title}</title><h1>Index of {title}</h1><ul>{links}</ul>"


def _message(detail: Any) -> str:
    return detail if isinstance(detail, str) else str(detail)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        text = _message(exc.detail)
        return JSONResponse(
            {"detail": text, "message": text},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(RequestValidationError)
    async def bad_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(part) for part in first.get("loc", ()))
        text = f"The request is not valid: {where}: {first.get('msg')}."
        return JSONResponse({"detail": text, "message": text}, status_code=400)

    @app.exception_handler(CIPipelineError)
    async def pipeline_error(_request: Request, exc: CIPipelineError) -> JSONResponse:
        status = 404 if isinstance(exc, NotFound) else 503 if isinstance(exc, StoreError) else 400
        return JSONResponse({"detail": str(exc), "message": str(exc)}, status_code=status)

    @app.exception_handler(UnstorableValue)
    async def unstorable(_request: Request, exc: UnstorableValue) -> JSONResponse:
        # The database refused a value the request carried (out of range, a NUL byte, ...).
        log.info("request refused by the store: %s", exc.orig)
        text = "The request holds a value the store cannot keep (a number out of range or a NUL byte)."
        return JSONResponse({"detail": text, "message": text}, status_code=400)


def create_app(config: Config, store: Store, *, policy_file: str | Path | None = None) -> FastAPI:
    """The FastAPI app of the service; ``policy_file`` holds Greenwave-style gating policies."""
    app = FastAPI(
        title="ci-pipeline",
        version="1",
        description="CI pipeline runs, results and gating.",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.web = WebState(config=config, store=store, policies=load_policies(policy_file))
    _install_error_handlers(app)
    app.add_middleware(
        RequestLimits,
        request_limit=config.web.max_request_bytes,
        upload_limit=config.web.max_upload_bytes,
    )
    # uploads comes before the static /artifacts mount, which would otherwise answer its PUTs.
    routers = (api_runs, api_records, api_gating, api_waivers, api_hooks, resultsdb, dashboard, pages)
    for module in (*routers, uploads):
        app.include_router(module.router)
    static = resources.files("ci_pipeline.web").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    artifacts = config.artifact_root
    artifacts.mkdir(parents=True, exist_ok=True)
    app.mount("/artifacts", ArtifactFiles(directory=artifacts, check_dir=False), name="artifacts")
    return app


def freeze_startup_objects() -> None:
    """Leave what exists at start (modules, the app, its routes and templates) out of every later
    garbage collection: a full collection otherwise walks them all, and a request that triggers one
    takes ten times as long as the others."""
    gc.collect()
    gc.freeze()


def listen_address(listen: str) -> tuple[str, int]:
    """``host:port`` split; a bad value is a ConfigError."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"[web] listen '{listen}' is not host:port, e.g. 127.0.0.1:8080.")
    return host.strip("[]") or "127.0.0.1", int(port)


class WebServer:
    """A running web server (and result forwarder): ``port`` it listens on, ``stop()`` to end it."""

    def __init__(
        self,
        server: uvicorn.Server,
        thread: threading.Thread,
        forwarder: threading.Thread | None,
        stop_forwarding: threading.Event,
    ) -> None:
        self._server = server
        self._thread = thread
        self._forwarder = forwarder
        self._stop_forwarding = stop_forwarding

    @property
    def port(self) -> int:
        """The TCP port the server listens on (useful with port 0)."""
        for server in self._server.servers:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        return self._server.config.port

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and wait for the threads to end."""
        self._server.should_exit = True
        self._stop_forwarding.set()
        self._thread.join(timeout)
        if self._forwarder is not None:
            self._forwarder.join(timeout)


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def start_web_server(
    config: Config,
    store: Store,
    *,
    policy_file: str | Path | None = None,
    forward_url: str = "",
    forward_token: str = "",
    startup_timeout: float = 10.0,
) -> WebServer:
    """Serve the app on ``[web] listen`` in a thread; with ``forward_url``, forward results there too."""
    host, port = listen_address(config.web.listen)
    # Bound here, so a port in use is one clear error rather than uvicorn's log line.
    try:
        listener = socket.create_server((host, port), family=_family(host), reuse_port=False)
    except OSError as exc:
        raise ConfigError(f"The web server cannot listen on {config.web.listen}: {exc.strerror}.") from exc
    app = create_app(config, store, policy_file=policy_file)
    freeze_startup_objects()
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [listener]}, name="ci-pipeline-web", daemon=True
    )
    thread.start()
    stop = threading.Event()
    while not server.started and thread.is_alive() and not stop.wait(0.02):
        startup_timeout -= 0.02
        if startup_timeout <= 0:
            break
    if not server.started:
        server.should_exit = True
        raise ConfigError(f"The web server could not listen on {config.web.listen}; is the port in use?")
    forwarder = None
    if forward_url:
        worker = Forwarder(store, forward_url, token=forward_token)
        forwarder = threading.Thread(target=worker.run, args=(stop,), name="ci-pipeline-forward", daemon=True)
        forwarder.start()
    log.info("web server listening on %s:%d", host, port)
    return WebServer(server, thread, forwarder, stop)
