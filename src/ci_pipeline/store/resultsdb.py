"""ResultsDB's queries: results filtered ResultsDB's way, the newest result of each test case, and
test cases and groups read and written by the ResultsDB v2.0 compatible API."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from ci_pipeline.store.models import Result, ResultData, ResultGroup, ResultTestcase
from ci_pipeline.store.results import ensure_testcases, insert_results

DEFAULT_LIMIT = 20
#: Data keys kept as indexed columns of their own.
COLUMN_KEYS = {"item": Result.item, "type": Result.type}
#: How many results a ``_distinct_on`` query looks at.
DISTINCT_SCAN = 10000


def like_pattern(value: str) -> str:
    """A ResultsDB ``*`` wildcard as an SQL LIKE pattern (``%`` and ``_`` taken literally)."""
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%")


@dataclass
class ResultQuery:
    """The filters of a ResultsDB results query, and the page asked for."""

    testcases: list[str] = field(default_factory=list)
    testcases_like: list[str] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    since: tuple[datetime | None, datetime | None] = (None, None)
    data: dict[str, list[str]] = field(default_factory=dict)
    data_like: dict[str, list[str]] = field(default_factory=dict)
    distinct_on: list[str] = field(default_factory=list)
    page: int = 0
    limit: int = DEFAULT_LIMIT


def _any_like(column: Any, patterns: Sequence[str]) -> ColumnElement[bool]:
    return or_(*(column.like(like_pattern(pattern), escape="\\") for pattern in patterns))


def _data_condition(key: str, values: list[str], *, like: bool) -> ColumnElement[bool]:
    column = COLUMN_KEYS.get(key)
    if column is not None:
        return _any_like(column, values) if like else column.in_(values)
    value_test = _any_like(ResultData.value, values) if like else ResultData.value.in_(values)
    matching = select(ResultData.result_id).where(ResultData.key == key, value_test)
    return Result.id.in_(matching)


def _conditions(query: ResultQuery) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if query.testcases:
        where.append(Result.testcase.in_(query.testcases))
    if query.testcases_like:
        where.append(_any_like(Result.testcase, query.testcases_like))
    if query.outcomes:
        where.append(Result.outcome.in_(query.outcomes))
    if query.groups:
        where.append(Result.group_uuid.in_(query.groups))
    start, end = query.since
    if start is not None:
        where.append(Result.submit_time >= start)
    if end is not None:
        where.append(Result.submit_time <= end)
    for key, values in query.data.items():
        where.append(_data_condition(key, values, like=False))
    for key, values in query.data_like.items():
        where.append(_data_condition(key, values, like=True))
    return where


def result_page(session: Session, query: ResultQuery) -> list[Result]:
    """The page of results matching ``query``, newest first, one row more to tell if there is a next page."""
    statement = (
        select(Result).where(*_conditions(query)).order_by(Result.submit_time.desc(), Result.id.desc())
    )
    return list(session.execute(statement.offset(query.page * query.limit).limit(query.limit + 1)).scalars())


def latest_results(session: Session, query: ResultQuery) -> list[Result]:
    """The newest result of each test case (and of each ``_distinct_on`` data value) matching ``query``."""
    if query.distinct_on:
        rows = session.execute(
            select(Result).where(*_conditions(query)).order_by(Result.id.desc()).limit(DISTINCT_SCAN)
        ).scalars()
        newest: dict[tuple[Any, ...], Result] = {}
        for row in rows:
            key = (row.testcase, *(tuple(row.data.get(name, [])) for name in query.distinct_on))
            newest.setdefault(key, row)
        return sorted(newest.values(), key=lambda row: row.testcase)
    newest_ids = select(func.max(Result.id)).where(*_conditions(query)).group_by(Result.testcase)
    return list(
        session.execute(select(Result).where(Result.id.in_(newest_ids)).order_by(Result.testcase)).scalars()
    )


def get_result(session: Session, result_id: int) -> Result | None:
    """The result ``result_id``, if there is one."""
    return session.get(Result, result_id)


#: A group a posted result names: uuid, description and ref_url.
GroupRef = tuple[str, str | None, str | None]


def add_result(session: Session, row: Mapping[str, Any], groups: Sequence[GroupRef]) -> Result:
    """Store a posted result, creating its test case and its groups ``(uuid, description, ref_url)``."""
    ensure_testcases(session, [str(row["testcase"])])
    for uuid, description, ref_url in groups:
        if session.get(ResultGroup, uuid) is None:
            session.add(ResultGroup(uuid=uuid, description=description, ref_url=ref_url))
    session.flush()
    stored = session.get(Result, insert_results(session, [row])[0])
    assert stored is not None
    return stored


def testcase_page(
    session: Session, names: Sequence[str], name_patterns: Sequence[str], offset: int, limit: int
) -> list[ResultTestcase]:
    """Test cases by name, of these ``names`` and matching any of these ``*`` patterns."""
    query = select(ResultTestcase).order_by(ResultTestcase.name)
    if names:
        query = query.where(ResultTestcase.name.in_(list(names)))
    if name_patterns:
        query = query.where(_any_like(ResultTestcase.name, name_patterns))
    return list(session.execute(query.offset(offset).limit(limit)).scalars())


def get_testcase(session: Session, name: str) -> ResultTestcase | None:
    """The test case ``name``, if there is one."""
    return session.get(ResultTestcase, name)


def save_testcase(session: Session, name: str, ref_url: str | None) -> ResultTestcase:
    """Create the test case ``name``, or set its ref_url."""
    row = session.get(ResultTestcase, name) or ResultTestcase(name=name)
    row.ref_url = ref_url
    session.add(row)
    return row


def group_page(
    session: Session,
    uuids: Sequence[str],
    description: str | None,
    description_pattern: str | None,
    offset: int,
    limit: int,
) -> list[ResultGroup]:
    """Groups newest first, of these ``uuids``, with this description or matching the ``*`` pattern."""
    query = select(ResultGroup).order_by(ResultGroup.created_at.desc())
    if uuids:
        query = query.where(ResultGroup.uuid.in_(list(uuids)))
    if description:
        query = query.where(ResultGroup.description == description)
    if description_pattern:
        query = query.where(ResultGroup.description.like(like_pattern(description_pattern), escape="\\"))
    return list(session.execute(query.offset(offset).limit(limit)).scalars())


def get_group(session: Session, uuid: str) -> ResultGroup | None:
    """The group ``uuid``, if there is one."""
    return session.get(ResultGroup, uuid)


def save_group(session: Session, uuid: str, description: str | None, ref_url: str | None) -> ResultGroup:
    """Create the group ``uuid``, or change its description and ref_url."""
    row = session.get(ResultGroup, uuid) or ResultGroup(uuid=uuid)
    row.description, row.ref_url = description, ref_url
    session.add(row)
    session.flush()
    return row
