"""``ci-pipeline worker``: run stage tasks from the Celery queues of some stage kinds."""

from __future__ import annotations

import argparse
import os
import socket
from typing import Any

from ci_pipeline.cli.app import App
from ci_pipeline.errors import UsageError
from ci_pipeline.messages.topics import STAGE_ORDER


def queues_of(spec: str) -> list[str]:
    """The Celery queues named by ``build,compose,...`` (stage kinds); all of them for ""."""
    from ci_pipeline.executors.celery_app import all_queues, queue_name

    if not spec.strip():
        return all_queues()
    stages = [word.strip() for word in spec.split(",") if word.strip()]
    unknown = [stage for stage in stages if stage not in STAGE_ORDER]
    if unknown:
        raise UsageError(
            f"Unknown stage kind '{unknown[0]}' in --queues; use some of {', '.join(STAGE_ORDER)}."
        )
    return [queue_name(stage) for stage in stages]


def worker_argv(queues: list[str], concurrency: int, name: str, loglevel: str) -> list[str]:
    """The Celery worker command line: a thread pool (stage work runs in child processes anyway)."""
    return ["worker", "--pool=threads", f"--concurrency={concurrency}", f"--queues={','.join(queues)}",
            f"--hostname={name}", f"--loglevel={loglevel}", "--without-gossip", "--without-mingle"]


def worker(args: argparse.Namespace, app: App) -> int:
    """Start a Celery worker in this process and run stage tasks until interrupted."""
    from ci_pipeline.executors.celery_app import make_app

    if args.concurrency < 1:
        raise UsageError("--concurrency must be at least 1.")
    name = args.name or f"ci-pipeline-{os.getpid()}@{socket.gethostname()}"
    celery_app = make_app(app.config)
    celery_app.worker_main(worker_argv(queues_of(args.queues), args.concurrency, name,
                                       "DEBUG" if args.verbose else "INFO"))
    return 0


def register(subparsers: Any) -> None:
    """Add ``worker``."""
    text = "run pipeline stages from the Celery queues ([executor] kind = \"celery\")"
    parser = subparsers.add_parser("worker", help=text, description=text)
    parser.add_argument("--queues", default="", metavar="STAGES",
                        help="comma-separated stage kinds to take, e.g. build,compose (default: all)")
    parser.add_argument("--concurrency", type=int, default=os.cpu_count() or 1, metavar="N",
                        help="stages run at once (default: the number of cores)")
    parser.add_argument("--name", default="", help="the worker's node name (default: ci-pipeline-PID@HOST)")
    parser.set_defaults(handler=worker)
