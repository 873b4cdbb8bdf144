"""The spec file side of the build stage: dist tags, the rewritten release, and NVR queries.

The pipeline marks every build it makes: the spec's release gets ``.<commit count>.<rev[:7]>`` in
front of the dist tag, so ``vim-7.4.160-1.fc26`` built from the 200th commit ``591b0d2...`` becomes
``vim-7.4.160-1.200.591b0d2.fc26``. Branch to dist tag:

======================  ==========================================
``fNN``                 ``.fcNN``
``master``, ``rawhide`` ``.fc<pipeline.rawhide>``
``epelN``, ``elN``      ``.elN`` (``epelN-next`` too), as Fedora's EPEL and RHEL builds spell it
======================  ==========================================
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ci_pipeline.errors import StageFailure
from ci_pipeline.stages.tools import Deadline, capture_tool

RAWHIDE_BRANCHES = frozenset({"master", "rawhide", "main"})
_FEDORA_BRANCH = re.compile(r"f([0-9]{1,4})")
_EL_BRANCH = re.compile(r"(?:epel|el)([0-9]{1,3})(?:-next)?")
_RELEASE_TAG = re.compile(r"^(?P<tag>Release[ \t]*:[ \t]*)(?P<value>\S(?:.*\S)?)[ \t]*$", re.I | re.M)
_NVR_MARK = "CI-PIPELINE-NVR "


def dist_tag(branch: str, rawhide: int) -> str:
    """The dist tag of a dist-git branch (``f26`` -> ``.fc26``); ValueError for a branch without one."""
    if branch in RAWHIDE_BRANCHES:
        return f".fc{rawhide}"
    if fedora := _FEDORA_BRANCH.fullmatch(branch):
        return f".fc{int(fedora.group(1))}"
    if enterprise := _EL_BRANCH.fullmatch(branch):
        return f".el{int(enterprise.group(1))}"
    raise ValueError(f"the branch {branch!r} has no known dist tag")


def dist_macros(tag: str) -> dict[str, str]:
    """The macros a build for ``tag`` defines: ``dist`` and ``fedora`` or ``rhel``, as Fedora's do."""
    macros = {"dist": tag}
    if tag.startswith(".fc"):
        macros["fedora"] = tag[3:]
    elif tag.startswith(".el"):
        macros["rhel"] = tag[3:]
    return macros


def release_mark(commit_count: int, rev: str) -> str:
    """What the pipeline puts in front of the dist tag: ``.<commit count>.<rev[:7]>``."""
    return f".{commit_count}.{rev[:7]}"


def rewrite_release(spec_text: str, mark: str) -> str:
    """The spec with ``mark`` appended to the value of its first ``Release:`` tag."""
    rewritten, count = _RELEASE_TAG.subn(lambda m: f"{m['tag']}{m['value']}{mark}", spec_text, count=1)
    if count == 0:
        raise ValueError("the spec file has no Release: tag")
    return rewritten


def query_nvr(spec: Path, macros: Mapping[str, str], log_path: Path, deadline: Deadline) -> str:
    """The source package's name-version-release as rpmspec evaluates ``spec`` with ``macros``."""
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
            return line[len(_NVR_MARK) :].strip()
    raise StageFailure(f"rpmspec printed no NVR for {spec.name}.\n{printed[-2000:]}")


@dataclass(frozen=True)
class ReleasePlan:
    """How to build a spec with the pipeline's release: which spec file and which macros."""

    spec: Path
    macros: Mapping[str, str]
    nvr: str
    original_nvr: str


def plan_release(
    spec: Path, tag: str, mark: str, rewritten_spec: Path, log_path: Path, deadline: Deadline
) -> ReleasePlan:
    """Decide how the release gets ``mark``: through ``%{dist}`` when the spec uses it, else its text.

    ``rewritten_spec`` is where a spec with an edited ``Release:`` line is written when needed.
    """
    original_nvr = query_nvr(spec, dist_macros(tag), log_path, deadline)
    marked_macros = dist_macros(tag) | {"dist": mark + tag}
    marked_nvr = query_nvr(spec, marked_macros, log_path, deadline)
    if marked_nvr != original_nvr:
        return ReleasePlan(spec, marked_macros, marked_nvr, original_nvr)
    try:
        text = rewrite_release(spec.read_text(encoding="utf-8", errors="surrogateescape"), mark)
    except ValueError as exc:
        raise StageFailure(f"The spec file {spec.name} has no Release: line to mark.") from exc
    rewritten_spec.write_text(text, encoding="utf-8", errors="surrogateescape")
    nvr = query_nvr(rewritten_spec, dist_macros(tag), log_path, deadline)
    if nvr == original_nvr:
        raise StageFailure(f"The release of {original_nvr} cannot be marked: its Release: line is unused.")
    return ReleasePlan(rewritten_spec, dist_macros(tag), nvr, original_nvr)


def has_check_section(spec_text: str) -> bool:
    """Whether the spec has a ``%check`` section, i.e. unit tests that the build runs."""
    return re.search(r"^%check\b", spec_text, re.M) is not None
