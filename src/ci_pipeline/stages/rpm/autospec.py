"""Specs that use rpmautospec (``Release: %autorelease``, ``%autochangelog``), expanded as Fedora does.

Fedora's build system hands such a spec to rpmautospec before it builds the source package:
``%autorelease`` gets the number of commits since the last change of the version (plus its ``-b``
base, ``-e`` extra version, ``-s`` snapshot, ``-p`` pre-release and ``-n`` no-dist options), and
``%autochangelog`` becomes one entry per commit, the ``changelog`` file holding the entries from
before the package used rpmautospec. The build stage does the same with rpmautospec's own library
on the dist-git checkout, then marks the release like any other (``1.2.fc26`` -> ``1.2.200.591b0d2.fc26``).

rpmautospec reads the history with pygit2 and evaluates the spec of each version with the system's
librpm (through ctypes), so it works on a Debian host with Debian's ``rpm`` package.
"""

from __future__ import annotations

from pathlib import Path

from rpmautospec_core import check_specfile_features

from ci_pipeline.errors import InfrastructureError, StageFailure
from ci_pipeline.logcontext import get_logger

logger = get_logger(__name__)


def uses_rpmautospec(spec: Path) -> bool:
    """Whether ``spec`` uses ``%autorelease`` or ``%autochangelog`` and has not been expanded yet."""
    features = check_specfile_features(spec, enable_caching=False)
    return not features.is_processed and (features.has_autorelease or features.has_autochangelog)


def expand_autospec(spec: Path, target: Path) -> Path:
    """The spec to build: ``target``, holding ``spec`` expanded from its dist-git history, or ``spec``.

    ``spec`` lies in a dist-git checkout at the commit to build. A spec that does not use
    rpmautospec is returned as it is. StageFailure when rpmautospec cannot evaluate the spec (at
    this commit or an earlier one); InfrastructureError when rpmautospec cannot run on this host.
    """
    if not uses_rpmautospec(spec):
        return spec
    try:
        # Imported here, not at the top: rpmautospec loads librpm when imported, which only these specs need.
        from pygit2 import GitError
        from rpmautospec import process_distgit
        from rpmautospec.exc import RpmautospecException
    except (ImportError, OSError) as exc:
        raise InfrastructureError(f"rpmautospec cannot be used on this host: {exc}") from exc
    logger.info("Expanding %%autorelease and %%autochangelog of %s from its dist-git history", spec.name)
    try:
        process_distgit(spec, target, enable_caching=False)
    except RpmautospecException as exc:
        raise StageFailure(f"rpmautospec cannot expand {spec.name}: {exc}") from exc
    except (GitError, KeyError, ValueError) as exc:
        raise StageFailure(f"rpmautospec cannot read the dist-git history of {spec.name}: {exc}") from exc
    return target
