"""``ci-pipeline serve``: consume the bus, run pipelines, relay messages."""

from __future__ import annotations

import argparse
import signal
import threading
from typing import Any

from ci_pipeline.cli.app import App
from ci_pipeline.config import Config
from ci_pipeline.service import Service
from ci_pipeline.store.db import Store
from ci_pipeline.web.server import WebServer, start_web_server


def serve(args: argparse.Namespace, app: App) -> int:
    """Run the service until interrupted, or with --until-idle until no work is left."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    service = Service(app.config, app.store, app.bus)
    web = None if args.no_web else start_web(app.config, app.store)
    try:
        service.run(until_idle=args.until_idle, stop=stop)
    except KeyboardInterrupt:
        stop.set()
    finally:
        if web is not None:
            web.stop()
    return 0


def start_web(config: Config, store: Store) -> WebServer:
    """The dashboard, APIs and artifact server on ``[web] listen``, as configured."""
    web = config.web
    return start_web_server(
        config,
        store,
        policy_file=web.policy_file or None,
        forward_url=web.forward_url,
        forward_token=web.forward_token,
    )


def register(subparsers: Any) -> None:
    """Add ``serve``."""
    text = "consume the bus, run pipelines and serve the web"
    parser = subparsers.add_parser("serve", help=text, description=text)
    parser.add_argument("--until-idle", action="store_true", help="exit when no work is left")
    parser.add_argument("--no-web", action="store_true", help="do not serve the web dashboard and APIs")
    parser.set_defaults(handler=serve)
