"""Which log lines read as failures, for highlighting in the run page (server and browser alike:
the page hands :data:`FAILING_LINE` to its script, so both mark the same lines)."""

from __future__ import annotations

import re

#: A line that reports an error or a failure (tests, rpmbuild, ansible, Python tracebacks).
FAILING_LINE = r"\b(error|errors|failed|failure|fatal|traceback|exception|FAIL)\b"
_FAILING = re.compile(FAILING_LINE, re.IGNORECASE)


def is_failing_line(line: str) -> bool:
    """Whether ``line`` reports an error or a failure."""
    return _FAILING.search(line) is not None
