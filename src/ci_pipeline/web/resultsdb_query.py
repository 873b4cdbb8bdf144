"""ResultsDB v2.0 query parameters turned into a store query, and results turned into ResultsDB's JSON."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ci_pipeline.errors import UsageError
from ci_pipeline.store.resultsdb import DEFAULT_LIMIT, ResultQuery
from ci_pipeline.store.rows import Result

MAX_LIMIT = 1000
#: Query parameters that are not data filters.
RESERVED = frozenset(
    {"page", "limit", "since", "outcome", "testcases", "testcases:like", "groups", "_distinct_on", "callback"}
)
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


class ResultFilter(ResultQuery):
    """The filters of a ResultsDB results query, read from its query parameters."""

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
