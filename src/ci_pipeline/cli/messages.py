"""``ci-pipeline messages``: the messages on the bus, optionally following new ones."""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from typing import Any

from ci_pipeline.bus.base import Delivery
from ci_pipeline.cli.app import App

FOLLOW_INTERVAL = 0.2


def _show(delivery: Delivery, as_json: bool) -> None:
    if as_json:
        print(delivery.payload.decode("utf-8", "replace"), flush=True)
        return
    when = datetime.fromtimestamp(delivery.published_at, UTC).strftime("%H:%M:%S")
    status = ""
    try:
        body = json.loads(delivery.payload).get("msg", {})
        if isinstance(body, dict):
            status = " ".join(str(body[key]) for key in ("repo", "build_id", "status") if key in body)
    except (ValueError, AttributeError):
        status = "(not JSON)"
    print(f"{delivery.position:>7} {when} {delivery.topic} {status}", flush=True)


def messages(args: argparse.Namespace, app: App) -> int:
    """Print stored messages matching the topic glob; with --follow keep printing new ones."""
    position = 0
    topics = (args.topic,)
    while True:
        for delivery in app.bus.replay(topics, after=position):
            _show(delivery, args.json)
            position = delivery.position
        if not args.follow:
            return 0
        time.sleep(FOLLOW_INTERVAL)


def register(subparsers: Any) -> None:
    """Add ``messages``."""
    text = "show the messages on the bus"
    parser = subparsers.add_parser("messages", help=text, description=text)
    parser.add_argument("--topic", default="*", metavar="GLOB", help="only topics matching GLOB")
    parser.add_argument("--follow", action="store_true", help="keep printing new messages")
    parser.add_argument("--json", action="store_true", help="one envelope per line")
    parser.set_defaults(handler=messages)
