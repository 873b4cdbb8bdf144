"""The yum repositories a treefile names: ``[id]`` sections of the ``.repo`` files beside it.

rpm-ostree reads them as dnf does: an INI file per name ending in ``.repo``, a section per repo id
with ``baseurl`` (one or more URLs), ``metalink`` or ``mirrorlist``, ``enabled`` and ``gpgcheck``;
``$basearch`` and ``$releasever`` (also written ``${...}``) are substituted in every value.
"""

from __future__ import annotations

import configparser
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ci_pipeline.errors import ConfigError

_DNF_VARIABLE = re.compile(r"\$(\{)?(basearch|releasever|arch)(?(1)\})")
_URL = re.compile(r"(file|https?)://[^\s,]+")
_TRUE = frozenset({"1", "yes", "true", "on"})


@dataclass(frozen=True)
class Repo:
    """One yum repository: its id and, after substitution, where its metadata lies."""

    id: str
    baseurl: str | None
    baseurls: tuple[str, ...] = ()
    metalink: str | None = None
    mirrorlist: str | None = None
    enabled: bool = True
    gpgcheck: bool = False
    file: Path | None = None


def substitute_dnf_variables(value: str, variables: Mapping[str, str]) -> str:
    """``$basearch``/``${releasever}`` in a repo file's value; a variable with no value stays as written."""
    return _DNF_VARIABLE.sub(lambda m: variables.get(m.group(2), m.group(0)), value)


def read_repo_files(directories: Iterable[Path], variables: Mapping[str, str]) -> dict[str, Repo]:
    """Every repo defined in the ``*.repo`` files of ``directories``, by id; the first definition wins."""
    repos: dict[str, Repo] = {}
    for directory in directories:
        for repo_file in sorted(directory.glob("*.repo")):
            for repo in _read_repo_file(repo_file, variables):
                repos.setdefault(repo.id, repo)
    return repos


def _read_repo_file(path: Path, variables: Mapping[str, str]) -> list[Repo]:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        raise ConfigError(f"The repo file {path} cannot be read: {exc}.") from exc
    repos = []
    for section in parser.sections():
        values = {key: substitute_dnf_variables(value, variables) for key, value in parser.items(section)}
        baseurls = tuple(_urls(values.get("baseurl", ""), path, section, "baseurl"))
        metalink = _single_url(values.get("metalink", ""), path, section, "metalink")
        mirrorlist = _single_url(values.get("mirrorlist", ""), path, section, "mirrorlist")
        repos.append(
            Repo(
                id=section,
                baseurl=baseurls[0] if baseurls else None,
                baseurls=baseurls,
                metalink=metalink,
                mirrorlist=mirrorlist,
                enabled=values.get("enabled", "1").strip().lower() in _TRUE,
                gpgcheck=values.get("gpgcheck", "0").strip().lower() in _TRUE,
                file=path,
            )
        )
    return repos


def _urls(value: str, path: Path, section: str, key: str) -> list[str]:
    # dnf splits a list of base URLs on whitespace and commas.
    urls = [word for word in re.split(r"[\s,]+", value.strip()) if word]
    bad = [url for url in urls if not _URL.fullmatch(url)]
    if bad:
        raise ConfigError(
            f"The repo [{section}] in {path} has a {key} that is not a file://, http:// or https:// URL: "
            f"{bad[0][:200]!r}."
        )
    return urls


def _single_url(value: str, path: Path, section: str, key: str) -> str | None:
    urls = _urls(value, path, section, key)
    return urls[0] if urls else None
