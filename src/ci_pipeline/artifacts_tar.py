"""Artifact directories as tarballs, both ways, with limits that hold against hostile input.

``pack_directory`` writes only regular files and directories, walking with directory descriptors and
never following a symbolic link, so a link a stage left behind cannot carry files from outside the
directory into the archive. ``unpack_into`` reads a tarball (plain, gzip, bzip2 or xz) as a stream
and refuses, while extracting: members that are not regular files or directories, names that are
absolute or climb with '..', more than ``max_members`` members, and more unpacked bytes than the
budget, which is at most ``max_bytes`` and at most ``ratio`` times the packed size (never less than
``floor``), so a small archive cannot unpack into a huge tree. Files land by atomic renames.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import shutil
import stat
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Protocol

from ci_pipeline.errors import StageFailure

#: What one member's headers (pax, GNU long names) may take; real ones are a few hundred bytes.
HEADER_BYTES = 1024 * 1024
#: What each member may add to the stream beside its data: its header and the padding after it.
MEMBER_OVERHEAD = 2 * tarfile.BLOCKSIZE
COPY_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class UnpackLimits:
    """How much a tarball may unpack to."""

    max_bytes: int = 4 * 1024 * 1024 * 1024
    max_members: int = 100_000
    ratio: int = 100
    floor: int = 256 * 1024 * 1024

    def budget(self, packed: int) -> int:
        """The most bytes of file data a tarball of ``packed`` bytes may unpack to."""
        return min(self.max_bytes, max(self.floor, self.ratio * packed))


class TarballRefused(StageFailure):
    """A tarball that breaks a limit or holds a member that is not a plain file or directory."""


class Readable(Protocol):
    """Anything with a binary ``read``."""

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes (all that is left when negative)."""
        ...


class PathConflict(StageFailure):
    """A file or link already stands where a tarball needs a directory."""


class _BoundedReader:
    """A readable stream that refuses to yield more than a limit, and less within a header window."""

    def __init__(self, raw: Readable, limit: int, what: str) -> None:
        self.raw = raw
        self.limit = limit
        self.what = what
        self.count = 0
        self.window_end: int | None = None

    def window(self, size: int | None) -> None:
        """Allow only ``size`` more bytes until the next call (None lifts the window)."""
        self.window_end = None if size is None else self.count + size

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes; TarballRefused once the stream runs past its allowance."""
        cap = self.limit if self.window_end is None else min(self.limit, self.window_end)
        allowed = cap - self.count + 1  # one byte more than allowed tells "over" from "exactly at"
        data = self.raw.read(allowed if size < 0 else min(size, allowed))
        self.count += len(data)
        if self.count > cap:
            raise TarballRefused(f"The tarball {self.what} unpacks to more than it may (over {cap} bytes).")
        return data


def _decompressed(source: BinaryIO) -> Readable:
    """``source`` decompressed by its magic number (gzip, bzip2, xz), or as it is."""
    start = source.tell()
    magic = source.read(6)
    source.seek(start)
    if magic.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=source, mode="rb")
    if magic.startswith(b"BZh"):
        return bz2.BZ2File(source)
    if magic.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMAFile(source)
    return source


def safe_relative(path: str) -> PurePosixPath:
    """``path`` as a relative path inside the artifact root; StageFailure when it could leave it."""
    parts = path.strip("/").split("/")
    if (not path or path.startswith("/") or "\\" in path or "\0" in path
            or any(part in ("", ".", "..") for part in parts)):
        raise StageFailure(f"The artifact path {path[:200]!r} is not a plain relative path.")
    return PurePosixPath(*parts)


def member_path(name: str, what: str) -> Path | None:
    """A member's name as a relative path; None for the archive's own top ('.'); refused if unsafe."""
    while name.startswith("./"):
        name = name[2:]
    name = name.rstrip("/")
    if name in ("", "."):
        return None
    try:
        return Path(safe_relative(name))
    except StageFailure as exc:
        raise TarballRefused(
            f"The tarball {what} holds {name[:200]!r}, which is not a plain relative path."
        ) from exc


def _size_of(source: BinaryIO) -> int:
    start = source.tell()
    end = source.seek(0, os.SEEK_END)
    source.seek(start)
    return end - start


def _extract(archive: tarfile.TarFile, reader: _BoundedReader, scratch: Path, budget: int,
             limits: UnpackLimits, what: str) -> None:
    """Extract member after member into ``scratch``, checking each before any of its data is read."""
    members = unpacked = 0
    while True:
        reader.window(HEADER_BYTES)
        member = archive.next()
        reader.window(None)
        if member is None:
            return
        members += 1
        if members > limits.max_members:
            raise TarballRefused(f"The tarball {what} holds more than {limits.max_members} members.")
        reader.limit = budget + members * MEMBER_OVERHEAD + HEADER_BYTES + tarfile.RECORDSIZE
        relative = member_path(member.name, what)
        if member.isdir():
            if relative is not None:
                (scratch / relative).mkdir(parents=True, exist_ok=True)
            continue
        if not member.isreg() or member.issparse() or relative is None:
            raise TarballRefused(
                f"The tarball {what} holds {member.name[:200]!r}, which is not a regular file or directory."
            )
        unpacked += member.size
        if unpacked > budget:
            raise TarballRefused(f"The tarball {what} unpacks to more than {budget} bytes.")
        _write_member(archive, member, scratch / relative, what)


def _write_member(archive: tarfile.TarFile, member: tarfile.TarInfo, destination: Path, what: str) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    mode = 0o755 if member.mode & 0o111 else 0o644
    try:
        descriptor = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    except FileExistsError as exc:
        raise TarballRefused(f"The tarball {what} holds {member.name[:200]!r} twice.") from exc
    data = archive.extractfile(member)
    assert data is not None  # a regular member always has data
    with os.fdopen(descriptor, "wb") as handle:
        shutil.copyfileobj(data, handle, COPY_CHUNK)


def _move_into(scratch: Path, target: Path) -> None:
    """Move every extracted file into ``target``, never through a link or onto a non-directory."""
    top = target.resolve()
    for root, _dirs, files in os.walk(scratch):
        destination = target / Path(root).relative_to(scratch)
        if destination.is_symlink() or (destination.exists() and not destination.is_dir()):
            raise PathConflict(f"The artifact {destination.name} already exists and is not a directory.")
        if not destination.resolve().is_relative_to(top):
            raise PathConflict(f"The artifact directory {destination.name} leads outside its tree.")
        destination.mkdir(exist_ok=True)
        for name in files:
            os.replace(Path(root) / name, destination / name)


def unpack_into(source: BinaryIO, target: Path, limits: UnpackLimits | None = None) -> None:
    """Extract the tarball read from ``source`` into ``target`` within ``limits``; StageFailure if refused."""
    limits = limits or UnpackLimits()
    what = f"for {target.name}"
    budget = limits.budget(_size_of(source))
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}.") as scratch:
        reader = _BoundedReader(_decompressed(source), budget + HEADER_BYTES + tarfile.RECORDSIZE, what)
        reader.window(HEADER_BYTES)  # opening the archive reads the first member's headers
        try:
            with tarfile.open(fileobj=reader, mode="r|") as archive:  # type: ignore[call-overload]
                _extract(archive, reader, Path(scratch), budget, limits, what)
        except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, gzip.BadGzipFile) as exc:
            raise StageFailure(f"The upload {what} is not a readable tarball: {exc}.") from exc
        except OSError as exc:  # bz2's bad data, or the disk
            raise StageFailure(f"The upload {what} could not be unpacked: {exc}.") from exc
        _move_into(Path(scratch), target)


def _add_entry(archive: tarfile.TarFile, name: str, arcname: str, parent_fd: int) -> bool:
    """Add one directory entry if it is a directory or a regular file; True for a directory."""
    info = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
    if stat.S_ISDIR(info.st_mode):
        entry = tarfile.TarInfo(arcname)
        entry.type, entry.mode, entry.mtime = tarfile.DIRTYPE, stat.S_IMODE(info.st_mode), int(info.st_mtime)
        archive.addfile(entry)
        return True
    if not stat.S_ISREG(info.st_mode):
        return False  # links, devices, sockets and fifos stay out
    try:
        descriptor = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=parent_fd)
    except OSError:
        return False  # replaced by a link (or removed) since it was listed
    with os.fdopen(descriptor, "rb") as handle:
        entry = archive.gettarinfo(arcname=arcname, fileobj=handle)
        if entry.isreg():
            archive.addfile(entry, handle)
    return False


def pack_directory(directory: Path, out: BinaryIO) -> None:
    """Write ``directory``'s regular files and directories to ``out`` as a gzipped tarball."""
    with tarfile.open(fileobj=out, mode="w:gz") as archive:
        for root, dirs, files, root_fd in os.fwalk(directory, follow_symlinks=False):
            prefix = Path(root).relative_to(directory)
            kept = []
            for name in sorted(dirs):
                if _add_entry(archive, name, str(prefix / name), root_fd):
                    kept.append(name)
            dirs[:] = kept  # fwalk descends only into real directories
            for name in sorted(files):
                _add_entry(archive, name, str(prefix / name), root_fd)
