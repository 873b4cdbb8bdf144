"""What the trigger records through the store: build ids, runs of changes, decisions, dead letters."""

from __future__ import annotations

import secrets
from typing import Any

from ci_pipeline.store import changes, dead_letters, decisions
from ci_pipeline.store import runs as q
from ci_pipeline.store.builds import allocate_build_ids
from ci_pipeline.store.db import Store
from ci_pipeline.store.models import DEAD_LETTER_KEPT_BYTES
from ci_pipeline.store.states import DecisionKind, IgnoreCause, RunState


def run_row(repo: str, rev: str, generation: int = 0, build_id: int = 1) -> dict[str, Any]:
    return {
        "repo": repo, "rev": rev, "namespace": "rpms", "branch": "f26", "generation": generation,
        "ci_name": "ci-pipeline-f26", "build_id": build_id, "fields": {"repo": repo}, "options": {},
    }


def decision_row(repo: str, kind: DecisionKind, cause: IgnoreCause | None, build_id: int) -> dict[str, Any]:
    return {
        "msg_id": f"2017-{build_id}", "repo": repo, "rev": "a" * 40, "namespace": "rpms", "branch": "f26",
        "decision": kind, "reason": f"{kind} {cause}", "ignore_cause": cause, "build_id": build_id,
        "run_id": None, "forced": False,
    }


def test_build_ids_are_consecutive_per_ci_name(store: Store) -> None:
    with store.session() as session:
        assert list(allocate_build_ids(session, "ci-pipeline-f26", 3)) == [1, 2, 3]
        assert list(allocate_build_ids(session, "ci-pipeline-trigger", 1)) == [1]
    with store.session() as session:
        assert list(allocate_build_ids(session, "ci-pipeline-f26", 2)) == [4, 5]


def test_runs_are_created_in_order_and_found_by_change(store: Store) -> None:
    rev = secrets.token_hex(20)
    with store.session() as session:
        ids = changes.create_runs(session, [run_row("vim", rev), run_row("kernel", rev, build_id=2)])
        assert changes.create_runs(session, []) == []
        assert changes.next_generation(session, ("vim", rev, "rpms")) == 1
        assert changes.next_generation(session, ("vim", "b" * 40, "rpms")) == 0
        later = changes.create_runs(session, [run_row("vim", rev, generation=1, build_id=3)])
    assert ids[0] < ids[1] < later[0]
    with store.session() as session:
        found = changes.latest_runs(session, [rev, "c" * 40])
        assert changes.latest_runs(session, []) == {}
        run = q.find_run(session, ids[0])
        assert run is not None and run.state == RunState.QUEUED
    # The latest generation of a change stands for it.
    assert found == {("vim", rev, "rpms"): later[0], ("kernel", rev, "rpms"): ids[1]}


def test_decisions_are_recorded_listed_filtered_and_counted_by_kind_and_cause(store: Store) -> None:
    rows = [
        decision_row("vim", DecisionKind.QUEUED, None, 1),
        decision_row("vim-extra", DecisionKind.IGNORE, IgnoreCause.PACKAGE, 2),
        decision_row("kernel", DecisionKind.IGNORE, IgnoreCause.BRANCH, 3),
        decision_row("kernel", DecisionKind.IGNORE, IgnoreCause.BRANCH, 3),
    ]
    with store.session() as session:
        decisions.record_decisions(session, rows)
        decisions.record_decisions(session, [])
    with store.session() as session:
        repos = [row.repo for row in decisions.all_decisions(session)]
        assert repos == ["vim", "vim-extra", "kernel", "kernel"]
        newest = decisions.newest_decisions(session, limit=2)
        assert [row.build_id for row in newest] == [3, 3]
        wild = decisions.newest_decisions(session, repo="vim*", limit=9)
        assert [r.repo for r in wild] == ["vim-extra", "vim"]
        assert [r.repo for r in decisions.newest_decisions(session, repo="vim", limit=9)] == ["vim"]
        assert len(decisions.newest_decisions(session, repo_contains="im-ex", limit=9)) == 1
        assert [r.repo for r in decisions.newest_decisions(session, kind="queued", limit=9)] == ["vim"]
        assert decisions.newest_decisions(session, kind="maybe", limit=9) == []
        assert len(decisions.newest_decisions(session, offset=3, limit=9)) == 1
        first = decisions.all_decisions(session)[0]
        assert first.decision is DecisionKind.QUEUED and first.ignore_cause is None
        assert decisions.get_decision(session, first.id) is first
        assert decisions.get_decision(session, 10**6) is None
        assert decisions.decision_for_build(session, 3) == decisions.all_decisions(session)[3].id
        assert decisions.decision_for_build(session, 99) is None
        latest = decisions.latest_decision_of_rev(session, "a" * 40)
        assert latest is not None and latest.id == decisions.all_decisions(session)[3].id
        assert decisions.decision_counts(session) == {
            (DecisionKind.QUEUED, None): 1,
            (DecisionKind.IGNORE, IgnoreCause.PACKAGE): 1,
            (DecisionKind.IGNORE, IgnoreCause.BRANCH): 2,
        }


def test_dead_letters_keep_the_first_bytes_and_the_whole_size(store: Store) -> None:
    huge = b"x" * (DEAD_LETTER_KEPT_BYTES + 10)
    with store.session() as session:
        dead_letters.add_dead_letters(
            session,
            [
                dead_letters.Rejected("sub", "t" * 2000, huge, "too big"),
                dead_letters.Rejected("sub", "git.receive", b"{", "not JSON"),
            ],
        )
        dead_letters.add_dead_letters(session, [])
    with store.session() as session:
        first, second = dead_letters.all_dead_letters(session)
        assert dead_letters.dead_letter_count(session) == 2
    assert (len(first.payload), first.payload_size, len(first.topic)) == (
        DEAD_LETTER_KEPT_BYTES, DEAD_LETTER_KEPT_BYTES + 10, dead_letters.TOPIC_KEPT
    )
    assert (second.payload, second.payload_size, second.reason) == (b"{", 1, "not JSON")
