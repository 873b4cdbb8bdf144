"""Log lines that carry their context: the run id, the stage and the msg_id of the causing message.

Entry points set the context for the work they start (the trigger per delivery, the engine per run
and stage it drives, the executors per attempt, the stage worker per job) with :func:`log_context`;
every module logs through :func:`get_logger`, whose lines then say ``[run=7 stage=build msg=...]``
and carry ``run_id``, ``stage`` and ``msg_id`` as record attributes for structured handlers. The
context lives in :mod:`contextvars`, so threads and asyncio tasks each keep their own. Library code
never configures handlers: that is the command line's business.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import Any

from ci_pipeline.messages.quoting import quote_value

_EMPTY: Mapping[str, Any] = MappingProxyType({"run_id": None, "stage": None, "msg_id": None})
_context: ContextVar[Mapping[str, Any]] = ContextVar("ci_pipeline_log_context", default=_EMPTY)

#: A keyword left out of :func:`log_context` keeps the value the context already has.
_KEEP: Any = object()


@contextmanager
def log_context(*, run_id: int | None = _KEEP, stage: str | None = _KEEP,
                msg_id: str | None = _KEEP) -> Iterator[None]:
    """Within the block, log lines say these values (``None`` clears one; omitted ones stay)."""
    given = {"run_id": run_id, "stage": stage, "msg_id": msg_id}
    token = _context.set({**_context.get(), **{k: v for k, v in given.items() if v is not _KEEP}})
    try:
        yield
    finally:
        _context.reset(token)


def current_context() -> dict[str, Any]:
    """The run id, stage and msg_id log lines say now (None where unset)."""
    return dict(_context.get())


_PLAIN = re.compile(r"[A-Za-z0-9._:-]{1,100}")


def _shown(value: object) -> str:
    # A msg_id comes from outside: anything but a plain word is quoted, escaped and shortened.
    text = str(value)
    return text if _PLAIN.fullmatch(text) else quote_value(text)


class ContextLogger(logging.LoggerAdapter[logging.Logger]):
    """A logger that stamps the current run id, stage and msg_id on every line."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        """Prefix the context to the message and add it to the record's attributes."""
        context = current_context()
        kwargs["extra"] = {**context, **(kwargs.get("extra") or {})}
        words = [
            f"{label}={_shown(value)}"
            for label, value in (("run", context["run_id"]), ("stage", context["stage"]),
                                 ("msg", context["msg_id"]))
            if value is not None
        ]
        return (f"[{' '.join(words)}] {msg}" if words else msg), kwargs


def get_logger(name: str) -> ContextLogger:
    """The logger of module ``name`` (``ci_pipeline.<module>``), stamping the log context."""
    return ContextLogger(logging.getLogger(name), {})
