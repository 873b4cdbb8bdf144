"""The spec file side of the build stage: the rewritten release, unexpanded macros, and NVR queries.

The pipeline marks every build it makes: the spec's release gets ``.<commit count>.<rev[:7]>`` in
front of the dist tag, so ``vim-7.4.160-1.fc26`` built from the 200th commit ``591b0d2...`` becomes
``vim-7.4.160-1.200.591b0d2.fc26``. Which dist tag and macros a branch builds with is
:mod:`ci_pipeline.branches`' rule. An NVR that still holds a macro (``%autorelease``, ``%{foo}``)
is never built: the stage fails naming the macro.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ci_pipeline.branches import BranchRelease
from ci_pipeline.errors import StageFailure
from ci_pipeline.stages.tools import Deadline, capture_tool

_RELEASE_TAG = re.compile(r"^(?P<tag>Release[ \t]*:[ \t]*)(?P<value>\S(?:.*\S)?)[ \t]*$", re.I | re.M)
_NVR_MARK = "CI-PIPELINE-NVR "
#: A macro as it can stay in an expanded text: ``%{...}``, ``%(...)``, ``%name``, ``%?name``, or a lone ``%``.
_MACRO = re.compile(r"%(?:\{[^{}]*\}?|\([^()]*\)?|[?!]*[A-Za-z_][A-Za-z0-9_]*)?")
#: The macro a marked ``Release:`` line goes through when its value is a macro call with arguments.
_MARKED_RELEASE_MACRO = "ci_pipeline_release"


def release_mark(commit_count: int, rev: str) -> str:
    """What the pipeline puts in front of the dist tag: ``.<commit count>.<rev[:7]>``."""
    return f".{commit_count}.{rev[:7]}"


def rewrite_release(spec_text: str, mark: str) -> str:
    """The spec with ``mark`` appended to the value of its first ``Release:`` tag.

    A value with arguments (``%autorelease -n``) would take the mark as one more argument, so it
    goes through a macro of its own first: ``%global ci_pipeline_release %autorelease -n``.
    """

    def marked(match: re.Match[str]) -> str:
        value = match["value"]
        if not re.search(r"\s", value):
            return f"{match['tag']}{value}{mark}"
        return f"%global {_MARKED_RELEASE_MACRO} {value}\n{match['tag']}%{{{_MARKED_RELEASE_MACRO}}}{mark}"

    rewritten, count = _RELEASE_TAG.subn(marked, spec_text, count=1)
    if count == 0:
        raise ValueError("the spec file has no Release: tag")
    return rewritten


def unexpanded_macro(text: str) -> str | None:
    """The first macro that ``text`` (an NVR) still holds, as written there; None when there is none."""
    found = _MACRO.search(text)
    return found.group(0) if found else None


def checked_nvr(nvr: str, spec: Path) -> str:
    """``nvr`` when it holds no macro; else StageFailure naming the macro that did not expand."""
    macro = unexpanded_macro(nvr)
    if macro is not None:
        raise StageFailure(
            f"The NVR {nvr} of {spec.name} holds the unexpanded macro {macro}: "
            "it is defined neither by the spec nor by the build."
        )
    return nvr


def query_nvr(spec: Path, macros: Mapping[str, str], log_path: Path, deadline: Deadline) -> str:
    """The source package's name-version-release as rpmspec evaluates ``spec`` with ``macros``.

    StageFailure when the spec cannot be parsed or its NVR holds an unexpanded macro.
    """
    argv = ["rpmspec", "-q", "--srpm", "--qf", f"{_NVR_MARK}%{{name}}-%{{version}}-%{{release}}\\n"]
    for name, value in macros.items():
        argv += ["--define", f"{name} {value}"]
    argv.append(str(spec))
    printed = capture_tool(
        argv, log_path, timeout=deadline.remaining(), failure=f"The spec file {spec.name} cannot be parsed"
    )
    # rpmspec may print warnings too (a bogus changelog date ...): take only the marked line.
    for line in printed.splitlines():
        if line.startswith(_NVR_MARK):
            return checked_nvr(line[len(_NVR_MARK) :].strip(), spec)
    raise StageFailure(f"rpmspec printed no NVR for {spec.name}.\n{printed[-2000:]}")


@dataclass(frozen=True)
class ReleasePlan:
    """How to build a spec with the pipeline's release: which spec file and which macros."""

    spec: Path
    macros: Mapping[str, str]
    nvr: str
    original_nvr: str


def plan_release(
    spec: Path, release: BranchRelease, mark: str, rewritten_spec: Path, log_path: Path, deadline: Deadline
) -> ReleasePlan:
    """Decide how the release gets ``mark``: through ``%{dist}`` when the spec uses it, else its text.

    ``rewritten_spec`` is where a spec with an edited ``Release:`` line is written when needed.
    """
    macros = release.macros()
    original_nvr = query_nvr(spec, macros, log_path, deadline)
    marked_macros = macros | {"dist": mark + release.dist_tag}
    marked_nvr = query_nvr(spec, marked_macros, log_path, deadline)
    if marked_nvr != original_nvr:
        return ReleasePlan(spec, marked_macros, marked_nvr, original_nvr)
    try:
        text = rewrite_release(spec.read_text(encoding="utf-8", errors="surrogateescape"), mark)
    except ValueError as exc:
        raise StageFailure(f"The spec file {spec.name} has no Release: line to mark.") from exc
    rewritten_spec.write_text(text, encoding="utf-8", errors="surrogateescape")
    nvr = query_nvr(rewritten_spec, macros, log_path, deadline)
    if nvr == original_nvr:
        raise StageFailure(f"The release of {original_nvr} cannot be marked: its Release: line is unused.")
    return ReleasePlan(rewritten_spec, macros, nvr, original_nvr)


def has_check_section(spec_text: str) -> bool:
    """Whether the spec has a ``%check`` section, i.e. unit tests that the build runs."""
    return re.search(r"^%check\b", spec_text, re.M) is not None
