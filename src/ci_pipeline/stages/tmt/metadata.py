"""A dist-git checkout's tmt metadata, read with fmf: whether it has plans, and what its tests need.

A checkout has tmt tests when it holds ``.fmf/version`` and at least one plan (a node with
``execute`` or ``discover``). What the tests need installed in the subject is every test's
``require`` and ``recommend`` and every plan's ``prepare`` steps ``how: install`` packages: the
subject has no network, so they are installed into it before tmt runs. Requirements that are not
package names or file paths (a beakerlib library, a URL) are left to tmt, which reports them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fmf

from ci_pipeline.errors import StageFailure

#: A package name or a file path dnf can install by: nothing a shell or dnf reads as an option.
_INSTALLABLE = re.compile(r"(?:/[A-Za-z0-9._+/-]{1,255}|[A-Za-z0-9][A-Za-z0-9._+-]{0,199})")


@dataclass(frozen=True)
class TmtMetadata:
    """A checkout's tmt plans and what their tests need installed."""

    plans: tuple[str, ...]
    requirements: tuple[str, ...]


def has_tmt_metadata(checkout: Path) -> bool:
    """Whether the checkout is an fmf tree (``.fmf/version``): the mark of tmt metadata."""
    return (checkout / ".fmf" / "version").is_file()


def checkout_plans(checkout: Path) -> TmtMetadata:
    """The checkout's tmt metadata; no plans and no requirements when it is not an fmf tree."""
    return read_metadata(checkout) if has_tmt_metadata(checkout) else TmtMetadata((), ())


def read_metadata(checkout: Path) -> TmtMetadata:
    """The plans and requirements of the checkout's fmf tree; StageFailure when it cannot be read."""
    try:
        tree = fmf.Tree(str(checkout))
        nodes = [(str(node.name), dict(node.data)) for node in tree.climb()]
    except fmf.utils.GeneralError as exc:
        raise StageFailure(f"The tmt metadata cannot be read: {str(exc).splitlines()[0][:500]}") from exc
    plans = tuple(name for name, data in nodes if "execute" in data or "discover" in data)
    needed: list[str] = []
    for name, data in nodes:
        if name in plans:
            needed += _plan_packages(data.get("prepare"))
        elif "test" in data:
            needed += _words(data.get("require")) + _words(data.get("recommend"))
    return TmtMetadata(plans, tuple(dict.fromkeys(word for word in needed if _INSTALLABLE.fullmatch(word))))


def _plan_packages(prepare: Any) -> list[str]:
    steps = prepare if isinstance(prepare, list) else [prepare] if isinstance(prepare, dict) else []
    found: list[str] = []
    for step in steps:
        if isinstance(step, dict) and step.get("how") == "install":
            found += _words(step.get("package"))
    return found


def _words(value: Any) -> list[str]:
    """Requirement names from a string, a list of strings, or a list mixing them with references."""
    items: Iterable[Any] = value if isinstance(value, list) else [value]
    return [item.strip() for item in items if isinstance(item, str) and item.strip()]
