"""ResultsDB's queries, gating's opt-ins and the forwarding cursor, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ci_pipeline.store import forwarding, gating
from ci_pipeline.store import resultsdb as rdb
from ci_pipeline.store.clock import aware, utcnow
from ci_pipeline.store.db import Store


def posted(testcase: str, outcome: str, item: str, group: str | None = None, **data: str) -> dict[str, Any]:
    return {
        "testcase": testcase, "outcome": outcome, "item": item, "type": "koji_build", "group_uuid": group,
        "data": {"item": [item], "type": ["koji_build"], **{key: [value] for key, value in data.items()}},
    }


def add_results(store: Store) -> list[int]:
    results = [
        (posted("dist.rpmlint", "PASSED", "vim-1", arch="x86_64"), []),
        (posted("dist.rpmlint", "FAILED", "vim-2", "g-1", arch="aarch64"), [("g-1", "d", None)]),
        (posted("dist.abicheck", "PASSED", "vim-2", arch="x86_64"), [("g-2", "x", None)]),
    ]
    with store.session() as session:
        return [rdb.add_result(session, row, groups).id for row, groups in results]


def test_results_filter_by_testcase_outcome_group_item_and_any_data_key(store: Store) -> None:
    first, second, third = add_results(store)
    with store.session() as session:

        def ids(**filters: Any) -> list[int]:
            return [row.id for row in rdb.result_page(session, rdb.ResultQuery(**filters))]

        assert ids() == [third, second, first]
        assert ids(testcases=["dist.rpmlint"]) == [second, first]
        assert ids(testcases_like=["dist.abi*"]) == [third]
        assert ids(outcomes=["FAILED"]) == [second]
        assert ids(groups=["g-1"]) == [second]
        assert ids(data={"item": ["vim-2"]}) == [third, second]
        assert ids(data={"arch": ["x86_64"]}) == [third, first]
        assert ids(data_like={"arch": ["aarch*"]}) == [second]
        assert ids(data_like={"arch": ["%"]}) == []  # LIKE's own wildcards are taken literally
        assert ids(since=(utcnow() + timedelta(hours=1), None)) == []
        assert ids(page=1, limit=1) == [second, first]  # one more than the limit tells of a next page
        latest = rdb.latest_results(session, rdb.ResultQuery())
        assert [(row.testcase, row.id) for row in latest] == [
            ("dist.abicheck", third), ("dist.rpmlint", second)
        ]
        distinct = rdb.latest_results(session, rdb.ResultQuery(distinct_on=["item"]))
        assert sorted(row.id for row in distinct) == [first, second, third]
        found = rdb.get_result(session, first)
        assert found is not None and found.data["arch"] == ["x86_64"]
        assert rdb.get_result(session, 10**6) is None


def test_test_cases_and_groups_are_created_updated_and_listed(store: Store) -> None:
    add_results(store)
    with store.session() as session:
        rdb.save_testcase(session, "dist.rpmlint", "https://docs/rpmlint")
        rdb.save_testcase(session, "dist_new", None)
        rdb.save_group(session, "g-2", "second", "https://ci/2")
        rdb.save_group(session, "g-1", "first, renamed", None)
    with store.session() as session:
        names = [row.name for row in rdb.testcase_page(session, [], [], 0, 10)]
        assert names == ["dist.abicheck", "dist.rpmlint", "dist_new"]
        assert [row.name for row in rdb.testcase_page(session, ["dist_new"], [], 0, 10)] == ["dist_new"]
        assert [row.name for row in rdb.testcase_page(session, [], ["dist_*"], 0, 10)] == ["dist_new"]
        assert [row.name for row in rdb.testcase_page(session, [], [], 1, 1)] == ["dist.rpmlint"]
        testcase = rdb.get_testcase(session, "dist.rpmlint")
        assert testcase is not None and testcase.ref_url == "https://docs/rpmlint"
        assert rdb.get_testcase(session, "nope") is None
        uuids = {row.uuid for row in rdb.group_page(session, [], None, None, 0, 10)}
        assert uuids == {"g-1", "g-2"}
        assert [r.uuid for r in rdb.group_page(session, ["g-2"], None, None, 0, 10)] == ["g-2"]
        assert [r.uuid for r in rdb.group_page(session, [], "second", None, 0, 10)] == ["g-2"]
        assert [r.uuid for r in rdb.group_page(session, [], None, "first*", 0, 10)] == ["g-1"]
        group = rdb.get_group(session, "g-1")
        assert group is not None and group.description == "first, renamed"
        assert rdb.get_group(session, "nope") is None


def test_opt_ins_are_saved_changed_listed_and_removed(store: Store) -> None:
    with store.session() as session:
        gating.save_opt_in(session, "vim", "bodhi_update_push_stable", ["a"])
        gating.save_opt_in(session, "emacs", "ctx", ["b"])
        gating.save_opt_in(session, "vim", "ctx", ["a", "c"])
    with store.session() as session:
        assert [(r.package, r.decision_context, r.test_cases) for r in gating.opt_ins(session)] == [
            ("emacs", "ctx", ["b"]), ("vim", "ctx", ["a", "c"])
        ]
        assert gating.remove_opt_in(session, "emacs")
        assert not gating.remove_opt_in(session, "emacs")
    with store.session() as session:
        assert [r.package for r in gating.opt_ins(session)] == ["vim"]


def test_gating_reads_the_newest_result_of_a_test_case_for_an_item(store: Store) -> None:
    second = add_results(store)[1]
    with store.session() as session:
        again = rdb.add_result(session, posted("dist.rpmlint", "PASSED", "vim-2"), []).id
    with store.session() as session:
        newest = gating.latest_result(session, "vim-2", "dist.rpmlint")
        assert newest is not None and newest.id == again != second
        assert gating.latest_result(session, "vim-3", "dist.rpmlint") is None


def test_the_forwarding_cursor_starts_at_zero_advances_and_backs_off(store: Store) -> None:
    first, second, third = add_results(store)
    cursor = forwarding.cursor(store, "https://other/api/v2.0")
    assert (cursor.last_result_id, cursor.failures, cursor.next_attempt_at) == (0, 0, None)
    assert [row.id for row in forwarding.results_after(store, 0, 2)] == [first, second]
    forwarding.advance(store, "https://other/api/v2.0", second)
    assert [row.id for row in forwarding.results_after(store, second, 10)] == [third]
    before = utcnow()
    forwarding.record_failure(store, "https://other/api/v2.0", "HTTP 502", lambda failures: 10.0 * failures)
    forwarding.record_failure(store, "https://other/api/v2.0", "HTTP 503", lambda failures: 10.0 * failures)
    cursor = forwarding.cursor(store, "https://other/api/v2.0")
    assert (cursor.last_result_id, cursor.failures, cursor.last_error) == (second, 2, "HTTP 503")
    assert cursor.next_attempt_at is not None
    assert aware(cursor.next_attempt_at) >= before + timedelta(seconds=20)
    forwarding.advance(store, "https://other/api/v2.0", third)
    cursor = forwarding.cursor(store, "https://other/api/v2.0")
    assert (cursor.last_result_id, cursor.failures, cursor.next_attempt_at) == (third, 0, None)
