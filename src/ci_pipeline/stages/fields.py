"""The run's fields a stage puts into paths and commands, each checked by one function first.

A stage receives the run's fields as plain strings (from a message, through the store); every one
that reaches a path, a command or a URL is checked here, and a bad one is a StageFailure that says so.
The fields that name the change (``repo``, ``rev``, ``branch``, ``namespace``) follow the rules of the
message schemas (:func:`~ci_pipeline.messages.identity.field_is_valid`), the rules the trigger
applied before the run existed, so a stage never refuses what the trigger let in for a rule of its own.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ci_pipeline.errors import StageFailure
from ci_pipeline.messages.identity import field_is_valid, field_rule

#: The fields that name a dist-git change, each checked by :func:`checked_field`.
CHANGE_FIELDS = ("repo", "rev", "branch", "namespace")
_NVR = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+~^-]{0,254}")
#: An OSTree commit checksum (``compose_rev``): 64 lowercase hexadecimal digits.
COMMIT_CHECKSUM = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Change:
    """The dist-git change a run builds, every part checked by :func:`checked_field`."""

    repo: str
    rev: str
    branch: str
    namespace: str


def is_valid_field(name: str, value: object) -> bool:
    """Whether ``value`` fits the message schema's rule for the field ``name`` and holds no ``..``.

    The schema's names never are ``.`` or ``..``; a ``..`` inside one is refused too, because the
    value becomes part of a path and a git URL.
    """
    return isinstance(value, str) and field_is_valid(name, value) and ".." not in value


def checked_field(fields: Mapping[str, str], name: str) -> str:
    """The run's field ``name`` (repo, rev, branch, namespace); StageFailure when missing or invalid."""
    value = fields.get(name, "")
    if not is_valid_field(name, value):
        why = "holds '..'" if isinstance(value, str) and ".." in value else f"must be {field_rule(name)}"
        raise StageFailure(f"The field {name}={value!r} is not a valid {name}: it {why}.")
    return value


def validated_change(fields: Mapping[str, str]) -> Change:
    """The change named by the run's fields; StageFailure for a missing or unsafe value."""
    repo, rev, branch, namespace = (checked_field(fields, name) for name in CHANGE_FIELDS)
    return Change(repo=repo, rev=rev, branch=branch, namespace=namespace)


def checked_nvr(fields: Mapping[str, str]) -> str:
    """The change's NVR, refused unless it looks like name-version-release."""
    nvr = fields.get("nvr", "")
    if not _NVR.fullmatch(nvr) or nvr.count("-") < 2:
        raise StageFailure(f"The run's nvr {nvr!r} is not a name-version-release.")
    return nvr


def checked_checksum(fields: Mapping[str, str], key: str = "compose_rev") -> str:
    """An OSTree commit checksum from the run's fields (64 hex digits)."""
    value = fields.get(key, "")
    if not COMMIT_CHECKSUM.fullmatch(value):
        raise StageFailure(f"The run's {key} {value!r} is not an OSTree commit checksum.")
    return value
