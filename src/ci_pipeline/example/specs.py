"""Edits of RPM spec text that a packager makes by hand: release bumps, changelog entries, patches.

Only the simple spec shapes of the example OS are supported (``Release: N%{?dist}``, one
``Source0:``, ``%autosetup`` applying every ``PatchN:``); anything else raises StageFailure.
"""

from __future__ import annotations

import re
from datetime import date

from ci_pipeline.errors import StageFailure

MAINTAINER = "CI Example Maintainer <ci-example@example.org>"

_RELEASE = re.compile(r"^(Release:\s*)(\d+)(%\{\?dist\}\s*)$", re.MULTILINE)
_VERSION = re.compile(r"^Version:\s*(\S+)\s*$", re.MULTILINE)
_SOURCE0 = re.compile(r"^Source0:.*$", re.MULTILINE)
_PATCH = re.compile(r"^Patch(\d+):", re.MULTILINE)
_CHANGELOG = "%changelog\n"
# English names, whatever the locale: rpm only accepts these in %changelog.
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def release_of(spec: str) -> int:
    """The number in the spec's ``Release: N%{?dist}`` line."""
    match = _RELEASE.search(spec)
    if match is None:
        raise StageFailure("The spec has no 'Release: N%{?dist}' line to bump.")
    return int(match[2])


def version_of(spec: str) -> str:
    """The spec's ``Version:``."""
    match = _VERSION.search(spec)
    if match is None:
        raise StageFailure("The spec has no 'Version:' line.")
    return match[1]


def with_release(spec: str, release: int) -> str:
    """The spec with ``Release:`` set to ``release`` (keeping ``%{?dist}``)."""
    release_of(spec)
    return _RELEASE.sub(lambda m: f"{m[1]}{release}{m[3]}", spec, count=1)


def changelog_heading(when: date, version: str, release: int) -> str:
    """A ``%changelog`` entry heading such as ``* Mon Jun 05 2017 Name <mail> - 1.2-1``."""
    day = _DAYS[when.weekday()]
    month = _MONTHS[when.month - 1]
    return f"* {day} {month} {when.day:02d} {when.year} {MAINTAINER} - {version}-{release}"


def add_changelog_entry(spec: str, when: date, text: str) -> str:
    """The spec with a new top ``%changelog`` entry for its current version and release."""
    if _CHANGELOG not in spec:
        raise StageFailure("The spec has no %changelog section.")
    heading = changelog_heading(when, version_of(spec), release_of(spec))
    entry = f"{heading}\n- {text}\n\n"
    return spec.replace(_CHANGELOG, _CHANGELOG + entry, 1)


def bump(spec: str, when: date, text: str) -> str:
    """The spec with its release raised by one and a changelog entry saying why."""
    return add_changelog_entry(with_release(spec, release_of(spec) + 1), when, text)


def drop_top_changelog_entry(spec: str) -> str:
    """The spec without its newest changelog entry (to recreate an older revision)."""
    head, found, entries = spec.partition(_CHANGELOG)
    if not found:
        raise StageFailure("The spec has no %changelog section.")
    _, separator, rest = entries.partition("\n\n")
    if not separator:
        raise StageFailure("The spec's %changelog has a single entry; there is no older one.")
    return head + _CHANGELOG + rest


def top_changelog_text(spec: str) -> str:
    """The text of the newest changelog entry, without its heading and dashes."""
    _, _, entries = spec.partition(_CHANGELOG)
    lines = entries.split("\n\n", 1)[0].splitlines()[1:]
    return " ".join(line.lstrip("- ").strip() for line in lines)


def add_patch(spec: str, patch_name: str) -> str:
    """The spec with one more ``PatchN:`` line (after Source0 or the last patch)."""
    numbers = [int(n) for n in _PATCH.findall(spec)]
    number = max(numbers) + 1 if numbers else 0
    last = list(re.finditer(r"^Patch\d+:.*$", spec, re.MULTILINE)) or list(_SOURCE0.finditer(spec))
    if not last:
        raise StageFailure("The spec has no Source0: line to put a patch after.")
    if "%autosetup -p1" not in spec:
        raise StageFailure("The spec does not apply its patches with '%autosetup -p1'.")
    end = last[-1].end()
    return f"{spec[:end]}\n{f'Patch{number}:':<16}{patch_name}{spec[end:]}"
