"""A run for a build made elsewhere: no build stage, no package messages, the tests run on its RPMs."""

from __future__ import annotations

from ci_pipeline.bus.base import Bus
from ci_pipeline.config import Config
from ci_pipeline.engine.core import Engine
from ci_pipeline.executors.memory import MemoryExecutor
from ci_pipeline.store import runs as q
from ci_pipeline.store.db import Store
from ci_pipeline.store.models import Run

from .helpers import add_run, command_pipeline, drive, messages


def test_the_build_stage_is_skipped_and_announced_by_no_message(
    config: Config, store: Store, bus: Bus
) -> None:
    run_id = add_run(store, options={"existing_build": "true"})
    with store.session() as session:
        run = session.get(Run, run_id)
        assert run is not None
        run.fields = {**run.fields, "nvr": "vim-9.1.0-1.fc26", "build_repo_url": "file:///srv/builds/vim"}
    drive(Engine(config, store, bus, executor=MemoryExecutor(2), pipeline=command_pipeline()), bus)
    suffixes = [suffix for suffix, _ in messages(bus)]
    assert suffixes[0] == "package.test.functional.queued"
    assert not any(suffix.startswith("package.") and "functional" not in suffix for suffix in suffixes)
    assert dict(messages(bus))["package.test.functional.queued"]["nvr"] == "vim-9.1.0-1.fc26"
    with store.session() as session:
        build = q.stages_of(session, run_id)[0]
    assert (build.stage, build.state) == ("build", "skipped")
    assert build.reason == "The build vim-9.1.0-1.fc26 exists already: its RPMs are at file:///srv/builds/vim."
