"""``ci-pipeline demo``: the whole pipeline on the bundled example OS, with live progress.

The demo creates (or reuses) the example world under the state directory, starts the service on the
embedded defaults (SQLite bus and store, local executor, the web dashboard), makes a real commit in
one example package's dist-git, publishes its ``git.receive`` message on the bus, and follows the
run it starts until it completes.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from ci_pipeline.bus import open_bus
from ci_pipeline.cli.app import App
from ci_pipeline.cli.serve import start_web
from ci_pipeline.config import Config
from ci_pipeline.errors import CIPipelineError, ConfigError, UsageError
from ci_pipeline.example.world import World, create_world, push_change
from ci_pipeline.messages.envelope import encode
from ci_pipeline.messages.inbound import make_git_receive
from ci_pipeline.service import Service
from ci_pipeline.store import runs as q
from ci_pipeline.store.db import Store, open_store
from ci_pipeline.store.decisions import latest_decision_of_rev
from ci_pipeline.store.outbox import run_messages
from ci_pipeline.store.rows import Decision, Run, StageRun
from ci_pipeline.store.states import RunState, StageState, Status

POLL_SECONDS = 0.5
DEFAULT_PACKAGE = "ci-hello"

#: The demo's pipeline: every built-in stage, and a new image on every run.
DEMO_PIPELINE = """\
[[stage]]
name = "build"
timeout = 900

[[stage]]
name = "functional"
timeout = 600

[[stage]]
name = "compose"
timeout = 900

[[stage]]
name = "integration"
timeout = 600

[[stage]]
name = "image"
interval = 0
timeout = 900

[[stage]]
name = "smoke"
timeout = 300

[[stage]]
name = "e2e"
timeout = 300
"""

STATE_STYLE = {"complete": "bold", "running": "yellow", "queued": "cyan", "skipped": "dim"}
STATUS_STYLE = {"SUCCESS": "green", "FAILURE": "red", "ABORTED": "magenta"}


def demo_config(config: Config, world: World) -> Config:
    """The configuration pointed at the example world, with the demo's pipeline file."""
    pipeline_file = config.state_path / "demo-pipeline.toml"
    pipeline_file.write_text(DEMO_PIPELINE)
    return config.model_copy(
        update={
            "trigger": config.trigger.model_copy(update={"treefile": str(world.treefile), "packages": []}),
            "distgit": config.distgit.model_copy(update={"url": world.distgit_url}),
            "lookaside": config.lookaside.model_copy(update={"url": world.lookaside_url}),
            "pipeline": config.pipeline.model_copy(update={"file": str(pipeline_file)}),
        }
    )


def _start_web(config: Config, store: Store, stack: ExitStack, console: Console) -> bool:
    try:
        handle = start_web(config, store)
    except ConfigError as exc:
        console.print(f"[yellow]The dashboard is not served: {exc}[/]")
        return False
    stack.callback(handle.stop)
    return True


def _find_run(store: Store, rev: str) -> Decision | None:
    with store.session() as session:
        return latest_decision_of_rev(session, rev)


def _snapshot(store: Store, run_id: int) -> tuple[Run, list[StageRun]]:
    with store.session() as session:
        return q.get_run(session, run_id), q.stages_of(session, run_id)


def _elapsed(stage: StageRun) -> str:
    if stage.started_at is None:
        return ""
    end = stage.finished_at or None
    seconds = (end.timestamp() if end else time.time()) - stage.started_at.timestamp()
    return f"{seconds:5.1f} s"


def progress_table(run: Run, stages: list[StageRun]) -> Table:
    """The live table: one row per stage with its state, status, attempt and elapsed time."""
    table = Table(
        title=f"run {run.id}: {run.repo} {run.rev[:7]} on {run.branch} ({run.ci_name} #{run.build_id})"
    )
    for column in ("stage", "state", "status", "attempt", "elapsed"):
        table.add_column(column, no_wrap=True)
    table.add_column("reason", no_wrap=True, overflow="ellipsis", max_width=60)
    for stage in stages:
        state_style = STATE_STYLE.get(stage.state, "")
        status = stage.status or ""
        table.add_row(
            stage.stage,
            f"[{state_style}]{stage.state}[/]" if state_style else stage.state,
            f"[{STATUS_STYLE.get(status, '')}]{status}[/]" if status else "",
            str(stage.attempt or ""),
            _elapsed(stage),
            (stage.reason.splitlines() or [""])[0],
        )
    return table


def follow_run(store: Store, run_id: int, console: Console, timeout: float,
               check_service: Callable[[], None]) -> Run:
    """Show the run's progress until it completes (or ``timeout`` seconds pass, or the service stops).

    On a terminal the stage table updates in place; elsewhere (a log, CI) each stage transition is
    one line, and the table is printed once at the end.
    """
    deadline = time.monotonic() + timeout
    run, stages = _snapshot(store, run_id)
    live = Live(progress_table(run, stages), console=console, refresh_per_second=4)
    seen: set[tuple[str, str, str]] = set()
    with live if console.is_terminal else ExitStack():
        while True:
            if not console.is_terminal:
                _print_transitions(stages, seen, console)
            if run.state == RunState.COMPLETE:
                break
            if time.monotonic() > deadline:
                raise CIPipelineError(f"Run {run_id} did not finish within {timeout:.0f} s.")
            check_service()
            time.sleep(POLL_SECONDS)
            run, stages = _snapshot(store, run_id)
            live.update(progress_table(run, stages))
    if not console.is_terminal:
        console.print(progress_table(run, stages))
    return run


def _print_transitions(stages: list[StageRun], seen: set[tuple[str, str, str]], console: Console) -> None:
    for stage in stages:
        key = (stage.stage, stage.state, stage.status or "")
        if stage.state != StageState.PENDING and key not in seen:
            seen.add(key)
            status = f" {stage.status}" if stage.status else ""
            console.print(f"  {stage.stage:<12} {stage.state}{status} {_elapsed(stage).strip()}")


def print_messages(store: Store, run_id: int, console: Console) -> None:
    """Every message the run sent, in order."""
    with store.session() as session:
        rows = run_messages(session, run_id)
    console.print(f"\n[bold]Messages sent by run {run_id}[/] ({len(rows)}):")
    for row in rows:
        body: dict[str, Any] = json.loads(row.payload).get("msg", {})
        console.print(f"  {row.topic}  status={body.get('status', '')}")


def print_links(config: Config, run: Run, stages: list[StageRun], console: Console, web: bool) -> None:
    """Where to look next: the dashboard page, the artifacts, and the log of a failed stage."""
    fields = run.fields
    console.print("")
    console.print(f"[bold]dashboard:[/] {fields.get('build_url', '')}")
    if web:
        console.print("  (the demo's server stops with it; `ci-pipeline serve` serves the dashboard again)")
    for key in ("package_url", "compose_url", "image_url"):
        if fields.get(key, "''") != "''":
            console.print(f"[bold]{key}:[/] {fields[key]}")
    console.print(f"[bold]artifacts root:[/] {config.artifact_root}")
    if run.status != Status.SUCCESS and run.reason:
        console.print(f"[bold red]{run.status}:[/] {run.reason}")
    for stage in stages:
        if stage.status in (Status.FAILURE, Status.ABORTED):
            console.print(f"[bold]log of the {stage.stage} stage:[/] {stage.log_path}")
            console.print(f"  or: ci-pipeline runs log {run.id} --stage {stage.stage}")


def demo(args: argparse.Namespace, app: App) -> int:
    """Run the main job; exit 0 when the pipeline succeeded."""
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)
    base = app.config
    base.state_path.mkdir(parents=True, exist_ok=True)
    console.print(f"Preparing the example OS under {base.state_path / 'world'} ...")
    world = create_world(base.state_path / "world")
    if args.package not in world.packages:
        raise UsageError(
            f"The example OS has no package '{args.package}'; choose one of {', '.join(world.packages)}."
        )
    config = demo_config(base, world)
    stop = threading.Event()
    with ExitStack() as stack:
        store = open_store(config.store.url)
        stack.callback(store.close)
        bus = open_bus(config.bus.url)
        stack.callback(bus.close)
        web = _start_web(config, store, stack, console)
        service = Service(config, store, bus)
        failures: list[BaseException] = []

        def serve() -> None:
            try:
                service.run(stop=stop)
            except BaseException as exc:
                failures.append(exc)
                raise

        worker = threading.Thread(target=serve, name="service", daemon=True)
        worker.start()

        def check_service() -> None:
            if not worker.is_alive() and not stop.is_set():
                cause = f": {failures[0]}" if failures else ""
                raise CIPipelineError(f"The pipeline service stopped{cause}.")

        stack.callback(worker.join)
        stack.callback(stop.set)
        rev = push_change(world, args.package, break_tests=args.break_tests)
        console.print(f"Pushed {args.package} {rev[:7]} to dist-git; publishing its git.receive message.")
        message = make_git_receive(
            repo=args.package,
            rev=rev,
            branch=world.branch,
            namespace=world.namespace,
            path=str(world.git_dir / world.namespace / f"{args.package}.git"),
        )
        bus.publish(message["topic"], encode(message))
        decision = _wait_for_decision(store, rev, args.timeout, check_service)
        if decision.run_id is None:
            raise CIPipelineError(f"The push was not queued: {decision.reason}")
        run = follow_run(store, decision.run_id, console, args.timeout, check_service)
        _drain_outbox(service)
        print_messages(store, run.id, console)
        print_links(config, run, _snapshot(store, run.id)[1], console, web)
        console.print(f"\nPipeline [bold]{run.status}[/].")
        return 0 if run.status == Status.SUCCESS else 1


def _wait_for_decision(store: Store, rev: str, timeout: float, check_service: Callable[[], None]) -> Decision:
    deadline = time.monotonic() + timeout
    while (decision := _find_run(store, rev)) is None:
        if time.monotonic() > deadline:
            raise CIPipelineError(f"The trigger did not decide about {rev[:7]} within {timeout:.0f} s.")
        check_service()
        time.sleep(POLL_SECONDS / 5)
    return decision


def _drain_outbox(service: Service) -> None:
    from ci_pipeline.engine.relay import relay_all

    relay_all(service.store, service.bus, signer=service.signer)


def register(subparsers: Any) -> None:
    """Add ``demo``."""
    text = "run the whole pipeline on the bundled example OS, with live progress"
    parser = subparsers.add_parser("demo", help=text, description=text)
    parser.add_argument(
        "--package", default=DEFAULT_PACKAGE, help=f"the package to change (default {DEFAULT_PACKAGE})"
    )
    parser.add_argument(
        "--break", dest="break_tests", action="store_true", help="push a change whose functional test fails"
    )
    parser.add_argument("--timeout", type=float, default=3600, help="give up after this many seconds")
    parser.set_defaults(handler=demo)
