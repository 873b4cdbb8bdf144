"""The ``ci-pipeline`` command: a parser with one module per command group.

Each module in :data:`COMMAND_MODULES` has ``register(subparsers)``, which adds its commands and sets
``handler(args, app) -> int`` on them. A user mistake is one sentence on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from ci_pipeline.cli.app import App
from ci_pipeline.errors import CIPipelineError, ConfigError, UsageError

#: The command modules, in the order their commands appear in ``--help``.
COMMAND_MODULES = (
    "ci_pipeline.cli.demo",
    "ci_pipeline.cli.serve",
    "ci_pipeline.cli.worker",
    "ci_pipeline.cli.publish",
    "ci_pipeline.cli.trigger",
    "ci_pipeline.cli.messages",
    "ci_pipeline.cli.runs",
    "ci_pipeline.cli.records",
    "ci_pipeline.cli.db",
)

EXIT_FAILURE = 1
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one sentence and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message[0].upper()}{message[1:]}.")


def build_parser() -> argparse.ArgumentParser:
    """The whole command-line parser."""
    parser = _Parser(prog="ci-pipeline", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--config", metavar="FILE", help="configuration file (TOML)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    try:
        args = build_parser().parse_args(argv)
    except UsageError as exc:
        print(f"ci-pipeline: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not getattr(args, "handler", None):
        print("ci-pipeline: Name a command; see ci-pipeline --help.", file=sys.stderr)
        return EXIT_USAGE
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    app = App(config_path=args.config)
    try:
        return int(args.handler(args, app))
    except (UsageError, ConfigError) as exc:
        print(f"ci-pipeline: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CIPipelineError as exc:
        print(f"ci-pipeline: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    finally:
        app.close()
