"""Read an rpm-ostree treefile: the one reader the trigger and the compose share.

- JSON, or YAML for a name ending in ``.yaml``/``.yml``, as rpm-ostree decides;
- ``include`` (a name or a list of names, relative to the including file, recursive) and
  ``arch-include`` (per base architecture), merged as rpm-ostree merges: lists concatenate (the
  included file's first; of several includes, the later one's first), maps merge, and the
  including file's other values win. Including a file twice, or in a cycle, is an error;
- ``packages-<basearch>`` joins ``packages`` for the compose's architecture;
- ``${basearch}``, ``${releasever}`` and the treefile's ``variables`` are substituted in ``ref``
  and ``repos``; ``releasever`` is the treefile's own, else the branch's (see
  :func:`ci_pipeline.branches.branch_release`);
- ``repos`` name ``[id]`` sections of the ``.repo`` files beside the treefile (or in ``repos/``
  beside it): :attr:`Treefile.repos` gives each repo's id and base URL (:mod:`.treefile_repos`).

Which keys the compose applies is :mod:`.treefile_keys`. Every mistake is a :class:`ConfigError`
naming the file and the key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ci_pipeline.errors import ConfigError
from ci_pipeline.messages.identity import field_is_valid, field_rule
from ci_pipeline.treefile_keys import is_arch_packages, key_report
from ci_pipeline.treefile_repos import Repo, read_repo_files

DEFAULT_OSNAME = "fedora-atomic"
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._+:-]*")
#: A package or a provide (``/usr/bin/vi``, ``pkgconfig(glib-2.0)``), optionally with a version query.
_PACKAGE = re.compile(r"[A-Za-z0-9_/][A-Za-z0-9._+:/()-]*( (<|<=|=|>=|>) [A-Za-z0-9._+:~^-]+)?")
_UNIT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9:_.@\\-]*\.[a-z]+")
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_MAX_FILES = 256


@dataclass(frozen=True)
class Treefile:
    """A treefile with its includes merged and its variables substituted."""

    path: Path
    ref: str
    osname: str
    basearch: str
    releasever: str | None
    repos: tuple[Repo, ...]
    packages: tuple[str, ...]
    exclude_packages: tuple[str, ...] = ()
    units: tuple[str, ...] = ()
    default_target: str | None = None
    remove_files: tuple[str, ...] = ()
    remove_from_packages: tuple[tuple[str, tuple[str, ...]], ...] = ()
    add_files: tuple[tuple[Path, str], ...] = ()
    postprocess: tuple[str, ...] = ()
    postprocess_script: Path | None = None
    etc_group_members: tuple[str, ...] = ()
    documentation: bool = True
    recommends: bool = True
    #: Keys present that the compose does not apply (unknown ones included).
    unapplied: tuple[str, ...] = ()
    #: Metadata-only keys present, each with why it changes nothing.
    ignored: tuple[tuple[str, str], ...] = ()
    initramfs_args: tuple[str, ...] = ()

    @property
    def repos_dirs(self) -> tuple[Path, ...]:
        """The directories whose ``.repo`` files define :attr:`repos`: beside the treefile, and ``repos/``."""
        return (self.path.parent, self.path.parent / "repos")

    @property
    def repo_ids(self) -> tuple[str, ...]:
        """The ids of :attr:`repos`, for dnf's ``--enablerepo``."""
        return tuple(repo.id for repo in self.repos)

    @property
    def repo_urls(self) -> list[tuple[str, str]]:
        """(id, base URL) of every repo that has a ``baseurl`` (a metalink alone needs the network)."""
        return [(repo.id, repo.baseurl) for repo in self.repos if repo.baseurl]


def load_treefile(path: Path, *, basearch: str = "x86_64", releasever: str | None = None) -> Treefile:
    """Read the treefile at ``path`` and its includes; ``releasever`` counts unless the treefile sets one."""
    path = path.resolve()
    data = _load_merged(path, (), set(), basearch)
    return parse_treefile(data, path, basearch=basearch, releasever=releasever)


def merge_treefiles(base: Mapping[str, Any], child: Mapping[str, Any]) -> dict[str, Any]:
    """rpm-ostree's include rule: ``child`` (the including file) over ``base`` (the included one)."""
    merged = dict(base)
    for key, value in child.items():
        old = merged.get(key)
        if isinstance(value, list) and isinstance(old, list):
            merged[key] = old + value
        elif isinstance(value, dict) and isinstance(old, dict):
            merged[key] = {**old, **value}
        else:
            merged[key] = value
    return merged


def _load_merged(path: Path, chain: tuple[Path, ...], seen: set[Path], basearch: str) -> dict[str, Any]:
    if path in chain:
        cycle = " -> ".join(str(p) for p in (*chain[chain.index(path) :], path))
        raise ConfigError(f"The treefile {chain[0]} includes itself in a cycle: {cycle}.")
    if path in seen:
        raise ConfigError(f"The treefile {path} is included twice (again from {chain[-1]}).")
    if len(seen) >= _MAX_FILES:
        raise ConfigError(f"The treefile {chain[0]} includes more than {_MAX_FILES} files.")
    seen.add(path)
    data = _read_document(path, chain)
    includes = _names_of(data.pop("include", None), path, "include")
    arch_include = data.pop("arch-include", None)
    if arch_include is not None:
        if not isinstance(arch_include, dict):
            raise ConfigError(f"The treefile {path} key 'arch-include' is not a mapping of architectures.")
        includes += _names_of(arch_include.get(basearch), path, f"arch-include.{basearch}")
    _absolute_file_keys(data, path)
    data = _arch_packages(data, basearch, path)
    for include in includes:
        included = _load_merged((path.parent / include).resolve(), (*chain, path), seen, basearch)
        data = merge_treefiles(included, data)
    return data


def _read_document(path: Path, chain: tuple[Path, ...]) -> dict[str, Any]:
    where = f" (included from {chain[-1]})" if chain else ""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"The treefile {path}{where} does not exist.") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"The treefile {path}{where} cannot be read: {exc}.") from exc
    try:
        data = yaml.safe_load(text) if path.suffix in (".yaml", ".yml") else json.loads(text)
    except (ValueError, RecursionError, yaml.YAMLError) as exc:
        kind = "YAML" if path.suffix in (".yaml", ".yml") else "JSON"
        raise ConfigError(f"The treefile {path}{where} is not valid {kind}: {exc}.") from exc
    if not isinstance(data, dict) or not all(isinstance(key, str) for key in data):
        raise ConfigError(f"The treefile {path}{where} is not a mapping of names to values.")
    return data


def _names_of(value: Any, path: Path, key: str) -> list[str]:
    if value is None:
        return []
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise ConfigError(f"The treefile {path} key '{key}' is not a file name or a list of them.")
    return list(names)


def _absolute_file_keys(data: dict[str, Any], path: Path) -> None:
    """Files a treefile names are relative to that file, whichever file includes it."""
    script = data.get("postprocess-script")
    if script is not None:
        if not isinstance(script, str) or not script:
            raise ConfigError(f"The treefile {path} key 'postprocess-script' is not a file name.")
        data["postprocess-script"] = str(path.parent / script)
    add_files = data.get("add-files")
    if add_files is not None:
        if not isinstance(add_files, list) or not all(_is_pair(item) for item in add_files):
            raise ConfigError(f"The treefile {path} key 'add-files' is not a list of [source, target] pairs.")
        for source, _ in add_files:
            if source.startswith("/") or ".." in source.split("/"):
                raise ConfigError(f"The treefile {path} add-files source {source!r} is not beside it.")
        data["add-files"] = [[str(path.parent / source), dest] for source, dest in add_files]


def _is_pair(item: Any) -> bool:
    return isinstance(item, list) and len(item) == 2 and all(isinstance(x, str) and x for x in item)


def _arch_packages(data: dict[str, Any], basearch: str, path: Path) -> dict[str, Any]:
    """``packages-<basearch>`` joins ``packages``; other architectures' lists are dropped."""
    merged = {key: value for key, value in data.items() if not is_arch_packages(key)}
    extra = data.get(f"packages-{basearch}")
    if extra is not None:
        merged["packages"] = _strings(data.get("packages", []), path, "packages") + _strings(
            extra, path, f"packages-{basearch}"
        )
    return merged


def _strings_of(data: Mapping[str, Any], path: Path, key: str) -> list[str]:
    return _strings(data.get(key, []), path, key)


def _strings(value: Any, path: Path, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"The treefile {path} key '{key}' is not a list of strings.")
    return list(value)


def parse_treefile(
    data: Mapping[str, Any], path: Path, *, basearch: str = "x86_64", releasever: str | None = None
) -> Treefile:
    """Check a merged treefile and return what the trigger and the compose take from it."""
    variables = _variables(data, path, basearch, releasever)
    ref = data.get("ref")
    if not isinstance(ref, str):
        raise ConfigError(f"The treefile {path} has no 'ref'.")
    ref = _substitute(ref, variables, path, "ref")
    if not field_is_valid("ref", ref):
        raise ConfigError(f"The treefile {path} has no valid 'ref': it must be {field_rule('ref')}.")
    osname = data.get("osname", DEFAULT_OSNAME)
    if not isinstance(osname, str) or not _NAME.fullmatch(osname):
        raise ConfigError(f"The treefile {path} has an invalid 'osname'.")
    unapplied, ignored = key_report(data)
    default_target = data.get("default-target", data.get("default_target"))
    if default_target is not None and not (
        isinstance(default_target, str) and _UNIT.fullmatch(default_target)
    ):
        raise ConfigError(f"The treefile {path} key 'default-target' is not a systemd target name.")
    packages = _packages(data, path, "packages")
    excluded = _checked(data, path, "exclude-packages", _NAME)
    both = sorted(set(packages) & set(excluded))
    if both:
        raise ConfigError(f"The treefile {path} both installs and excludes {', '.join(both)}.")
    script = data.get("postprocess-script")
    if script is not None and not (isinstance(script, str) and script):
        raise ConfigError(f"The treefile {path} key 'postprocess-script' is not a file name.")
    add_files = data.get("add-files", [])
    if not isinstance(add_files, list) or not all(_is_pair(item) for item in add_files):
        raise ConfigError(f"The treefile {path} key 'add-files' is not a list of [source, target] pairs.")
    return Treefile(
        path=path,
        ref=ref,
        osname=osname,
        basearch=basearch,
        releasever=variables.get("releasever"),
        repos=_repos(data, path, variables),
        packages=packages,
        exclude_packages=excluded,
        units=_checked(data, path, "units", _UNIT),
        default_target=default_target,
        remove_files=tuple(
            _relative(p, path, "remove-files") for p in _strings_of(data, path, "remove-files")
        ),
        remove_from_packages=_remove_from_packages(data.get("remove-from-packages", []), path),
        add_files=tuple((Path(src), _absolute(dest, path)) for src, dest in add_files),
        postprocess=tuple(_strings(data.get("postprocess", []), path, "postprocess")),
        postprocess_script=Path(script) if script else None,
        etc_group_members=_checked(data, path, "etc-group-members", _NAME),
        documentation=_flag(data, path, "documentation"),
        recommends=_flag(data, path, "recommends"),
        unapplied=unapplied,
        ignored=ignored,
        initramfs_args=tuple(_strings(data.get("initramfs-args", []), path, "initramfs-args")),
    )


def _variables(data: Mapping[str, Any], path: Path, basearch: str, releasever: str | None) -> dict[str, str]:
    declared = data.get("variables", {})
    if not isinstance(declared, dict) or not all(isinstance(v, (str, int, float)) for v in declared.values()):
        raise ConfigError(f"The treefile {path} key 'variables' is not a mapping of names to plain values.")
    variables = {str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in declared.items()}
    own = data.get("releasever")
    if own is not None:
        if isinstance(own, bool) or not isinstance(own, (str, int)) or not _NAME.fullmatch(str(own)):
            raise ConfigError(f"The treefile {path} key 'releasever' is not a release such as 26.")
        releasever = str(own)
    variables["basearch"] = basearch
    if releasever is not None:
        variables["releasever"] = releasever
    return variables


def _substitute(value: str, variables: Mapping[str, str], path: Path, key: str) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in variables:
            hint = (
                " (set releasever in the treefile, or compose a branch like f26)"
                if name == "releasever"
                else ""
            )
            raise ConfigError(f"The treefile {path} key '{key}' uses ${{{name}}}, which has no value{hint}.")
        return variables[name]

    return _VARIABLE.sub(one, value)


def _packages(data: Mapping[str, Any], path: Path, key: str) -> tuple[str, ...]:
    # As rpm-ostree: an entry holds names separated by blanks, unless quoted whole in '...'.
    names: list[str] = []
    for entry in _strings(data.get(key, []), path, key):
        stripped = entry.strip()
        if len(stripped) > 1 and stripped.startswith("'") and stripped.endswith("'"):
            names.append(stripped[1:-1])
        else:
            names += stripped.split()
    bad = [name for name in names if not _PACKAGE.fullmatch(name)]
    if bad:
        raise ConfigError(f"The treefile {path} key '{key}' holds invalid names: {', '.join(bad[:5])}.")
    return tuple(dict.fromkeys(names))


def _checked(data: Mapping[str, Any], path: Path, key: str, pattern: re.Pattern[str]) -> tuple[str, ...]:
    names = [word for entry in _strings(data.get(key, []), path, key) for word in entry.split()]
    bad = [name for name in names if not pattern.fullmatch(name)]
    if bad:
        raise ConfigError(f"The treefile {path} key '{key}' holds invalid names: {', '.join(bad[:5])}.")
    return tuple(dict.fromkeys(names))


def _flag(data: Mapping[str, Any], path: Path, key: str) -> bool:
    value = data.get(key, True)
    if not isinstance(value, bool):
        raise ConfigError(f"The treefile {path} key '{key}' is not true or false.")
    return value


def _relative(value: str, path: Path, key: str) -> str:
    """A path inside the composed tree, relative to its root; never one that climbs out."""
    parts = [part for part in value.split("/") if part not in ("", ".")]
    if not parts or ".." in parts:
        raise ConfigError(f"The treefile {path} key '{key}' holds {value!r}, not a path inside the tree.")
    return "/".join(parts)


def _absolute(value: str, path: Path) -> str:
    return "/" + _relative(value, path, "add-files")


def _remove_from_packages(value: Any, path: Path) -> tuple[tuple[str, tuple[str, ...]], ...]:
    rule = "a list of [package, regular expression, ...] lists"
    if not isinstance(value, list):
        raise ConfigError(f"The treefile {path} key 'remove-from-packages' is not {rule}.")
    entries = []
    for item in value:
        if not isinstance(item, list) or len(item) < 2 or not all(isinstance(x, str) for x in item):
            raise ConfigError(f"The treefile {path} key 'remove-from-packages' is not {rule}.")
        if not _NAME.fullmatch(item[0]):
            raise ConfigError(f"The treefile {path} remove-from-packages names a bad package {item[0]!r}.")
        for expression in item[1:]:
            try:
                re.compile(expression)
            except re.error as exc:
                raise ConfigError(
                    f"The treefile {path} remove-from-packages has a bad regular expression {expression!r}: "
                    f"{exc}."
                ) from exc
        entries.append((item[0], tuple(item[1:])))
    return tuple(entries)


def _repos(data: Mapping[str, Any], path: Path, variables: Mapping[str, str]) -> tuple[Repo, ...]:
    defined = read_repo_files((path.parent, path.parent / "repos"), variables)
    if "repos" not in data:
        # As rpm-ostree: without 'repos', every repo enabled in the files is used.
        return tuple(repo for repo in defined.values() if repo.enabled)
    repos = []
    for entry in _strings(data["repos"], path, "repos"):
        for name in entry.split():
            repo_id = _substitute(name, variables, path, "repos")
            if not _NAME.fullmatch(repo_id):
                raise ConfigError(f"The treefile {path} key 'repos' holds an invalid repo id {repo_id!r}.")
            if repo_id not in defined:
                known = ", ".join(sorted(defined)) or "none"
                raise ConfigError(
                    f"The treefile {path} names the repo '{repo_id}', which no .repo file beside it defines "
                    f"(defined: {known})."
                )
            repos.append(defined[repo_id])
    return tuple(dict.fromkeys(repos))
