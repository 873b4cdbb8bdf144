"""Read an rpm-ostree treefile (JSON form): the ref, the repos and the packages of the OS.

Only the keys the compose needs are read (``ref``, ``repos``, ``packages``, ``osname``,
``include``); the others are left to rpm-ostree where it is installed. The repos are named by the
``[id]`` of ``.repo`` files beside the treefile, as rpm-ostree does, or in a ``repos/`` directory
beside it (the example OS's layout).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ci_pipeline.errors import StageFailure
from ci_pipeline.messages.identity import field_is_valid, field_rule

DEFAULT_OSNAME = "fedora-atomic"
_MAX_INCLUDES = 8
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._+:-]*")


@dataclass(frozen=True)
class Treefile:
    """What a compose takes from a treefile."""

    path: Path
    ref: str
    osname: str
    repos: tuple[str, ...]
    packages: tuple[str, ...]

    @property
    def repos_dirs(self) -> tuple[Path, ...]:
        """The directories whose ``.repo`` files define :attr:`repos`: beside the treefile, and ``repos/``."""
        return (self.path.parent, self.path.parent / "repos")


def parse_treefile(data: Any, path: Path) -> Treefile:
    """Check one treefile's JSON value (without includes) and return what the compose needs."""
    if not isinstance(data, dict):
        raise StageFailure(f"The treefile {path} is not a JSON object.")
    ref = data.get("ref")
    if not isinstance(ref, str) or not field_is_valid("ref", ref):
        raise StageFailure(f"The treefile {path} has no valid 'ref': it must be {field_rule('ref')}.")
    osname = data.get("osname", DEFAULT_OSNAME)
    if not isinstance(osname, str) or not _NAME.fullmatch(osname):
        raise StageFailure(f"The treefile {path} has an invalid 'osname'.")
    return Treefile(
        path=path,
        ref=ref,
        osname=osname,
        repos=_names(data.get("repos", []), "repos", path),
        packages=_names(data.get("packages", []), "packages", path),
    )


def _names(value: Any, key: str, path: Path) -> tuple[str, ...]:
    # rpm-ostree lets one entry hold several names separated by spaces.
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise StageFailure(f"The treefile {path} key '{key}' is not a list of strings.")
    names = tuple(word for item in value for word in item.split())
    bad = [name for name in names if not _NAME.fullmatch(name)]
    if bad:
        raise StageFailure(f"The treefile {path} key '{key}' holds invalid names: {', '.join(bad)}.")
    return names


def load_treefile(path: Path) -> Treefile:
    """Read a treefile and the treefiles it includes; the including file's keys win."""
    merged = _load_merged(path.resolve(), depth=0)
    return parse_treefile(merged, path.resolve())


def _load_merged(path: Path, depth: int) -> dict[str, Any]:
    if depth > _MAX_INCLUDES:
        raise StageFailure(f"The treefile {path} includes too deeply (a loop?).")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise StageFailure(f"The treefile {path} does not exist; set trigger.treefile.") from exc
    except (OSError, ValueError) as exc:
        raise StageFailure(f"The treefile {path} cannot be read as JSON: {exc}.") from exc
    if not isinstance(data, dict):
        raise StageFailure(f"The treefile {path} is not a JSON object.")
    include = data.pop("include", None)
    if include is None:
        return data
    if not isinstance(include, str):
        raise StageFailure(f"The treefile {path} key 'include' is not a file name.")
    base = _load_merged((path.parent / include).resolve(), depth + 1)
    # Lists add up, as in rpm-ostree; scalars of the including file win.
    for key, value in data.items():
        if isinstance(value, list) and isinstance(base.get(key), list):
            base[key] = base[key] + value
        else:
            base[key] = value
    return base
