"""Which builds of a branch may enter a compose: per package, the newest whose functional tests passed."""

from __future__ import annotations

import sys
from pathlib import Path

from ci_pipeline.store.builds import newest_good_builds
from ci_pipeline.store.db import Store
from ci_pipeline.store.models import Run, StageRun, utcnow

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))
from helpers import add_run


def built(store: Store, repo: str, functional: tuple[str, str | None] | None, branch: str = "f26") -> int:
    """A run of ``repo`` whose build passed, with its functional stage in (state, status), or none."""
    run_id = add_run(store, repo=repo, branch=branch)
    with store.session() as session:
        run = session.get(Run, run_id)
        assert run is not None
        run.fields = {**run.fields, "build_repo_url": f"http://a/runs/{run_id}/build/repo/"}
        session.add(StageRun(run_id=run_id, position=0, stage="build", state="complete", status="SUCCESS",
                             finished_at=utcnow()))
        if functional is not None:
            state, status = functional
            session.add(StageRun(run_id=run_id, position=1, stage="functional", state=state, status=status,
                                 finished_at=utcnow() if state == "complete" else None))
    return run_id


def selection(store: Store, branch: str = "f26") -> dict[str, int]:
    with store.session() as session:
        return {build.repo: build.run_id for build in newest_good_builds(session, branch)}


PASSED = ("complete", "SUCCESS")
FAILED = ("complete", "FAILURE")


def test_the_newest_passed_build_of_each_package_is_chosen(store: Store) -> None:
    built(store, "vim", PASSED)
    newer_vim = built(store, "vim", PASSED)
    calc = built(store, "calc", PASSED)
    assert selection(store) == {"vim": newer_vim, "calc": calc}
    with store.session() as session:
        chosen = {build.repo: build for build in newest_good_builds(session, "f26")}
    assert chosen["vim"].fields["build_repo_url"] == f"http://a/runs/{newer_vim}/build/repo/"
    assert chosen["vim"].fields["repo"] == "vim"


def test_a_later_failed_build_leaves_the_good_one(store: Store) -> None:
    good = built(store, "vim", PASSED)
    built(store, "vim", FAILED)
    built(store, "vim", ("complete", "ABORTED"))
    assert selection(store) == {"vim": good}


def test_builds_whose_functional_tests_never_ran_or_still_run_are_left_out(store: Store) -> None:
    good = built(store, "vim", PASSED)
    built(store, "vim", None)  # the build failed, or the run was cancelled before its tests
    built(store, "vim", ("skipped", None))
    built(store, "vim", ("running", None))
    built(store, "calc", None)
    assert selection(store) == {"vim": good}


def test_other_branches_are_left_out(store: Store) -> None:
    f26 = built(store, "vim", PASSED)
    f27 = built(store, "vim", PASSED, branch="f27")
    built(store, "calc", PASSED, branch="f27")
    assert selection(store) == {"vim": f26}
    assert selection(store, "f27")["vim"] == f27
    assert selection(store, "master") == {}
