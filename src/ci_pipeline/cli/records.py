"""``ci-pipeline decisions`` and ``ci-pipeline dead-letters``: what the trigger decided and rejected."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ci_pipeline.cli.app import App
from ci_pipeline.store.dead_letters import all_dead_letters
from ci_pipeline.store.decisions import all_decisions
from ci_pipeline.store.records import dead_letter_json, decision_json


def decisions(args: argparse.Namespace, app: App) -> int:
    """Every push with its decision and reason, oldest first."""
    with app.store.session() as session:
        for row in all_decisions(session):
            if args.json:
                print(json.dumps(decision_json(row)))
            else:
                print(f"{row.id:>6} {row.decision:<6} {row.repo} {row.rev[:7]} {row.branch}: {row.reason}")
    return 0


def dead_letters(args: argparse.Namespace, app: App) -> int:
    """Every rejected message with its reason, oldest first."""
    with app.store.session() as session:
        for row in all_dead_letters(session):
            if args.json:
                print(json.dumps(dead_letter_json(row)))
            else:
                print(f"{row.id:>6} {row.topic}: {row.reason}")
    return 0


def register(subparsers: Any) -> None:
    """Add ``decisions`` and ``dead-letters``."""
    for name, handler, text in (
        ("decisions", decisions, "every push the trigger saw, with its decision and reason"),
        ("dead-letters", dead_letters, "every rejected message, with the reason"),
    ):
        parser = subparsers.add_parser(name, help=text, description=text)
        parser.add_argument("--json", action="store_true", help="one JSON object per line")
        parser.set_defaults(handler=handler)
