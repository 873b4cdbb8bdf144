"""Waivers in the store: listing WaiverDB's way, the newest per subject for gating, the last answers."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

from ci_pipeline.store.clock import utcnow
from ci_pipeline.store.db import Store
from ci_pipeline.store.decision_answers import replace_answer
from ci_pipeline.store.waivers import WaiverFilter, add_waiver, subject_waivers, waiver_page, waivers_for
from engine.helpers import postgres_store

BUILD = ("koji_build", "vim-1-1.fc26")


def add(store: Store, **fields: Any) -> int:
    """Store a waiver of BUILD's ``t1`` in fedora-26 unless told otherwise; return its id."""
    row = {
        "subject_type": BUILD[0],
        "subject_identifier": BUILD[1],
        "testcase": "t1",
        "product_version": "fedora-26",
        "waived": True,
        "username": "ci-pipeline",
        "comment": "known",
        **fields,
    }
    with store.session() as session:
        return add_waiver(session, row).id


def test_waivers_for_gives_the_newest_per_subject_test_and_scenario(store: Store) -> None:
    old = add(store, timestamp=utcnow() - timedelta(hours=2))
    revoked = add(store, waived=False)
    scenario = add(store, scenario="uefi")
    other_test = add(store, testcase="t2")
    add(store, product_version="fedora-27", testcase="t3")
    add(store, subject_identifier="vim-2-1.fc26")
    with store.session() as session:
        now = waivers_for(session, [BUILD], "fedora-26", None)
        earlier = waivers_for(session, [BUILD], "fedora-26", utcnow() - timedelta(hours=1))
        any_version = waivers_for(session, [BUILD], None, None)
        none = waivers_for(session, [], "fedora-26", None)
    assert [(w["id"], w["waived"]) for w in now] == [(revoked, False), (scenario, True), (other_test, True)]
    assert [w["id"] for w in earlier] == [old]
    assert {w["testcase"] for w in any_version} == {"t1", "t2", "t3"}
    assert none == []
    keys = {"id", "subject_type", "subject_identifier", "testcase", "scenario", "product_version", "waived",
            "comment", "username", "timestamp"}
    assert keys <= set(now[0]) and now[0]["timestamp"].startswith(str(utcnow().year))


def test_a_listing_hides_obsolete_waivers_unless_asked(store: Store) -> None:
    first = add(store)
    second = add(store, waived=False)
    with store.session() as session:
        current, total = waiver_page(session, WaiverFilter(), 0, 10)
        every, every_total = waiver_page(session, WaiverFilter(include_obsolete=True), 0, 10)
        history = subject_waivers(session, *BUILD)
    assert ([row.id for row in current], total) == ([second], 1)
    assert ([row.id for row in every], every_total) == ([second, first], 2)
    assert [row.id for row in history] == [second, first]


def test_an_answer_is_replaced_only_when_it_changes(store: Store) -> None:
    answer = {"policies_satisfied": False, "summary": "1 missing"}
    with store.session() as session:
        assert replace_answer(session, BUILD, "ctx", "fedora-26", answer) == (True, None)
        assert replace_answer(session, BUILD, "ctx", "fedora-26", answer) == (False, answer)
        assert replace_answer(session, BUILD, "other", "fedora-26", answer) == (True, None)
    satisfied = {"policies_satisfied": True, "summary": "passed"}
    with store.session() as session:
        assert replace_answer(session, BUILD, "ctx", "fedora-26", satisfied) == (True, answer)
        assert replace_answer(session, BUILD, "ctx", "fedora-26", satisfied)[0] is False


@pytest.mark.postgres
def test_writers_deciding_at_once_announce_a_new_answer_once() -> None:
    answer = {"policies_satisfied": True, "summary": "passed"}
    with postgres_store() as store:
        outcomes: list[tuple[bool, Any]] = []
        with store.session() as first:
            outcomes.append(replace_answer(first, BUILD, "ctx", "fedora-26", answer))

            def second() -> None:
                with store.session() as session:
                    outcomes.append(replace_answer(session, BUILD, "ctx", "fedora-26", answer))

            racer = threading.Thread(target=second)
            racer.start()
            racer.join(0.5)
            assert racer.is_alive()  # waits for the first writer's row
        racer.join(10)
    assert outcomes == [(True, None), (False, answer)]
