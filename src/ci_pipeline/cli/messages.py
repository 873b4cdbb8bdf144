"""``ci-pipeline messages``: the messages on the bus, optionally following new ones."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from ci_pipeline.bus.base import Delivery
from ci_pipeline.cli.app import App
from ci_pipeline.errors import BusError
from ci_pipeline.store.db import Store
from ci_pipeline.store.outbox import messages_after

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


def sent_messages(store: Store, topic_glob: str, after: int) -> Iterator[Delivery]:
    """The store's log of the messages this service sent (its outbox), as deliveries."""
    for row in messages_after(store, topic_glob, after):
        yield Delivery(row.id, row.topic, row.payload, row.created_at.timestamp())


def message_log(app: App, topic_glob: str) -> Callable[[int], Iterator[Delivery]]:
    """How to read the messages after a position: the bus's own log where it keeps one (SQLite),
    else (a broker keeps none) the store's log of the messages this service sent."""
    topics = (topic_glob,)
    try:
        next(iter(app.bus.replay(topics, limit=1)), None)
    except BusError:
        return lambda after: sent_messages(app.store, topic_glob, after)
    return lambda after: app.bus.replay(topics, after=after)


def messages(args: argparse.Namespace, app: App) -> int:
    """Print stored messages matching the topic glob; with --follow keep printing new ones."""
    read = message_log(app, args.topic)
    position = 0
    while True:
        for delivery in read(position):
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
