"""Per-run options: what a person may ask of one run, and how each value must look.

``ci-pipeline trigger --option KEY=VALUE`` (and ``--force-image``) sets them; the engine hands them to
every stage as ``StageContext.options``. Unknown keys and malformed values are refused before a run
is made, because stages pass some of them to programs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from ci_pipeline.errors import UsageError

_ACCEL = r"kvm|tcg"
_GIT_URL = r"(https?|file|git|ssh)://[A-Za-z0-9._~:/@%+-]+"
_GIT_REF = r"[A-Za-z0-9][A-Za-z0-9._/-]{0,199}"

#: Every option a run can take: its key, the pattern its value must match, and what it does.
RUN_OPTIONS: dict[str, tuple[str, str]] = {
    "force_image": (r"true|false|yes|no|1|0", "build an image even if the branch's interval has not passed"),
    "smoke_accel": (_ACCEL, "boot the smoke test with this accelerator instead of probing KVM"),
    "integration_accel": (
        _ACCEL,
        "boot the integration tests' machine with this accelerator instead of probing KVM",
    ),
    "e2e_accel": (_ACCEL, "boot the e2e machines with this accelerator instead of probing KVM"),
    "e2e_machines": (r"[1-9]|1[0-6]", "how many machines the e2e stage boots (1 to 16)"),
    "integration_tests_url": (_GIT_URL, "the git repository of the integration and e2e suites"),
    "integration_tests_ref": (_GIT_REF, "the branch or tag of that repository"),
    "mock_config": (r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", "build in mock with this configuration"),
    "container_subject": (
        r"(https?|file)://[A-Za-z0-9._~:/@%+-]+",
        "a container's root filesystem tarball (docker or podman export) for the container-tagged tests",
    ),
}


def run_options(pairs: Iterable[str], force_image: bool = False) -> dict[str, str]:
    """The options given as ``KEY=VALUE`` words, checked; UsageError names the first bad one."""
    options: dict[str, str] = {"force_image": "true"} if force_image else {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise UsageError(f"The option '{pair}' is not KEY=VALUE.")
        options[key.strip()] = value.strip()
    return checked_options(options)


def checked_options(options: Mapping[str, str]) -> dict[str, str]:
    """``options`` when every key is known and every value matches its pattern."""
    for key, value in options.items():
        if key not in RUN_OPTIONS:
            known = ", ".join(sorted(RUN_OPTIONS))
            raise UsageError(f"The run option '{key}' is unknown; known options: {known}.")
        pattern, _ = RUN_OPTIONS[key]
        if not re.fullmatch(pattern, value):
            raise UsageError(f"The run option {key}={value!r} is not valid (expected {pattern}).")
    return dict(options)


def forces_image(options: Mapping[str, object]) -> bool:
    """Whether a run's options ask for an image even when its branch's interval has not passed."""
    return str(options.get("force_image", "")).lower() in ("1", "true", "yes")
