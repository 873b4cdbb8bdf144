"""``ci-pipeline trigger``: decide one change by hand, as if its push had arrived."""

from __future__ import annotations

import argparse
from typing import Any

from ci_pipeline.cli.app import App
from ci_pipeline.errors import MessageError, UsageError
from ci_pipeline.messages.envelope import encode
from ci_pipeline.messages.inbound import make_git_receive, parse_git_receive
from ci_pipeline.run_options import RUN_OPTIONS, run_options
from ci_pipeline.trigger import Trigger


def trigger(args: argparse.Namespace, app: App) -> int:
    """Record the decision for one change; a queued change becomes a run."""
    options = run_options(args.option, force_image=args.force_image)
    try:
        message = make_git_receive(
            repo=args.repo, rev=args.rev, branch=args.branch, namespace=args.namespace, username="ci-pipeline"
        )
        push = parse_git_receive(encode(message))
        verdict = Trigger(app.config, app.store).trigger_change(push, force=args.force, options=options)
    except MessageError as exc:
        raise UsageError(str(exc)) from exc
    print(f"{verdict.decision}: {verdict.reason}")
    return 0


def register(subparsers: Any) -> None:
    """Add ``trigger``."""
    text = "decide one change by hand: queue a run, or record why it is ignored"
    parser = subparsers.add_parser("trigger", help=text, description=text)
    parser.add_argument("--repo", required=True, help="the package (dist-git repository) name")
    parser.add_argument("--rev", required=True, help="the commit, 40 hexadecimal digits")
    parser.add_argument("--branch", required=True, help="the dist-git branch, e.g. f26")
    parser.add_argument("--namespace", default="rpms", help="the dist-git namespace (default rpms)")
    parser.add_argument("--force", action="store_true", help="run the change again even if it ran")
    parser.add_argument(
        "--force-image", action="store_true", help="build an image even if the interval has not passed"
    )
    options = ", ".join(sorted(RUN_OPTIONS))
    parser.add_argument(
        "--option", action="append", default=[], metavar="KEY=VALUE", help=f"a run option: {options}"
    )
    parser.set_defaults(handler=trigger)
