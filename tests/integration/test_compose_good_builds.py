"""A build that failed its functional tests never reaches a compose: the real store, dnf, rpm and ostree.

Package A (ci-hello) is built and passes its tests; a second build of A fails them; then a change
to package B (fx-busybox) is composed. The scheduler's inputs, worked out from the store, make the
compose take A's good build, not the broken one that replaced it in the branch's ``ci-hello_repo``.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from compose_fixtures import (
    REF,
    busybox_spec,
    create_fixture_world,
    hello_spec,
    publish_ci_build,
    stage_context,
)

from ci_pipeline.config import ArtifactsConfig, Config, TriggerConfig
from ci_pipeline.engine.stage_inputs import stage_inputs
from ci_pipeline.stages import compose
from ci_pipeline.store.db import Store
from ci_pipeline.store.models import Run, StageRun, utcnow

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))
from helpers import add_run, sqlite_store_at

pytestmark = pytest.mark.integration

GOOD_A = "ci-hello-1.0-1.1.aaaaaaa.fc26"
BROKEN_A = "ci-hello-1.0-1.2.bbbbbbb.fc26"
B = "fx-busybox-1.0-2.3.ccccccc.fc26"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with sqlite_store_at(tmp_path / "store.sqlite") as store:
        yield store


def record_run(store: Store, outputs: dict[str, str], functional: str) -> int:
    """A run of the built package whose build passed and whose functional stage ended ``functional``."""
    run_id = add_run(store, repo=outputs["repo"], branch=outputs["branch"])
    with store.session() as session:
        run = session.get(Run, run_id)
        assert run is not None
        run.fields = {**run.fields, **outputs}
        for position, (stage, status) in enumerate((("build", "SUCCESS"), ("functional", functional))):
            session.add(StageRun(run_id=run_id, position=position, stage=stage, state="complete",
                                 status=status, finished_at=utcnow()))
    return run_id


def installed(checkout: Path, package: str) -> str:
    return subprocess.run(
        ["rpm", "-q", f"--root={checkout}", "--dbpath=/usr/share/rpm", package],
        check=True, capture_output=True, text=True,
    ).stdout.strip()


def test_a_change_to_another_package_composes_the_last_good_build(tmp_path: Path, store: Store) -> None:
    world = create_fixture_world(tmp_path / "world")
    config = Config(
        artifacts=ArtifactsConfig(root=str(tmp_path / "artifacts"), base_url="http://artifacts.test/atomic"),
        trigger=TriggerConfig(treefile=str(world.treefile)),
    )
    # Run ids and artifact paths go together, as the scheduler makes them.
    good = publish_ci_build(config, 1, "f26", hello_spec("1.0", "1.1.aaaaaaa.fc26"), tmp_path / "b1")
    assert record_run(store, good, "SUCCESS") == 1
    broken = publish_ci_build(config, 2, "f26", hello_spec("1.0", "1.2.bbbbbbb.fc26"), tmp_path / "b2")
    assert record_run(store, broken, "FAILURE") == 2
    change_b = publish_ci_build(config, 3, "f26", busybox_spec("2.3.ccccccc.fc26"), tmp_path / "b3")
    assert record_run(store, change_b, "SUCCESS") == 3
    assert (good["nvr"], broken["nvr"], change_b["nvr"]) == (GOOD_A, BROKEN_A, B)
    # The branch's ci-hello_repo now holds the broken build: what a compose of every repo would take.
    assert [p.name for p in (tmp_path / "artifacts/f26/repo/ci-hello_repo").rglob("*.noarch.rpm")] == [
        f"{BROKEN_A}.noarch.rpm"
    ]

    with store.session() as session:
        run = session.get(Run, 3)
        assert run is not None
        fields = {**run.fields, **stage_inputs(session, run, "compose")}
    ctx = stage_context(tmp_path, 3, "compose", fields, config)
    rev = compose.run(ctx).outputs["compose_rev"]

    checkout, ostree_repo = tmp_path / "checkout", tmp_path / "artifacts/f26/ostree"
    subprocess.run(
        ["ostree", f"--repo={ostree_repo}", "checkout", "--user-mode", rev, str(checkout)],
        check=True, capture_output=True,
    )
    assert installed(checkout, "ci-hello") == f"{GOOD_A}.noarch"
    assert installed(checkout, "fx-busybox") == f"{B}.x86_64"
    packages = (ctx.artifacts_dir / "packages.txt").read_text().splitlines()
    assert f"{GOOD_A}.noarch" in packages and not any(BROKEN_A in line for line in packages)
    assert (ctx.artifacts_dir / "builds.txt").read_text().splitlines() == [
        f"ci-hello\t{good['build_repo_url']}",
        f"fx-busybox\t{change_b['build_repo_url']}",
    ]
    assert REF in subprocess.run(
        ["ostree", f"--repo={ostree_repo}", "refs"], check=True, capture_output=True, text=True
    ).stdout
