"""Source tarballs, dist-git ``sources`` files and the lookaside cache, the Fedora way.

A ``sources`` file names every tarball a package needs, one a line, in either form::

    SHA512 (ci-hello-1.2.tar.gz) = 9f86d0...   (new form: any hashlib algorithm name)
    d41d8cd98f00b204e9800998ecf8427e  ci-filesystem-26.tar.gz   (old form: always md5)

The lookaside cache keeps each tarball at
``<lookaside>/<namespace>/<package>/<filename>/<hashtype>/<hash>/<filename>`` (hashtype lower case).
Tarballs made here are byte-for-byte reproducible, so their hashes stay the same from one world to
the next.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import re
import shutil
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ci_pipeline.errors import StageFailure

# Every member of a tarball made here gets this time stamp (the day the example OS was born).
SOURCE_EPOCH = 1496664000

_NEW_FORM = re.compile(r"^(?P<hashtype>[A-Za-z0-9_]+) \((?P<filename>[^()/]+)\) = (?P<hash>[0-9a-fA-F]+)$")
_OLD_FORM = re.compile(r"^(?P<hash>[0-9a-fA-F]{32})  (?P<filename>[^/]+)$")
_SAFE_FILENAME = re.compile(r"^[A-Za-z0-9._+~-]+$")
_HASH_LENGTHS = {"md5": 32, "sha1": 40, "sha256": 64, "sha512": 128}


@dataclass(frozen=True)
class SourceEntry:
    """One line of a ``sources`` file: a tarball's name and checksum."""

    filename: str
    hashtype: str
    hash: str
    old_form: bool = False

    def line(self) -> str:
        """The line in the form this entry came in (old form only for md5)."""
        if self.old_form:
            return f"{self.hash}  {self.filename}"
        return f"{self.hashtype.upper()} ({self.filename}) = {self.hash}"

    def lookaside_path(self, lookaside: Path, namespace: str, package: str) -> Path:
        """Where the Fedora lookaside layout keeps this tarball."""
        return lookaside / namespace / package / self.filename / self.hashtype / self.hash / self.filename


def parse_sources(text: str) -> list[SourceEntry]:
    """Read a ``sources`` file; raise StageFailure naming the first line that is not a source."""
    entries = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        entries.append(_parse_line(line, number))
    return entries


def _parse_line(line: str, number: int) -> SourceEntry:
    new = _NEW_FORM.match(line)
    old = None if new else _OLD_FORM.match(line)
    match = new or old
    if match is None:
        raise StageFailure(
            f"Line {number} of the sources file is neither 'SHA512 (file) = hash' nor '<md5>  file'."
        )
    filename = match["filename"]
    hashtype = match["hashtype"].lower() if new else "md5"
    digest = match["hash"].lower()
    if not _SAFE_FILENAME.match(filename) or filename in {".", ".."}:
        raise StageFailure(f"Line {number} of the sources file names an unsafe file {filename!r}.")
    if hashtype not in _HASH_LENGTHS or len(digest) != _HASH_LENGTHS[hashtype]:
        raise StageFailure(f"Line {number} of the sources file has no valid {hashtype} checksum.")
    return SourceEntry(filename, hashtype, digest, old_form=old is not None)


def file_digest(path: Path, hashtype: str) -> str:
    """The hex digest of a file's content with the named hashlib algorithm."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, hashtype).hexdigest()


def upload(
    tarball: Path, lookaside: Path, namespace: str, package: str, *, old_form: bool = False
) -> SourceEntry:
    """Put a tarball in the lookaside cache and return its ``sources`` entry."""
    hashtype = "md5" if old_form else "sha512"
    entry = SourceEntry(tarball.name, hashtype, file_digest(tarball, hashtype), old_form=old_form)
    target = entry.lookaside_path(lookaside, namespace, package)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(tarball, target)
    return entry


def make_tarball(target: Path, top: str, members: Mapping[str, Path | bytes]) -> Path:
    """Write a reproducible ``.tar.gz`` of ``members`` (tarball name -> file or content) under ``top/``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with (
        target.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as packed,
        tarfile.open(fileobj=packed, mode="w", format=tarfile.GNU_FORMAT) as archive,
    ):
        archive.addfile(_directory_info(top))
        for directory in sorted(_parent_directories(members)):
            archive.addfile(_directory_info(f"{top}/{directory}"))
        for name in sorted(members):
            _add_member(archive, f"{top}/{name}", members[name])
    return target


def _add_member(archive: tarfile.TarFile, name: str, content: Path | bytes) -> None:
    info = tarfile.TarInfo(name)
    if isinstance(content, bytes):
        info.size, info.mode = len(content), 0o644
        archive.addfile(_normalised(info), io.BytesIO(content))
        return
    status = content.stat()
    info.size = status.st_size
    info.mode = 0o755 if status.st_mode & 0o111 else 0o644
    with content.open("rb") as handle:
        archive.addfile(_normalised(info), handle)


def _parent_directories(members: Mapping[str, Path | bytes]) -> set[str]:
    parents: set[str] = set()
    for name in members:
        parts = name.split("/")[:-1]
        parents.update("/".join(parts[: end + 1]) for end in range(len(parts)))
    return parents


def _normalised(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.mtime = SOURCE_EPOCH
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def _directory_info(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    return _normalised(info)
