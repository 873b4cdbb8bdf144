"""``ci-pipeline db upgrade``: apply the store's migrations."""

from __future__ import annotations

import argparse
from typing import Any

from ci_pipeline.cli.app import App
from ci_pipeline.store.db import open_store


def upgrade(args: argparse.Namespace, app: App) -> int:
    """Bring the store's schema up to date."""
    store = open_store(app.config.store.url)
    store.close()
    print(f"The store at {app.config.store.url} is up to date.")
    return 0


def register(subparsers: Any) -> None:
    """Add ``db upgrade``."""
    parser = subparsers.add_parser(
        "db", help="manage the results store", description="manage the results store"
    )
    commands = parser.add_subparsers(dest="db_command", metavar="COMMAND", required=True)
    text = "apply every pending migration"
    commands.add_parser("upgrade", help=text, description=text).set_defaults(handler=upgrade)
