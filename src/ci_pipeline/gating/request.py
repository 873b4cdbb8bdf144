"""A Greenwave decision request's JSON, checked and read into a :class:`DecisionRequest`.

Both of Greenwave's forms are read: ``subject_type`` + ``subject_identifier``, or ``subject``, a
list of ``{"type": ..., "item": ...}`` (or the older ``{"original_spec_nvr": nvr}``, a koji_build).
``decision_context`` is a string or a list of strings; ``when`` an ISO 8601 time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ci_pipeline.errors import UsageError
from ci_pipeline.gating.decision import DecisionRequest
from ci_pipeline.web.resultsdb_query import parse_time

MAX_SUBJECTS = 100
MAX_CONTEXTS = 20


def _text(value: Any, name: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise UsageError(f"'{name}' must be a non-empty string of at most {limit} characters.")
    return value


def _subject(entry: Any) -> tuple[str, str]:
    if not isinstance(entry, Mapping):
        raise UsageError("Every entry of 'subject' must be an object with 'type' and 'item'.")
    if "original_spec_nvr" in entry and "item" not in entry:
        return "koji_build", _text(entry["original_spec_nvr"], "original_spec_nvr", 255)
    return _text(entry.get("type"), "subject.type", 64), _text(entry.get("item"), "subject.item", 255)


def _subjects(body: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    if "subject_identifier" in body or "subject_type" in body:
        identifier = _text(body.get("subject_identifier"), "subject_identifier", 255)
        return ((_text(body.get("subject_type", "koji_build"), "subject_type", 64), identifier),)
    entries = body.get("subject")
    if entries is None:
        raise UsageError("Missing required subject: send subject_type and subject_identifier, or subject.")
    if not isinstance(entries, list) or not entries or len(entries) > MAX_SUBJECTS:
        raise UsageError(f"'subject' must be a list of 1 to {MAX_SUBJECTS} objects with 'type' and 'item'.")
    return tuple(dict.fromkeys(_subject(entry) for entry in entries))


def _contexts(value: Any) -> tuple[str, ...]:
    if value is None:
        raise UsageError("Missing required decision context.")
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or len(values) > MAX_CONTEXTS:
        raise UsageError(f"'decision_context' must be a string or a list of 1 to {MAX_CONTEXTS} strings.")
    return tuple(_text(item, "decision_context", 100) for item in values)


def request_from_json(body: Any, results_api: str = "") -> DecisionRequest:
    """The decision request a JSON body asks for; UsageError saying what is wrong with it."""
    if not isinstance(body, Mapping):
        raise UsageError("A decision request is a JSON object.")
    version = body.get("product_version")
    if version is None:
        raise UsageError("Missing required product version.")
    verbose = body.get("verbose", False)
    if not isinstance(verbose, bool):
        raise UsageError("'verbose' must be true or false.")
    when = body.get("when")
    return DecisionRequest(
        subjects=_subjects(body),
        decision_contexts=_contexts(body.get("decision_context")),
        product_version=_text(version, "product_version", 100),
        verbose=verbose,
        when=None if when is None else parse_time(_text(when, "when", 64)),
        results_api=results_api,
    )
