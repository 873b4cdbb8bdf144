"""``ci-pipeline serve``: consume the bus, run pipelines, relay messages."""

from __future__ import annotations

import argparse
import signal
import threading
from typing import Any

from ci_pipeline.cli.app import App
from ci_pipeline.service import Service


def serve(args: argparse.Namespace, app: App) -> int:
    """Run the service until interrupted, or with --until-idle until no work is left."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    service = Service(app.config, app.store, app.bus)
    try:
        service.run(until_idle=args.until_idle, stop=stop)
    except KeyboardInterrupt:
        stop.set()
    return 0


def register(subparsers: Any) -> None:
    """Add ``serve``."""
    text = "consume the bus, run pipelines and serve the web"
    parser = subparsers.add_parser("serve", help=text, description=text)
    parser.add_argument("--until-idle", action="store_true", help="exit when no work is left")
    parser.set_defaults(handler=serve)
