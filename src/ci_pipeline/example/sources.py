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
import shutil
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ci_pipeline.stages.git.lookaside import parse_line

# Every member of a tarball made here gets this time stamp (the day the example OS was born).
SOURCE_EPOCH = 1496664000



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


def read_sources(text: str) -> list[SourceEntry]:
    """A ``sources`` file's entries, read by the build stage's parser (ValueError on a bad line)."""
    entries = []
    for line in filter(None, (raw.strip() for raw in text.splitlines())):
        source = parse_line(line)
        # The new form ends with the digest; the old form (md5 only) ends with the file name.
        old_form = not line.lower().endswith(source.digest)
        entries.append(SourceEntry(source.filename, source.algorithm, source.digest, old_form=old_form))
    return entries


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
