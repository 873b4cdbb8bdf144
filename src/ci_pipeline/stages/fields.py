"""The run's fields a stage puts into paths and commands, each checked by one function first.

A stage receives the run's fields as plain strings (from a message, through the store); every one
that reaches a path, a command or a URL is checked here, and a bad one is a StageFailure that says so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ci_pipeline.errors import StageFailure

#: What a field must look like before it reaches a path or a command (the trigger checked it too).
SAFE_FIELDS = {
    "repo": re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,99}"),
    "rev": re.compile(r"[0-9a-f]{7,64}"),
    "branch": re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}"),
    "namespace": re.compile(r"[a-z][a-z0-9_-]{0,39}"),
}
_BRANCH = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_NVR = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+~^-]{0,254}")
_CHECKSUM = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Change:
    """The dist-git change a run builds, every part checked against :data:`SAFE_FIELDS`."""

    repo: str
    rev: str
    branch: str
    namespace: str


def validated_change(fields: Mapping[str, str]) -> Change:
    """The change named by the run's fields; StageFailure for a missing or unsafe value."""
    values = {}
    for name, pattern in SAFE_FIELDS.items():
        value = fields.get(name, "")
        if not isinstance(value, str) or not pattern.fullmatch(value) or ".." in value:
            raise StageFailure(f"The field {name}={value!r} is not a valid {name}; nothing was built.")
        values[name] = value
    return Change(**values)


def checked_branch(fields: Mapping[str, str]) -> str:
    """The run's branch, refused unless it is a plain name safe in a path."""
    branch = fields.get("branch", "")
    if not _BRANCH.fullmatch(branch):
        raise StageFailure(f"The run's branch {branch!r} is not a valid branch name.")
    return branch


def checked_nvr(fields: Mapping[str, str]) -> str:
    """The change's NVR, refused unless it looks like name-version-release."""
    nvr = fields.get("nvr", "")
    if not _NVR.fullmatch(nvr) or nvr.count("-") < 2:
        raise StageFailure(f"The run's nvr {nvr!r} is not a name-version-release.")
    return nvr


def checked_checksum(fields: Mapping[str, str], key: str = "compose_rev") -> str:
    """An OSTree commit checksum from the run's fields (64 hex digits)."""
    value = fields.get(key, "")
    if not _CHECKSUM.fullmatch(value):
        raise StageFailure(f"The run's {key} {value!r} is not an OSTree commit checksum.")
    return value
