"""The test frameworks of the shipped ``standard-test-*`` roles: what a ``tests:`` entry means in each.

Fedora's standard-test-roles define, per role, how an entry of ``tests:`` becomes a command and what
the subject must have to run it (its harness). A string entry is a shell command (``basic``), a
script (``scripts``), a directory holding ``runtest.sh`` (``beakerlib``), a directory holding an
RHTS ``Makefile`` or ``runtest.sh`` (``rhts``) or an avocado test reference (``avocado``); a mapping
``name: {dir: D, run: C}`` is the command C run in D in every framework. A framework whose harness is
missing on the subject makes each of its tests an ERROR naming the harness, never a FAILURE.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass
from typing import Any

#: Output that fails a test even when it exited 0 (the harness reports the result in its output).
_BEAKERLIB_FAILED = re.compile(r"OVERALL RESULT: FAIL|::\s+\[\s*(FAIL|ERROR)\s*\]\s+::")
_RHTS_FAILED = re.compile(r"^(?:Result: FAIL|.*rhts-report-result \S+ FAIL\b)", re.M)
_AVOCADO_FAILED = re.compile(r"^RESULTS\s*:.*(?:ERROR|FAIL)\s+[1-9]", re.M)


class RoleTestsError(ValueError):
    """The role's ``tests:`` (or ``repositories:``) cannot be read; the message says why."""


@dataclass(frozen=True)
class RoleTest:
    """One test of a role: its name, the directory it runs in (relative) and its shell command."""

    name: str
    directory: str
    command: str


@dataclass(frozen=True)
class Framework:
    """How a role runs its tests and which harness the subject needs for them."""

    name: str
    role: str
    #: What the subject lacks when ``probe`` fails, as a user would install it; empty: nothing needed.
    harness: str = ""
    #: A shell command that exits 0 when the harness is on the subject.
    probe: str = "true"
    failed_output: re.Pattern[str] | None = None

    def entry(self, text: str) -> RoleTest:
        """The test a string entry of ``tests:`` stands for."""
        if self.name == "basic":
            return RoleTest(text, ".", text)
        if self.name == "scripts":
            folder, script = posixpath.split(text)
            return RoleTest(text, folder or ".", "./" + shlex.quote(script))
        if self.name == "avocado":
            return RoleTest(text, ".", self.default_command(text))
        return RoleTest(text, text, self.default_command(text))

    def default_command(self, name: str) -> str:
        """The command of a mapping entry that gives no ``run``; empty where the framework has none."""
        if self.name == "beakerlib":
            return "if command -v bash >/dev/null 2>&1; then bash ./runtest.sh; else /bin/sh ./runtest.sh; fi"
        if self.name == "rhts":
            return "if [ -f Makefile ]; then make run; else sh ./runtest.sh; fi"
        if self.name == "avocado":
            return f"avocado run --job-results-dir ./avocado-results -- {shlex.quote(name)}"
        return ""

    def passed(self, returncode: int, output: str) -> bool:
        """Whether a test passed: exit status 0 and nothing in its output that says otherwise."""
        return returncode == 0 and not (self.failed_output and self.failed_output.search(output))


FRAMEWORKS = {
    "basic": Framework("basic", "standard-test-basic"),
    "scripts": Framework("scripts", "standard-test-scripts"),
    "beakerlib": Framework(
        "beakerlib",
        "standard-test-beakerlib",
        harness="beakerlib",
        probe="test -f /usr/share/beakerlib/beakerlib.sh",
        failed_output=_BEAKERLIB_FAILED,
    ),
    "rhts": Framework(
        "rhts",
        "standard-test-rhts",
        harness="restraint-rhts (rhts-environment.sh)",
        probe="test -f /usr/share/rhts/lib/rhts-environment.sh || command -v rhts-run-simple-test",
        failed_output=_RHTS_FAILED,
    ),
    "avocado": Framework(
        "avocado",
        "standard-test-avocado",
        harness="avocado",
        probe="command -v avocado",
        failed_output=_AVOCADO_FAILED,
    ),
}


def role_tests(tests: Any, framework: Framework) -> list[RoleTest]:
    """The tests of a role's ``tests:`` list; RoleTestsError when an entry is neither form."""
    if not isinstance(tests, list):
        raise RoleTestsError("The role's 'tests' is not a list.")
    entries = []
    for entry in tests:
        if isinstance(entry, str) and entry.strip():
            entries.append(framework.entry(entry.strip()))
        elif isinstance(entry, dict) and len(entry) == 1:
            name, spec = next(iter(entry.items()))
            if isinstance(spec, str) and framework.name == "basic":
                # name: command, a short form real playbooks use.
                entries.append(RoleTest(str(name), ".", spec))
                continue
            if not isinstance(spec, dict):
                raise RoleTestsError(f"The test {name!r} is not a mapping with 'dir' and 'run'.")
            run = str(spec.get("run") or framework.default_command(str(name)))
            if not run:
                raise RoleTestsError(f"The test {name!r} has no 'run' command.")
            entries.append(RoleTest(str(name), relative_dir(str(spec.get("dir", "."))), run))
        else:
            raise RoleTestsError(f"The test entry {entry!r} is neither a command nor name: {{dir, run}}.")
    return entries


def relative_dir(text: str) -> str:
    """A directory below the tests' directory; RoleTestsError for an absolute path or one that climbs out."""
    path = posixpath.normpath(text.strip() or ".")
    if path.startswith("/") or path == ".." or path.startswith("../"):
        raise RoleTestsError(f"The directory {text!r} is not inside the tests' directory.")
    return path


@dataclass(frozen=True)
class Repository:
    """A git repository a role clones beside the tests: ``{repo: URL, dest: DIR, version: REF}``."""

    url: str
    dest: str
    version: str


_URL = re.compile(r"(?:(?:file|https?|git|ssh)://|/)[^\s]{1,500}")
_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,199}")


def repositories(value: Any) -> list[Repository]:
    """The role's ``repositories:`` checked: URL, a destination inside the tests, a valid ref."""
    if value in (None, "", []):
        return []
    if not isinstance(value, list):
        raise RoleTestsError("The role's 'repositories' is not a list.")
    found = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("repo"), str):
            raise RoleTestsError(f"The repository {item!r} is not a mapping with 'repo' and 'dest'.")
        url = item["repo"].strip()
        if not _URL.fullmatch(url):
            raise RoleTestsError(f"The repository URL {url!r} is not a git URL or an absolute path.")
        default_dest = posixpath.basename(url.rstrip("/")).removesuffix(".git") or "repository"
        dest = relative_dir(str(item.get("dest") or default_dest))
        if dest == ".":
            raise RoleTestsError(f"The repository {url} has no directory of its own ('dest').")
        version = str(item.get("version") or "HEAD")
        if not _REF.fullmatch(version) or ".." in version or version.endswith((".lock", "/")):
            raise RoleTestsError(f"The repository {url} version {version!r} is not a valid git ref.")
        found.append(Repository(url, dest, version))
    return found
