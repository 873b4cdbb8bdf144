"""The scheduler hands the compose the good builds of the branch: a build that failed its tests is not one."""

from __future__ import annotations

import json
from pathlib import Path

from ci_pipeline.bus.base import Bus
from ci_pipeline.config import Config
from ci_pipeline.engine.core import Engine
from ci_pipeline.executors.local import LocalExecutor
from ci_pipeline.store.db import Store
from ci_pipeline.store.models import Run

from .helpers import add_run, command_pipeline, drive, messages

BROKEN_REV = "bad" + "0" * 37


def test_the_compose_gets_the_last_good_build_of_each_package_and_its_own(
    config: Config, store: Store, bus: Bus, tmp_path: Path
) -> None:
    seen = tmp_path / "seen"
    seen.mkdir()
    pipeline = command_pipeline(
        {
            "build": 'echo "build_repo_url=http://r/$REPO/$BUILD_ID/" >> "$CI_PIPELINE_OUTPUTS"',
            "functional": f'test "$REV" != {BROKEN_REV}',
            "compose": f'printf %s "$COMPOSE_BUILDS" > {seen}/$BUILD_ID.json',
        }
    )
    engine = Engine(config, store, bus, executor=LocalExecutor(2), pipeline=pipeline)
    # One after the other, as pushes a while apart: vim passes, vim breaks, then a change to calc.
    for repo, rev in (("vim", None), ("vim", BROKEN_REV), ("calc", None)):
        add_run(store, repo=repo, rev=rev)
        drive(engine, bus)

    assert json.loads((seen / "1.json").read_text()) == {"vim": "http://r/vim/1/"}
    assert not (seen / "2.json").exists()
    assert json.loads((seen / "3.json").read_text()) == {"vim": "http://r/vim/1/", "calc": "http://r/calc/3/"}
    # The input travels with the job only: it is no field of the run and no message carries it.
    with store.session() as session:
        run = session.get(Run, 3)
        assert run is not None and "compose_builds" not in run.fields
    assert all("compose_builds" not in body for _, body in messages(bus))
