"""ResultsDB v2.0 query parameters turned into SQL, and results turned into ResultsDB's JSON."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from ci_pipeline.errors import UsageError
from ci_pipeline.store.models import Result, ResultData

DEFAULT_LIMIT = 20
MAX_LIMIT = 1000
#: Query parameters that are not data filters.
RESERVED = frozenset(
    {"page", "limit", "since", "outcome", "testcases", "testcases:like", "groups", "_distinct_on", "callback"}
)
#: Data keys kept as indexed columns of their own.
COLUMN_KEYS = {"item": Result.item, "type": Result.type}


def like_pattern(value: str) -> str:
    """A ResultsDB ``*`` wildcard as an SQL LIKE pattern (``%`` and ``_`` taken literally)."""
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%")


def split_values(raw: str) -> list[str]:
    """A comma-separated parameter's values, blanks dropped."""
    return [part.strip() for part in raw.split(",") if part.strip()]


def parse_time(text: str) -> datetime:
    """An ISO 8601 time as an aware UTC datetime; a time without a zone is UTC."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise UsageError(f"'{text}' is not an ISO 8601 time such as 2017-05-03T09:15:12.") from exc
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_int(name: str, raw: str | None, default: int, low: int, high: int) -> int:
    """An integer query parameter within [low, high]."""
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise UsageError(f"The parameter '{name}' must be a whole number, not '{raw}'.") from exc
    if not low <= value <= high:
        raise UsageError(f"The parameter '{name}' must be between {low} and {high}.")
    return value


@dataclass
class ResultFilter:
    """The filters of a ResultsDB results query."""

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

    @classmethod
    def from_params(cls, params: Sequence[tuple[str, str]]) -> ResultFilter:
        """Parse ResultsDB query parameters; a bad one raises UsageError."""
        found = cls()
        raw: dict[str, str] = {}
        for key, value in params:
            if not key or len(key) > 255:
                raise UsageError("A query parameter name must be 1 to 255 characters long.")
            raw[key] = value if key not in raw else f"{raw[key]},{value}"
        found.page = parse_int("page", raw.get("page"), 0, 0, 10**6)
        found.limit = parse_int("limit", raw.get("limit"), DEFAULT_LIMIT, 1, MAX_LIMIT)
        found.testcases = split_values(raw.get("testcases", ""))
        found.testcases_like = split_values(raw.get("testcases:like", ""))
        found.outcomes = [value.upper() for value in split_values(raw.get("outcome", ""))]
        found.groups = split_values(raw.get("groups", ""))
        found.distinct_on = split_values(raw.get("_distinct_on", ""))
        if raw.get("since"):
            bounds = raw["since"].split(",")
            if len(bounds) > 2:
                raise UsageError("The parameter 'since' is one time or a range 'start,end'.")
            end = parse_time(bounds[1]) if len(bounds) == 2 and bounds[1].strip() else None
            found.since = (parse_time(bounds[0]) if bounds[0].strip() else None, end)
        for key, value in raw.items():
            if key in RESERVED:
                continue
            values = split_values(value)
            if not values or key in (":like", ""):
                continue  # an empty filter filters nothing, as in ResultsDB
            if key.endswith(":like"):
                found.data_like[key[:-5]] = values
            else:
                found.data[key] = values
        return found

    def conditions(self) -> list[ColumnElement[bool]]:
        """The SQL conditions these filters stand for."""
        where: list[ColumnElement[bool]] = []
        if self.testcases:
            where.append(Result.testcase.in_(self.testcases))
        if self.testcases_like:
            where.append(_any_like(Result.testcase, self.testcases_like))
        if self.outcomes:
            where.append(Result.outcome.in_(self.outcomes))
        if self.groups:
            where.append(Result.group_uuid.in_(self.groups))
        start, end = self.since
        if start is not None:
            where.append(Result.submit_time >= start)
        if end is not None:
            where.append(Result.submit_time <= end)
        for key, values in self.data.items():
            where.append(_data_condition(key, values, like=False))
        for key, values in self.data_like.items():
            where.append(_data_condition(key, values, like=True))
        return where


def _any_like(column: Any, patterns: list[str]) -> ColumnElement[bool]:
    from sqlalchemy import or_

    return or_(*(column.like(like_pattern(pattern), escape="\\") for pattern in patterns))


def _data_condition(key: str, values: list[str], *, like: bool) -> ColumnElement[bool]:
    column = COLUMN_KEYS.get(key)
    if column is not None:
        return _any_like(column, values) if like else column.in_(values)
    value_test = _any_like(ResultData.value, values) if like else ResultData.value.in_(values)
    matching = select(ResultData.result_id).where(ResultData.key == key, value_test)
    return Result.id.in_(matching)


def results_query(found: ResultFilter) -> Select[Any]:
    """The page of results matching ``found``, newest first, one row more to tell if there is a next page."""
    query = select(Result).where(*found.conditions()).order_by(Result.submit_time.desc(), Result.id.desc())
    return query.offset(found.page * found.limit).limit(found.limit + 1)


def latest_results(session: Session, found: ResultFilter) -> list[Result]:
    """The newest result of each test case (and of each ``_distinct_on`` data value) matching ``found``."""
    if found.distinct_on:
        rows = session.execute(
            select(Result).where(*found.conditions()).order_by(Result.id.desc()).limit(10000)
        ).scalars()
        newest: dict[tuple[Any, ...], Result] = {}
        for row in rows:
            key = (row.testcase, *(tuple(row.data.get(name, [])) for name in found.distinct_on))
            newest.setdefault(key, row)
        return sorted(newest.values(), key=lambda row: row.testcase)
    newest_ids = select(func.max(Result.id)).where(*found.conditions()).group_by(Result.testcase)
    return list(
        session.execute(select(Result).where(Result.id.in_(newest_ids)).order_by(Result.testcase)).scalars()
    )


def iso(value: datetime | None) -> str | None:
    """A stored time as ResultsDB prints it: UTC without a zone suffix."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat()


def result_json(row: Result, api: str) -> dict[str, Any]:
    """A result in ResultsDB v2.0's JSON shape; ``api`` is the API's base URL."""
    return {
        "id": row.id,
        "testcase": {"name": row.testcase, "ref_url": None, "href": f"{api}/testcases/{row.testcase}"},
        "outcome": row.outcome,
        "note": row.note,
        "ref_url": row.ref_url,
        "submit_time": iso(row.submit_time),
        "groups": [row.group_uuid] if row.group_uuid else [],
        "data": row.data,
        "href": f"{api}/results/{row.id}",
    }
