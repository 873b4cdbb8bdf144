"""Dist-git branches and the release each one builds for: the one owner of that rule.

The trigger's default branch rule (:data:`DEFAULT_BRANCHES`), the build's dist tag and macros, and
the compose's ``--releasever`` all come from here:

==========================  ================  ==============  ===============================
branch                      dist tag          releasever      macros besides ``dist``
==========================  ================  ==============  ===============================
``rawhide``, ``master``     ``.fc<rawhide>``  ``<rawhide>``   ``fedora``
``fNN``                     ``.fcNN``         ``NN``          ``fedora``
``epelN``, ``epelN-next``   ``.elN``          ``N``           ``rhel``, ``epel``
``cNs`` (CentOS Stream)     ``.elN``          ``N``           ``rhel``, ``centos``
==========================  ================  ==============  ===============================

``<rawhide>`` is ``[pipeline] rawhide``: Fedora's development branch has been ``rawhide`` in
dist-git since 2020 and ``master`` before. The older spellings ``main`` (rawhide) and ``elN`` (EPEL 5
and 6) get their dist tags too, although the default rule does not take them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

#: The branches a push must be on for the trigger to take it, unless ``[trigger] branches`` says otherwise.
DEFAULT_BRANCHES = r"^(rawhide|master|f[0-9]+|epel[0-9]+(-next)?|c[0-9]+s)$"

RAWHIDE_BRANCHES = frozenset({"rawhide", "master", "main"})
_FEDORA = re.compile(r"f([0-9]+)")
_EPEL = re.compile(r"(?:epel|el)([0-9]+)(?:-next)?")
_CENTOS_STREAM = re.compile(r"c([0-9]+)s")


class Family(StrEnum):
    """Which distribution a branch builds for."""

    FEDORA = "fedora"
    EPEL = "epel"
    CENTOS_STREAM = "centos"


@dataclass(frozen=True)
class BranchRelease:
    """The release a dist-git branch builds for: ``f26`` is Fedora 26, ``c9s`` is CentOS Stream 9."""

    family: Family
    number: int

    @property
    def dist_tag(self) -> str:
        """The dist tag of its builds: ``.fc26``, or ``.el9`` for EPEL and CentOS Stream."""
        prefix = "fc" if self.family is Family.FEDORA else "el"
        return f".{prefix}{self.number}"

    @property
    def releasever(self) -> str:
        """What dnf's ``--releasever`` is for this release."""
        return str(self.number)

    def macros(self) -> dict[str, str]:
        """The macros its build roots define (``dist``, ``fedora`` or ``rhel`` ...), as Fedora's do."""
        number = str(self.number)
        if self.family is Family.FEDORA:
            return {"dist": self.dist_tag, "fedora": number}
        return {"dist": self.dist_tag, "rhel": number, self.family.value: number}


def branch_release(branch: str, rawhide: int) -> BranchRelease:
    """The release ``branch`` builds for; ValueError for a branch that maps to none."""
    if branch in RAWHIDE_BRANCHES:
        return BranchRelease(Family.FEDORA, rawhide)
    if fedora := _FEDORA.fullmatch(branch):
        return BranchRelease(Family.FEDORA, int(fedora.group(1)))
    if epel := _EPEL.fullmatch(branch):
        return BranchRelease(Family.EPEL, int(epel.group(1)))
    if stream := _CENTOS_STREAM.fullmatch(branch):
        return BranchRelease(Family.CENTOS_STREAM, int(stream.group(1)))
    raise ValueError(f"the branch {branch!r} has no known dist tag")


def dist_tag(branch: str, rawhide: int) -> str:
    """The dist tag of a dist-git branch (``f26`` -> ``.fc26``); ValueError for a branch without one."""
    return branch_release(branch, rawhide).dist_tag


_DIST_TAG_IN_RELEASE = re.compile(r"\.(fc|el)([0-9]+)(?:[._~^+].*)?$")


def branch_of_release(release: str, rawhide: int) -> str | None:
    """The dist-git branch a build's release came from, by its dist tag (``1.fc26`` -> ``f26``;
    ``.fc<rawhide>`` -> ``rawhide``; ``.elN`` -> ``epelN``), or None when it carries none."""
    found = _DIST_TAG_IN_RELEASE.search(release)
    if found is None:
        return None
    number = int(found.group(2))
    if found.group(1) == "el":
        return f"epel{number}"
    return "rawhide" if number == rawhide else f"f{number}"
