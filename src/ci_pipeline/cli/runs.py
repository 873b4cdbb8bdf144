"""``ci-pipeline runs``: list runs, show one, cancel one, run one again from a stage, read a stage's log."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ci_pipeline.cli.app import App
from ci_pipeline.engine.control import cancel_run, rerun_from
from ci_pipeline.errors import NotFound
from ci_pipeline.store import runs as q
from ci_pipeline.store.records import run_json, stage_json
from ci_pipeline.store.states import CancelSource

CANCEL_SOURCE_WORDS = {CancelSource.CLI: "the command line", CancelSource.API: "the API"}


def list_command(args: argparse.Namespace, app: App) -> int:
    """Print the newest runs."""
    with app.store.session() as session:
        runs = [run_json(run, app.config) for run in q.list_runs(session, args.limit)]
    if args.json:
        for run in runs:
            print(json.dumps(run))
        return 0
    for run in runs:
        print(
            f"{run['id']:>6}  {run['state']:<8} {run['status']:<8} {run['repo']} {run['rev'][:7]} "
            f"{run['branch']}  {run['ci_name']} #{run['build_id']}"
        )
    return 0


def show_command(args: argparse.Namespace, app: App) -> int:
    """Print one run with its stages."""
    with app.store.session() as session:
        run = q.get_run(session, args.id)
        rows = q.stages_of(session, run.id)
        tests = q.stage_tests(session, rows)
        stages = [{**stage_json(row, run.id), "tests": tests.get(row.id, [])} for row in rows]
        data = {**run_json(run, app.config), "stages": stages}
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    print(
        f"Run {data['id']}: {data['repo']} {data['rev']} on {data['branch']}: "
        f"{data['state']} {data['status']}"
    )
    if data["reason"]:
        print(f"  reason: {data['reason']}")
    if data["cancel_source"]:
        print(f"  cancel requested from: {CANCEL_SOURCE_WORDS[data['cancel_source']]}")
    for stage in data["stages"]:
        duration = "" if stage["duration"] is None else f" {stage['duration']:.1f}s"
        print(
            f"  {stage['stage']:<12} {stage['state']:<9} {stage['status'] or '':<8} "
            f"attempt {stage['attempt']}{duration}"
        )
        if stage["reason"]:
            print(f"    reason: {stage['reason'].splitlines()[0]}")
        for key, value in stage["outputs"].items():
            print(f"    {key} = {value}")
        for test in stage["tests"]:
            print(f"    test {test['name']}: {test['outcome']} ({test['duration']:.2f}s)")
    return 0


def cancel_command(args: argparse.Namespace, app: App) -> int:
    """Ask for a run to be aborted."""
    if not cancel_run(app.store, args.id):
        print(f"ci-pipeline: Run {args.id} is already complete.", file=sys.stderr)
        return 1
    print(f"Run {args.id} will be aborted.")
    return 0


def rerun_command(args: argparse.Namespace, app: App) -> int:
    """Run a run again from a stage."""
    rerun_from(app.store, args.id, args.stage)
    print(f"Run {args.id} runs again from its {args.stage} stage.")
    return 0


def log_command(args: argparse.Namespace, app: App) -> int:
    """Print a stage's latest log."""
    with app.store.session() as session:
        q.get_run(session, args.id)
        row = next((r for r in q.stages_of(session, args.id) if r.stage == args.stage), None)
    if row is None:
        raise NotFound(f"Run {args.id} has no stage '{args.stage}'.")
    if not row.log_path or not Path(row.log_path).exists():
        raise NotFound(f"The {args.stage} stage of run {args.id} has no log (it has not run).")
    sys.stdout.write(Path(row.log_path).read_text("utf-8", "replace"))
    return 0


def register(subparsers: Any) -> None:
    """Add ``runs`` and its subcommands."""
    parser = subparsers.add_parser("runs", help="list and manage pipeline runs", description="list runs")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--limit", type=int, default=100, help="how many runs (newest first)")
    parser.set_defaults(handler=list_command)
    commands = parser.add_subparsers(dest="runs_command", metavar="COMMAND")
    show = commands.add_parser("show", help="a run with its stages", description="a run with its stages")
    show.add_argument("id", type=int)
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=show_command)
    cancel = commands.add_parser("cancel", help="abort a run", description="abort a run")
    cancel.add_argument("id", type=int)
    cancel.set_defaults(handler=cancel_command)
    rerun = commands.add_parser("rerun", help="run again from a stage", description="run again from a stage")
    rerun.add_argument("id", type=int)
    rerun.add_argument("--stage", required=True)
    rerun.set_defaults(handler=rerun_command)
    log = commands.add_parser("log", help="a stage's log", description="a stage's log")
    log.add_argument("id", type=int)
    log.add_argument("--stage", required=True)
    log.set_defaults(handler=log_command)
