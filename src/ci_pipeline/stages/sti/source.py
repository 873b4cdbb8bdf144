"""The ``standard-test-source`` role's work: the package's sources, unpacked and patched, beside the tests.

As Fedora's role does, the spec of the dist-git checkout (the directory above ``tests/``) goes
through ``rpmbuild -bp`` with the checkout as its source directory (the stage has fetched the
lookaside sources into it), and the tree ``%prep`` made becomes ``srcdir`` (``tests/source``), which
the test roles then copy to the subject with the tests. Build dependencies are not needed: only
``%prep`` runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

PREP_TIMEOUT = 1800
#: rpmautospec's macros, for a host without it: %prep does not depend on the release.
FALLBACK_MACROS = ("autorelease 1", "autochangelog %{nil}")


class SourceError(RuntimeError):
    """The sources cannot be prepared; the message says why."""


def find_spec(tests_dir: Path) -> Path:
    """The one spec of the dist-git checkout that holds ``tests_dir``."""
    specs = sorted(p for p in tests_dir.resolve().parent.glob("*.spec") if p.is_file() and not p.is_symlink())
    if len(specs) != 1:
        found = ", ".join(p.name for p in specs) or "none"
        raise SourceError(f"standard-test-source needs the one spec beside tests/ (found: {found}).")
    return specs[0]


def prepare_source(tests_dir: Path, srcdir: Path) -> str:
    """Unpack and patch the package's sources into ``srcdir``; rpmbuild's output."""
    spec = find_spec(tests_dir)
    with tempfile.TemporaryDirectory(prefix="sti-source-") as scratch:
        top = Path(scratch)
        home = top / "home"
        home.mkdir()
        argv = [
            "rpmbuild",
            "-bp",
            "--nodeps",
            f"--define=_topdir {top}",
            f"--define=_sourcedir {spec.parent}",
            f"--define=_builddir {top / 'BUILD'}",
            *(f"--define={m}" for m in FALLBACK_MACROS if not _defined(m.split()[0])),
            str(spec),
        ]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LC_ALL": "C"}
        try:
            done = subprocess.run(
                argv, env=env, capture_output=True, text=True, timeout=PREP_TIMEOUT, check=False
            )
        except FileNotFoundError as exc:
            raise SourceError("rpmbuild is not installed on the test controller; install rpm-build.") from exc
        except subprocess.TimeoutExpired as exc:
            raise SourceError(f"rpmbuild -bp {spec.name} did not finish within {PREP_TIMEOUT} s.") from exc
        output = done.stdout + done.stderr
        if done.returncode != 0:
            raise SourceError(f"rpmbuild -bp {spec.name} failed: {output.strip()[-800:]}")
        built = top / "BUILD"
        trees = [p for p in built.iterdir() if p.is_dir()] if built.is_dir() else []
        # %setup makes one directory (name-version); without it %prep's files are the sources.
        prepared = trees[0] if len(trees) == 1 else built
        shutil.rmtree(srcdir, ignore_errors=True)
        srcdir.parent.mkdir(parents=True, exist_ok=True)
        if prepared.is_dir():
            shutil.move(str(prepared), str(srcdir))
        else:
            srcdir.mkdir()
    return output


def _defined(macro: str) -> bool:
    try:
        done = subprocess.run(
            ["rpm", "--eval", f"%{{?{macro}:yes}}"], capture_output=True, text=True, check=False, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.stdout.strip() == "yes"
