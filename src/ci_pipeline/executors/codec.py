"""Stage attempts and their outcomes as JSON-ready data: the one codec every executor uses.

A job crosses a process boundary to a stage worker (a file) or a Celery worker (a task); an
outcome comes back the same ways. What is decoded came from another process, possibly another
machine: every value is type-checked before it reaches a path, a subprocess or a column, and a
malformed document raises :class:`ValueError` with one sentence saying what is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ci_pipeline.config import Config
from ci_pipeline.messages.topics import Status
from ci_pipeline.stage_contract import StageContext, StageOutcome

#: The fields of a job that mean the same on every machine (paths and configuration do not).
PORTABLE_JOB_FIELDS = ("run_id", "stage", "attempt", "fields", "options", "command", "implementation",
                       "timeout", "artifacts_url")
_PATH_FIELDS = ("workdir", "artifacts_dir", "log_path")
_TEST_FIELDS = {"name": str, "outcome": str, "duration": float, "log": str}


def encode_job(job: StageContext, *, portable: bool = False) -> dict[str, Any]:
    """``job`` as JSON-ready data; ``portable`` leaves out its paths and configuration.

    The configuration travels only with a built-in stage, the one kind of work that reads it.
    """
    data: dict[str, Any] = {
        "run_id": job.run_id, "stage": job.stage, "attempt": job.attempt, "fields": dict(job.fields),
        "options": dict(job.options), "command": job.command, "implementation": job.implementation,
        "timeout": job.timeout, "artifacts_url": job.artifacts_url,
    }
    if not portable:
        data.update({name: str(getattr(job, name)) for name in _PATH_FIELDS})
        if job.command is None:
            data["config"] = job.config.model_dump_json()
    return data


def decode_job(data: Mapping[str, Any], *, config: Config | None = None,
               paths: Mapping[str, Path] | None = None) -> StageContext:
    """The job ``data`` describes; ``config`` and ``paths`` (workdir, ...) replace what it carries."""
    _require(isinstance(data, Mapping), "a job is not a JSON object")
    paths = paths or {}
    located = {name: paths[name] if name in paths else Path(_text(data, name)) for name in _PATH_FIELDS}
    if config is None:
        config = _config(data.get("config"))
    command = data.get("command")
    _require(command is None or isinstance(command, str), "the job's command is not text")
    return StageContext(
        run_id=_integer(data, "run_id"),
        stage=_text(data, "stage"),
        attempt=_integer(data, "attempt"),
        fields=_text_map(data, "fields"),
        options=_text_map(data, "options"),
        command=command,
        implementation=_text(data, "implementation"),
        timeout=_optional_number(data, "timeout"),
        artifacts_url=_text(data, "artifacts_url"),
        config=config,
        **located,
    )


def encode_outcome(outcome: StageOutcome) -> dict[str, Any]:
    """``outcome`` as JSON-ready data."""
    return {
        "run_id": outcome.run_id, "stage": outcome.stage, "attempt": outcome.attempt,
        "status": outcome.status.value, "reason": outcome.reason, "outputs": dict(outcome.outputs),
        "infrastructure": outcome.infrastructure, "duration": outcome.duration,
        "summary": outcome.summary, "tests": [dict(test) for test in outcome.tests],
    }


def decode_outcome(data: Mapping[str, Any], job: StageContext) -> StageOutcome:
    """The outcome in ``data``, as the outcome of ``job`` (the attempt the scheduler started)."""
    _require(isinstance(data, Mapping), "an outcome is not a JSON object")
    try:
        status = Status(str(data.get("status")))
    except ValueError:
        shown = str(data.get("status"))[:40]
        problem = f"the outcome's status {shown!r} is not a status"
        raise ValueError(f"The stage document is malformed: {problem}.") from None
    infrastructure = data.get("infrastructure", False)
    _require(isinstance(infrastructure, bool), "the outcome's infrastructure flag is not true or false")
    tests = data.get("tests", [])
    _require(isinstance(tests, list), "the outcome's tests are not a list")
    return StageOutcome(
        run_id=job.run_id,
        stage=job.stage,
        attempt=job.attempt,
        status=status,
        reason=_text(data, "reason", ""),
        outputs=_text_map(data, "outputs"),
        infrastructure=infrastructure,
        duration=_optional_number(data, "duration") or 0.0,
        summary=_text(data, "summary", ""),
        tests=tuple(_test(test) for test in tests),
    )


def _require(condition: bool, problem: str) -> None:
    if not condition:
        raise ValueError(f"The stage document is malformed: {problem}.")


def _text(data: Mapping[str, Any], name: str, default: str | None = None) -> str:
    value = data.get(name, default)
    _require(isinstance(value, str), f"{name} is not text")
    return str(value)


def _integer(data: Mapping[str, Any], name: str) -> int:
    value = data.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"The stage document is malformed: {name} is not an integer.")
    return value


def _optional_number(data: Mapping[str, Any], name: str) -> float | None:
    value = data.get(name)
    if value is None:
        return None
    _require(isinstance(value, int | float) and not isinstance(value, bool), f"{name} is not a number")
    return float(value)


def _text_map(data: Mapping[str, Any], name: str) -> dict[str, str]:
    value = data.get(name, {})
    _require(isinstance(value, Mapping), f"{name} is not an object")
    _require(all(isinstance(item, str) for item in value.values()), f"a value of {name} is not text")
    return {str(key): item for key, item in value.items()}


def _test(test: Any) -> dict[str, Any]:
    _require(isinstance(test, Mapping), "a test is not an object")
    _require(isinstance(test.get("name"), str) and isinstance(test.get("outcome"), str),
             "a test has no name or outcome")
    decoded: dict[str, Any] = {}
    for key, kind in _TEST_FIELDS.items():
        if key in test:
            value = test[key]
            ok = isinstance(value, kind) or (kind is float and isinstance(value, int))
            _require(ok and not isinstance(value, bool), f"a test's {key} is not a {kind.__name__}")
            decoded[key] = float(value) if kind is float else value
    return decoded


def _config(raw: Any) -> Config:
    if raw is None:
        return Config()
    _require(isinstance(raw, str), "the configuration is not text")
    try:
        return Config.model_validate_json(raw)
    except ValidationError as exc:
        problem = exc.errors()[0]["msg"]
        raise ValueError(f"The stage document is malformed: its configuration is invalid ({problem}).") \
            from None
