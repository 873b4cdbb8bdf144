"""A package whose %check prints a NUL byte and fails, built by ``serve`` on a PostgreSQL store.

PostgreSQL refuses NUL in text: the real build stage's failure reason (the log's tail) carries one.
The run must end FAILURE with the reason stored, and ``serve`` go on to build another package.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_build_stage import worlds

from ci_pipeline.config import load_config
from ci_pipeline.messages.inbound import GitPush
from ci_pipeline.messages.topics import STAGE_ORDER
from ci_pipeline.store import runs as q
from ci_pipeline.store.db import Store
from ci_pipeline.trigger import Trigger

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))
from helpers import postgres_store

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

NUL_CHECK = "%check\nprintf 'unit test said \\000 then died\\n'\nexit 1\n"


def _break_check_with_a_nul(world: object) -> str:
    """Commit a %check that prints a NUL byte and fails; return the new rev."""
    root: Path = world.root  # type: ignore[attr-defined]
    work = root / "work" / "hello"
    spec = work / "hello.spec"
    text = spec.read_text()
    start, end = text.index("%check\n"), text.index("%files")
    spec.write_text(text[:start] + NUL_CHECK + "\n" + text[end:])
    worlds._git(["commit", "--quiet", "--all", "-m", "A check that prints NUL"], work)
    worlds._git(["push", "--quiet", str(root / "git" / "rpms" / "hello.git"), "HEAD:master"], work)
    return str(worlds._git(["rev-parse", "HEAD"], work))


def _write_config(tmp_path: Path, world: object, store_url: str) -> Path:
    tables = []
    for stage in STAGE_ORDER:
        run = "" if stage == "build" else 'run = "true"\n'  # build: the real, built-in stage
        extra = "interval = 0\n" if stage == "image" else ""
        tables.append(f'[[stage]]\nname = "{stage}"\n{run}{extra}')
    pipeline = tmp_path / "pipeline.toml"
    pipeline.write_text("\n".join(tables))
    config = tmp_path / "ci.toml"
    config.write_text(
        f'state_dir = "{tmp_path / "state"}"\n'
        f'[store]\nurl = "{store_url}"\n'
        f'[pipeline]\nfile = "{pipeline}"\nsupersede = false\n'
        f'[trigger]\npackages = ["hello", "other"]\n'
        f'[distgit]\nurl = "{world.distgit_url}"\n'  # type: ignore[attr-defined]
        f'[lookaside]\nurl = "{world.lookaside_url}"\n'  # type: ignore[attr-defined]
        f'[artifacts]\nroot = "{tmp_path / "artifacts"}"\nbase_url = "http://artifacts.example/ci"\n'
    )
    return config


def test_a_check_printing_nul_fails_its_run_and_serve_goes_on(tmp_path: Path) -> None:
    world = worlds.create_package_world(tmp_path / "world", repo="hello")
    other = worlds.create_package_world(tmp_path / "world", repo="other")
    poisoned_rev = _break_check_with_a_nul(world)
    with postgres_store() as store:
        config_path = _write_config(tmp_path, world, store.url)
        config = load_config(config_path, environ={})
        pushes = [
            GitPush(repo="hello", rev=poisoned_rev, namespace="rpms", branch="f26", msg_id="m1"),
            GitPush(repo="other", rev=other.rev, namespace="rpms", branch="f26", msg_id="m2"),
        ]
        with store.session() as session:
            Trigger(config, store).decide_pushes(session, pushes, force=True)
        command = [sys.executable, "-m", "ci_pipeline", "--config", str(config_path)]
        served = subprocess.run([*command, "serve", "--until-idle", "--no-web"], capture_output=True,
                                text=True, env=dict(os.environ), timeout=300)
        assert served.returncode == 0, served.stderr
        _assert_outcomes(store)


def _assert_outcomes(store: Store) -> None:
    with store.session() as session:
        runs = {run.repo: run for run in q.list_runs(session)}
        build = q.stages_of(session, runs["hello"].id)[0]
    assert (runs["hello"].status, runs["other"].status) == ("FAILURE", "SUCCESS")
    assert build.status == "FAILURE" and build.reason.startswith("The unit tests (%check) of hello-1.0-1.")
    assert "unit test said \ufffd then died" in build.reason
    assert "unit test said \ufffd then died" in runs["hello"].reason
