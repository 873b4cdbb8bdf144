"""Which rpm-ostree treefile keys ci-pipeline's compose applies, and which it does not.

A key the compose does not apply is never passed over in silence: :func:`key_report` names it,
and the compose writes that into its log and its summary. Keys that only describe the commit or
rpm-ostree's own machinery are known and ignored, each with the reason.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

#: Keys whose meaning the compose carries out (``packages-<basearch>`` too).
HONOURED = frozenset(
    {
        "ref",
        "osname",
        "include",
        "arch-include",
        "releasever",
        "variables",
        "repos",
        "packages",
        "exclude-packages",
        "documentation",
        "recommends",
        "units",
        "default-target",
        "default_target",
        "remove-files",
        "remove-from-packages",
        "add-files",
        "postprocess",
        "postprocess-script",
        "etc-group-members",
    }
)

#: Keys that only describe the commit or rpm-ostree's own workings, and why they change nothing here.
IGNORED = {
    "comment": "a comment",
    "automatic_version_prefix": "the compose numbers its commits <releasever>.<n> itself",
    "automatic-version-prefix": "the compose numbers its commits <releasever>.<n> itself",
    "automatic-version-suffix": "the compose numbers its commits <releasever>.<n> itself",
    "mutate-os-release": "os-release is kept as the packages install it",
    "rojig": "rpm-ostree's rojig distribution format is not produced",
    "gpg_key": "commits are not GPG-signed by the compose",
    "gpg-key": "commits are not GPG-signed by the compose",
    "metadata": "metadata for other tools that read the treefile",
    "add-commit-metadata": "commit metadata other than version is not written",
    "repo_metadata": "commit metadata other than version is not written",
    "edition": "the defaults of rpm-ostree's 2014 edition are the compose's own",
    "bootstrap_packages": "deprecated by rpm-ostree; list them in packages",
}

#: Keys the compose honours only with one value (what it does anyway); any other value is not applied.
FIXED_VALUES: dict[str, Any] = {
    "selinux": False,
    "boot-location": "modules",
    "boot_location": "modules",
    "tmp-is-dir": True,
}


def is_arch_packages(key: str) -> bool:
    """``packages-x86_64`` and the like: packages for one base architecture."""
    return key.startswith("packages-") and len(key) > len("packages-")


def key_report(data: Mapping[str, Any]) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """(keys the compose does not apply, (ignored key, why) pairs) of a merged treefile."""
    unapplied: list[str] = []
    ignored: list[tuple[str, str]] = []
    for key in sorted(data):
        if key in HONOURED or is_arch_packages(key):
            continue
        if key in IGNORED:
            ignored.append((key, IGNORED[key]))
        elif not _has_effect(key, data[key]):
            continue
        else:
            unapplied.append(key)
    return tuple(unapplied), tuple(ignored)


def _has_effect(key: str, value: Any) -> bool:
    if key in FIXED_VALUES:
        return bool(value != FIXED_VALUES[key])
    return key != "initramfs-args" or bool(value)


def unapplied_reason(key: str) -> str:
    """Why the compose leaves ``key`` out, in a few words for its log."""
    if key == "initramfs-args":
        return "the initramfs is ci-pipeline's busybox initramfs, which takes no dracut arguments"
    if key in FIXED_VALUES:
        return f"the compose works only as {key}: {json.dumps(FIXED_VALUES[key])} does"
    return "not supported by ci-pipeline's compose"
