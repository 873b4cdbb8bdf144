"""Whether a subject tree holds the packages a test requires, asked of the tree's own rpm database.

The host's ``rpm --root`` reads the database the tree carries: ``/usr/share/rpm`` in an OSTree
deployment, ``/usr/lib/sysimage/rpm`` or ``/var/lib/rpm`` in a classic root. Nothing in the tree has
to run (a minimal tree's ``rpm`` may be a busybox applet that knows no packages).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

#: Where trees keep their rpm database, in the order rpm-ostree and rpm look for it.
RPMDB_PATHS = ("usr/share/rpm", "usr/lib/sysimage/rpm", "var/lib/rpm")
_RPMDB_FILES = ("rpmdb.sqlite", "Packages", "Packages.db")


def rpmdb_path(root: Path) -> str | None:
    """The tree's rpm database directory (absolute inside the tree), or None when it has none."""
    for relative in RPMDB_PATHS:
        directory = root / relative
        holds_db = any((directory / name).is_file() for name in _RPMDB_FILES)
        if directory.is_dir() and not directory.is_symlink() and holds_db:
            return "/" + relative
    return None


def missing_packages(root: Path, packages: Sequence[str], timeout: float = 120.0) -> list[str] | None:
    """The ``packages`` (names, NVRs or provides) the tree's rpm database lacks.

    None when this cannot be told from the host: no ``rpm`` here, or no rpm database in the tree.
    """
    dbpath = rpmdb_path(root)
    rpm = shutil.which("rpm")
    if dbpath is None or rpm is None:
        return None
    base = [rpm, f"--root={root}", f"--dbpath={dbpath}", "-q", "--quiet"]
    # rpm reads its macros from $HOME; an empty one keeps the host's settings out of the tree's query.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(root / "nonexistent"), "LC_ALL": "C"}
    missing = []
    for package in packages:
        found = False
        for argv in ([*base, "--", package], [*base, "--whatprovides", "--", package]):
            done = subprocess.run(argv, env=env, capture_output=True, timeout=timeout, check=False)
            if done.returncode == 0:
                found = True
                break
        if not found:
            missing.append(package)
    return missing
