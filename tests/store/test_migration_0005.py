"""Migration 0005: runs.cancel_source and decisions.ignore_cause, the latter filled in for the
decisions made before it from the words of their reasons; down and up again on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, text

from ci_pipeline.store.clock import utcnow
from ci_pipeline.store.db import Store, alembic_config
from ci_pipeline.store.decisions import all_decisions
from ci_pipeline.store.states import DecisionKind, IgnoreCause

OLD_DECISIONS = [
    ("queued", "The package 'vim' on f26 is tracked; queued as run 1 (ci-pipeline-f26 #1)."),
    ("ignore", "The push went to a fork (forks/someone/rpms/vim), not to the package's dist-git repository."),
    ("ignore", "The namespace 'modules' is not tracked (tracked: rpms)."),
    ("ignore", "The branch 'epel7' does not match ^(f[0-9]+|master)$."),
    ("ignore", "The package 'emacs' is not part of the tracked OS."),
    ("ignore", "The change vim 591b0d2 (rpms) already ran as run 1; use --force to run it again."),
    ("ignore", "A reason worded some other way."),
]


def _columns(store: Store, table: str) -> set[str]:
    return {column["name"] for column in inspect(store.engine).get_columns(table)}


def test_0005_adds_the_columns_and_names_the_cause_of_every_earlier_ignore(store: Store) -> None:
    config = alembic_config(store.engine)
    command.downgrade(config, "0004")
    assert "cancel_source" not in _columns(store, "runs")
    assert "ignore_cause" not in _columns(store, "decisions")
    with store.engine.begin() as connection:
        for build_id, (decision, reason) in enumerate(OLD_DECISIONS, start=1):
            connection.execute(
                text(
                    "INSERT INTO decisions (received_at, msg_id, repo, rev, namespace, branch, decision,"
                    " reason, build_id, forced) VALUES (:at, '', 'vim', :rev, 'rpms', 'f26', :decision,"
                    " :reason, :build_id, :forced)"
                ),
                {"at": utcnow(), "rev": "a" * 40, "decision": decision, "reason": reason,
                 "build_id": build_id, "forced": False},
            )
    command.upgrade(config, "head")
    assert "cancel_source" in _columns(store, "runs")
    with store.session() as session:
        found = [(row.decision, row.ignore_cause) for row in all_decisions(session)]
    assert found == [
        (DecisionKind.QUEUED, None),
        (DecisionKind.IGNORE, IgnoreCause.FORK),
        (DecisionKind.IGNORE, IgnoreCause.NAMESPACE),
        (DecisionKind.IGNORE, IgnoreCause.BRANCH),
        (DecisionKind.IGNORE, IgnoreCause.PACKAGE),
        (DecisionKind.IGNORE, IgnoreCause.DUPLICATE),
        (DecisionKind.IGNORE, None),
    ]
