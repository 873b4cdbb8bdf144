"""Build ids and builds: the build_id sequence of each CI_NAME, and which CI builds of a branch may
enter a compose: per package, the newest whose functional tests passed.

A build is good when its run's ``functional`` stage completed with SUCCESS. A later build that
failed (or never reached its functional tests) leaves the last good one in place; "newest" is the
run's id, which follows the order in which the trigger queued the changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ci_pipeline.store.models import BuildIdSequence, Run, StageRun
from ci_pipeline.store.states import StageState, Status

#: The stage whose success lets a build into a compose.
GATE_STAGE = "functional"


@dataclass(frozen=True)
class GoodBuild:
    """The newest good build of one package on a branch: its run and that run's fields."""

    run_id: int
    repo: str
    fields: Mapping[str, Any]


def newest_good_builds(session: Session, branch: str) -> list[GoodBuild]:
    """Per package (dist-git repo) of ``branch``, the newest run whose functional stage succeeded."""
    newest = (
        select(func.max(Run.id).label("run_id"))
        .join(StageRun, StageRun.run_id == Run.id)
        .where(
            Run.branch == branch,
            StageRun.stage == GATE_STAGE,
            StageRun.state == StageState.COMPLETE,
            StageRun.status == Status.SUCCESS,
        )
        .group_by(Run.repo)
        .subquery()
    )
    query = select(Run.id, Run.repo, Run.fields).join(newest, Run.id == newest.c.run_id).order_by(Run.repo)
    return [
        GoodBuild(run_id=run_id, repo=repo, fields=dict(fields or {}))
        for run_id, repo, fields in session.execute(query)
    ]


def allocate_build_ids(session: Session, ci_name: str, count: int) -> range:
    """Hand out ``count`` consecutive build_ids of ``ci_name``; the row lock serializes callers.

    One statement: the sequence's row is created at ``count`` or moved on by ``count``."""
    dialect = session.get_bind().dialect.name
    insert_fn = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert_fn(BuildIdSequence).values(ci_name=ci_name, last=count)
    last = session.execute(
        statement.on_conflict_do_update(
            index_elements=[BuildIdSequence.ci_name], set_={"last": BuildIdSequence.last + count}
        ).returning(BuildIdSequence.last)
    ).scalar_one()
    return range(last - count + 1, last + 1)
