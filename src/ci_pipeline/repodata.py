"""Which source packages a set of binary packages comes from, read from yum repositories' metadata.

A treefile names binary packages (``openssh-server``); dist-git pushes name source packages
(``openssh``). Each repo's ``repodata/repomd.xml`` points at its ``primary`` metadata, whose
``<rpm:sourcerpm>`` gives every binary's source. The primary file (tens of MB compressed for a
Fedora release) is parsed streaming, once per checksum: the name map is cached under ``cache_dir``
keyed by the checksum repomd.xml gives, so a later start reads only repomd.xml. A treefile entry
that is no package name may be a provide (``/usr/bin/vi``, ``kubernetes-node``'s virtual names);
provides are cached beside the names and read only when some entry needs them.
"""

from __future__ import annotations

import hashlib
import json
import lzma
import os
import tempfile
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import zstandard

from ci_pipeline.errors import ConfigError
from ci_pipeline.repodata_io import fetch_to, open_decompressed

REPO_NS = "{http://linux.duke.edu/metadata/repo}"
COMMON_NS = "{http://linux.duke.edu/metadata/common}"
RPM_NS = "{http://linux.duke.edu/metadata/rpm}"
_PACKAGE = f"{COMMON_NS}package"
_NAME = f"{COMMON_NS}name"
_FORMAT = f"{COMMON_NS}format"
_SOURCERPM = f"{RPM_NS}sourcerpm"
_PROVIDES = f"{RPM_NS}provides"
_ENTRY = f"{RPM_NS}entry"
_FILE = f"{COMMON_NS}file"
#: Bumped when the cache files' shape changes, so an old cache is never misread.
CACHE_VERSION = 1


@dataclass(frozen=True)
class SourceMap:
    """The source packages some binaries come from, which binaries made each one, and the misses."""

    by_source: Mapping[str, frozenset[str]]
    unresolved: frozenset[str] = field(default_factory=frozenset)

    @property
    def sources(self) -> frozenset[str]:
        """Every source package one of the binaries comes from."""
        return frozenset(self.by_source)

    def why(self, source: str) -> tuple[str, ...]:
        """The binaries (as the caller named them) that come from ``source``, sorted."""
        return tuple(sorted(self.by_source.get(source, ())))


class RepoIndex:
    """One repo's package names mapped to their source packages; its provides are read on demand."""

    def __init__(self, sources: dict[str, str], provides_path: Path) -> None:
        self.sources = sources
        self._provides_path = provides_path
        self._provides: dict[str, list[str]] | None = None

    def providers(self, capability: str) -> list[str]:
        """The package names that provide ``capability`` (a provide or a file path)."""
        if self._provides is None:
            self._provides = _read_provides(self._provides_path)
        found: list[str] = self._provides.get(capability, [])
        return found


def source_name(sourcerpm: str) -> str | None:
    """``openssh`` for ``openssh-7.5p1-3.fc26.src.rpm``; None when it is not a source RPM file name."""
    for suffix in (".src.rpm", ".nosrc.rpm"):
        if sourcerpm.endswith(suffix):
            parts = sourcerpm.removesuffix(suffix).rsplit("-", 2)
            return parts[0] if len(parts) == 3 and all(parts) else None
    return None


def iter_primary(stream: IO[bytes]) -> Iterator[tuple[str, str | None, list[str]]]:
    """(name, source package, provides and files) of each package of a primary.xml, streaming.

    Each package's element is emptied once read, so memory holds one package's XML at a time
    (plus an empty element per package: asking for "start" events to free those too costs more).
    """
    for _, elem in ET.iterparse(stream, events=("end",)):
        if elem.tag != _PACKAGE:
            continue
        name = elem.findtext(_NAME)
        fmt = elem.find(_FORMAT)
        sourcerpm = fmt.findtext(_SOURCERPM) if fmt is not None else None
        provides: list[str] = []
        if fmt is not None:
            entries = fmt.find(_PROVIDES)
            # find and findall of a plain tag run in C; iterfind would go through ElementPath.
            if entries is not None:
                provides += [e.get("name", "") for e in entries.findall(_ENTRY)]
            provides += [f.text or "" for f in fmt.findall(_FILE)]
        if name and elem.get("type", "rpm") == "rpm":
            yield name, source_name(sourcerpm) if sourcerpm else None, provides
        elem.clear()


def primary_location(repomd: bytes, where: str) -> tuple[str, str]:
    """(href, "type:checksum") of the ``primary`` metadata that a repomd.xml names."""
    try:
        document = ET.fromstring(repomd)
    except ET.ParseError as exc:
        raise ValueError(f"repomd.xml is not XML ({exc})") from exc
    for data in document.iterfind(f"{REPO_NS}data"):
        if data.get("type") != "primary":
            continue
        location = data.find(f"{REPO_NS}location")
        checksum = data.find(f"{REPO_NS}checksum")
        href = location.get("href") if location is not None else None
        value = (checksum.text or "").strip() if checksum is not None else ""
        if not href or checksum is None or not value:
            break
        return href, f"{checksum.get('type', 'sha256')}:{value}"
    raise ValueError(f"repomd.xml at {where} names no primary metadata with a location and checksum")


def read_repo(baseurl: str, cache_dir: Path) -> RepoIndex:
    """The name index of the repo at ``baseurl``, from the cache when its primary checksum is known.

    Raises ValueError or OSError (with httpx's errors translated to OSError) when it cannot be read.
    """
    base = baseurl.rstrip("/") + "/"
    repo_cache = cache_dir / hashlib.sha256(base.encode()).hexdigest()[:20]
    with tempfile.TemporaryDirectory(prefix="repomd-", dir=_made(cache_dir)) as scratch:
        repomd_path = Path(scratch) / "repomd.xml"
        fetch_to(base + "repodata/repomd.xml", repomd_path)
        href, checksum = primary_location(repomd_path.read_bytes(), base)
        key = checksum.replace(":", "-")
        names = repo_cache / f"{key}.v{CACHE_VERSION}.names.json"
        provides = repo_cache / f"{key}.v{CACHE_VERSION}.provides.txt"
        if names.is_file() and provides.is_file():
            try:
                return RepoIndex(_read_json(names), provides)
            except ValueError:
                pass  # a damaged cache file is rebuilt like a missing one
        primary = Path(scratch) / "primary"
        digest = fetch_to(base + href, primary, checksum.split(":", 1)[0])
        if digest is not None and digest != checksum.split(":", 1)[1]:
            raise ValueError(f"{href} does not match the checksum repomd.xml gives (the repo is changing?)")
        provides_lines = Path(scratch) / "provides.txt"
        with provides_lines.open("w", encoding="utf-8") as out:
            sources = _index_primary(primary, href, out)
        _store(repo_cache, names, sources, provides, provides_lines)
    return RepoIndex(sources, provides)


def _index_primary(path: Path, href: str, provides: IO[str]) -> dict[str, str]:
    """The repo's name -> source map; its provides go to ``provides`` as "capability TAB name" lines."""
    sources: dict[str, str] = {}
    try:
        with open_decompressed(path, href) as stream:
            for name, source, capabilities in iter_primary(stream):
                if source is not None:
                    sources.setdefault(name, source)
                # A line per capability: one with a line break or tab in it (a file name) cannot be kept.
                provides.writelines(f"{c}\t{name}\n" for c in capabilities if c and _fits_a_line(c))
    except ET.ParseError as exc:
        raise ValueError(f"{href} is not valid primary metadata ({exc})") from exc
    except EOFError as exc:
        raise ValueError(f"{href} is truncated") from exc
    except (zlib.error, lzma.LZMAError, zstandard.ZstdError) as exc:
        raise ValueError(f"{href} cannot be decompressed ({exc})") from exc
    return sources


def _fits_a_line(capability: str) -> bool:
    return "\t" not in capability and "\n" not in capability and "\r" not in capability


def _store(repo_cache: Path, names: Path, sources: dict[str, str], provides: Path, lines: Path) -> None:
    """Put the index in place atomically and drop the files of earlier checksums of the same repo."""
    _made(repo_cache)
    # The provides first: a names file is only trusted with its provides beside it.
    os.replace(lines, provides)
    handle, scratch = tempfile.mkstemp(dir=repo_cache, prefix=".new-")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(sources, out, separators=(",", ":"))
    os.replace(scratch, names)
    for old in repo_cache.glob("*.*.*"):
        # Another process's ".new-" file is left alone: it is about to be renamed.
        if old not in (names, provides) and not old.name.startswith(".new-"):
            old.unlink(missing_ok=True)


def _read_provides(path: Path) -> dict[str, list[str]]:
    provides: dict[str, list[str]] = {}
    with path.open(encoding="utf-8", newline="\n") as lines:
        for line in lines:
            capability, _, name = line.rstrip("\n").partition("\t")
            providers = provides.setdefault(capability, [])
            if name not in providers:
                providers.append(name)
    return provides


def _read_json(path: Path) -> dict[str, Any]:
    with path.open("rb") as file:
        value = json.load(file)
    if not isinstance(value, dict):
        raise ValueError(f"{path} is not a JSON object")
    return value


def _reason(exc: OSError | ValueError) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    return str(exc)


def _made(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def source_packages(
    baseurls: Sequence[str],
    binaries: Iterable[str],
    cache_dir: Path,
    *,
    repo_ids: Mapping[str, str] | None = None,
) -> SourceMap:
    """Map ``binaries`` (package names or provides) to their source packages in the repos at ``baseurls``.

    Every repo is read (a binary may come from any of them). A binary found in none is in
    ``unresolved``. A repo that cannot be read raises ConfigError; ``repo_ids`` names repos in it.
    """
    indexes = []
    for baseurl in baseurls:
        try:
            indexes.append(read_repo(baseurl, cache_dir))
        except (OSError, ValueError) as exc:
            name = (repo_ids or {}).get(baseurl)
            which = f"The treefile repo {name} at {baseurl}" if name else f"The treefile repo at {baseurl}"
            reason = _reason(exc)
            raise ConfigError(f"{which} cannot be read: {reason}.") from exc
    by_source: dict[str, set[str]] = {}
    unresolved: set[str] = set()
    for binary in set(binaries):
        found = {index.sources[binary] for index in indexes if binary in index.sources}
        if not found:
            # Not a package name: a provide or a file, as dnf would resolve it, in any repo.
            found = {
                index.sources[provider]
                for index in indexes
                for provider in index.providers(binary)
                if provider in index.sources
            }
        if not found:
            unresolved.add(binary)
        for source in found:
            by_source.setdefault(source, set()).add(binary)
    return SourceMap({s: frozenset(b) for s, b in by_source.items()}, frozenset(unresolved))
