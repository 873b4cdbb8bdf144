"""The e2e suite and the disk that carries it into the booted machines.

The suite is the ``e2e/`` folder of the integration test repository (see
:mod:`~ci_pipeline.stages.sti.suite`): every executable regular file directly in it whose name is a
plain file name (``[A-Za-z0-9][A-Za-z0-9._-]*``) is one test, run in name order on every machine by
the image's init; other files (helpers, data) come along untouched. The disk is an ext4 filesystem
labelled :data:`SUITE_LABEL` made with ``mkfs.ext4 -d`` (nothing is mounted on the host)::

    tests/<the e2e folder>     the suite, modes kept
    ci-e2e.env                 E2E_COMPOSE_REV=..., one shell assignment a line, read by the init
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping
from pathlib import Path

from ci_pipeline.errors import StageFailure
from ci_pipeline.stages import base

SUITE_DIR = "e2e"
SUITE_LABEL = "ci-e2e"
ENV_FILE = "ci-e2e.env"
#: Room on the suite disk beyond its files; ext4 needs a few MiB for itself.
FREE_SPACE = 8 * 1024 * 1024
MKFS_TIMEOUT = 120.0
_TEST_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_ENV_NAME = re.compile(r"E2E_[A-Z0-9_]{1,40}")
_ENV_VALUE = re.compile(r"[A-Za-z0-9._:/+~^-]{0,300}")


def find_tests(suite: Path) -> list[str]:
    """The names of the tests in the e2e folder ``suite`` (empty when it is missing), in run order."""
    if not suite.is_dir():
        return []
    return sorted(
        path.name
        for path in suite.iterdir()
        if _TEST_NAME.fullmatch(path.name)
        and path.is_file()
        and not path.is_symlink()
        and path.stat().st_mode & 0o111
    )


def env_file_text(values: Mapping[str, str]) -> str:
    """``ci-e2e.env``: a ``NAME=value`` line each; StageFailure for what a shell would misread."""
    lines = []
    for name, value in sorted(values.items()):
        if not _ENV_NAME.fullmatch(name) or not _ENV_VALUE.fullmatch(value):
            raise StageFailure(f"The e2e setting {name}={value!r} is not safe to hand to the machines.")
        lines.append(f"{name}={value}\n")
    return "".join(lines)


def pack_suite(suite: Path, values: Mapping[str, str], workdir: Path, log_path: Path) -> Path:
    """Write the suite and its settings into a new ext4 image under ``workdir``; return the image."""
    content = workdir / "suite-disk"
    shutil.copytree(suite, content / "tests", symlinks=True)
    (content / ENV_FILE).write_text(env_file_text(values), encoding="utf-8")
    size_kib = max(directory_bytes(content) * 2 + FREE_SPACE, 16 * 1024 * 1024) // 1024
    disk = workdir / "suite.ext4"
    base.run_tool(
        ["mkfs.ext4", "-q", "-F", "-L", SUITE_LABEL, "-d", str(content), str(disk), f"{size_kib}k"],
        log_path,
        timeout=MKFS_TIMEOUT,
        failure="mkfs.ext4 could not write the e2e suite disk",
    )
    shutil.rmtree(content, ignore_errors=True)
    return disk


def directory_bytes(path: Path) -> int:
    """Bytes of the files under ``path``, each rounded up to a 4 KiB block."""
    return sum(-(-item.lstat().st_size // 4096) * 4096 + 4096 for item in path.rglob("*"))
