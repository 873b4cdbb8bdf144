"""Artifact tarballs: packing never follows a link, unpacking refuses bombs and anything but files."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import time
import zlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci_pipeline.artifacts_tar import (
    HEADER_BYTES,
    PathConflict,
    TarballRefused,
    UnpackLimits,
    member_path,
    pack_directory,
    unpack_into,
)
from ci_pipeline.errors import StageFailure

GIB = 1024**3


def tarball(*members: tuple[tarfile.TarInfo, bytes | None], compress: bool = True) -> io.BytesIO:
    """A tarball of the given members (data for regular files), gzipped unless ``compress`` is false."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return io.BytesIO(gzip.compress(raw.getvalue()) if compress else raw.getvalue())


def member(name: str, kind: bytes = tarfile.REGTYPE, **fields: object) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    for key, value in fields.items():
        setattr(info, key, value)
    return info


def zeros_gzip_tar(size: int) -> bytes:
    """A gzipped tarball holding one file of ``size`` zero bytes, compressed without holding it whole."""
    header = member("zeros.bin", size=size).tobuf(format=tarfile.USTAR_FORMAT)
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [compressor.compress(header)]
    block = bytes(8 * 1024 * 1024)
    for _ in range(size // len(block)):
        parts.append(compressor.compress(block))
    parts.append(compressor.compress(bytes(2 * tarfile.RECORDSIZE)))
    parts.append(compressor.flush())
    return b"".join(parts)


def test_round_trip_keeps_files_directories_and_modes(tmp_path: Path) -> None:
    source = tmp_path / "source"
    (source / "repodata").mkdir(parents=True)
    (source / "empty").mkdir()
    (source / "repodata" / "repomd.xml").write_text("<repomd/>")
    (source / "run.sh").write_text("#!/bin/sh\n")
    (source / "run.sh").chmod(0o755)
    packed = io.BytesIO()
    pack_directory(source, packed)
    packed.seek(0)
    unpack_into(packed, tmp_path / "copy")
    assert (tmp_path / "copy" / "repodata" / "repomd.xml").read_text() == "<repomd/>"
    assert (tmp_path / "copy" / "empty").is_dir()
    assert os.access(tmp_path / "copy" / "run.sh", os.X_OK)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no scratch left


def test_pack_leaves_out_links_and_never_follows_one_out(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "passwd").write_text("root:x:0:0")
    tree = tmp_path / "root" / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "kept.txt").write_text("kept")
    (tree / "etc").symlink_to(outside)
    (tree / "passwd").symlink_to(outside / "passwd")
    (tree / "inside").symlink_to(tree / "sub")
    os.mkfifo(tree / "fifo")
    packed = io.BytesIO()
    pack_directory(tree, packed)
    packed.seek(0)
    with tarfile.open(fileobj=packed, mode="r:gz") as archive:
        names = sorted(archive.getnames())
        kinds = {info.name: info.type for info in archive.getmembers()}
    assert names == ["sub", "sub/kept.txt"]
    assert set(kinds.values()) <= {tarfile.DIRTYPE, tarfile.REGTYPE}


def test_a_small_gzip_that_unpacks_to_a_gibibyte_is_refused_at_once(tmp_path: Path) -> None:
    bomb = zeros_gzip_tar(GIB)
    assert len(bomb) < 2 * 1024 * 1024
    started = time.monotonic()
    with pytest.raises(TarballRefused, match="unpacks to more than"):
        unpack_into(io.BytesIO(bomb), tmp_path / "tree")
    assert time.monotonic() - started < 5
    assert list((tmp_path / "tree").iterdir()) == []


def test_the_budget_follows_the_packed_size_within_floor_and_maximum() -> None:
    limits = UnpackLimits(max_bytes=1000, ratio=10, floor=100)
    assert [limits.budget(n) for n in (1, 10, 50, 100, 10**6)] == [100, 100, 500, 1000, 1000]


def test_many_small_files_break_the_member_limit(tmp_path: Path) -> None:
    members = [(member(f"f{n}"), b"x") for n in range(11)]
    with pytest.raises(TarballRefused, match="more than 10 members"):
        unpack_into(tarball(*members), tmp_path / "tree", UnpackLimits(max_members=10))
    unpack_into(tarball(*members[:10]), tmp_path / "ok", UnpackLimits(max_members=10))
    assert len(list((tmp_path / "ok").iterdir())) == 10


def test_the_total_counts_every_member(tmp_path: Path) -> None:
    members = [(member(f"f{n}"), b"x" * 400) for n in range(3)]
    limits = UnpackLimits(max_bytes=1000, floor=1000)
    with pytest.raises(TarballRefused, match="more than 1000 bytes"):
        unpack_into(tarball(*members), tmp_path / "tree", limits)
    unpack_into(tarball(*members[:2]), tmp_path / "ok", limits)


def test_a_huge_pax_header_is_refused_before_it_is_read_whole(tmp_path: Path) -> None:
    header = member("././@PaxHeader", tarfile.XHDTYPE, size=HEADER_BYTES * 16)
    raw = header.tobuf(format=tarfile.USTAR_FORMAT) + bytes(HEADER_BYTES * 16 + 2 * tarfile.RECORDSIZE)
    with pytest.raises(TarballRefused, match="more than it may"):
        unpack_into(io.BytesIO(gzip.compress(raw)), tmp_path / "tree")


@pytest.mark.parametrize(
    ("info", "data"),
    [
        (member("link", tarfile.SYMTYPE, linkname="/etc"), None),
        (member("inner", tarfile.SYMTYPE, linkname="sub"), None),
        (member("hard", tarfile.LNKTYPE, linkname="/etc/passwd"), None),
        (member("tty", tarfile.CHRTYPE, devmajor=4, devminor=1), None),
        (member("disk", tarfile.BLKTYPE, devmajor=8, devminor=0), None),
        (member("pipe", tarfile.FIFOTYPE), None),
        (member("/etc/cron.d/x"), b"* * * * * root sh"),
        (member("../escape"), b"x"),
        (member("a/../../escape"), b"x"),
        (member("a/./b"), b"x"),
    ],
)
def test_members_other_than_plain_files_and_directories_are_refused(
    tmp_path: Path, info: tarfile.TarInfo, data: bytes | None
) -> None:
    archive = tarball((member("ok.txt"), b"fine"), (info, data))
    with pytest.raises(TarballRefused, match="not a"):
        unpack_into(archive, tmp_path / "root" / "tree")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["root", "tree"]


def test_unpacking_never_writes_through_a_link_in_the_target(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    tree = tmp_path / "root" / "tree"
    tree.mkdir(parents=True)
    (tree / "sub").symlink_to(outside)
    with pytest.raises(PathConflict, match="not a directory"):
        unpack_into(tarball((member("sub/x"), b"x")), tree)
    assert list(outside.iterdir()) == []


def test_a_member_twice_and_a_broken_stream_are_refused(tmp_path: Path) -> None:
    with pytest.raises(TarballRefused, match="twice"):
        unpack_into(tarball((member("a"), b"1"), (member("a"), b"2")), tmp_path / "twice")
    with pytest.raises(StageFailure, match="tarball"):
        unpack_into(io.BytesIO(b"\x1f\x8b" + b"not gzip at all" * 100), tmp_path / "broken")


@pytest.mark.parametrize("compress", ["gz", "bz2", "xz", ""])
def test_every_compression_unpacks(tmp_path: Path, compress: str) -> None:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode=f"w:{compress}") as archive:
        info = member("dir/file.txt", size=5)
        archive.addfile(info, io.BytesIO(b"hello"))
    raw.seek(0)
    unpack_into(raw, tmp_path / "tree")
    assert (tmp_path / "tree" / "dir" / "file.txt").read_bytes() == b"hello"


@given(name=st.text(st.sampled_from(["a", "b", ".", "/", "\\", "\0", "é"]), max_size=12))
def test_member_names_never_leave_the_tree(name: str) -> None:
    root = Path("/srv/artifacts/tree")
    try:
        relative = member_path(name, "for tree")
    except TarballRefused:
        return
    if relative is None:
        assert set(name) <= {".", "/"}  # only the archive's own top stands for nothing
        return
    resolved = Path(os.path.normpath(root / relative))
    assert resolved.is_relative_to(root) and resolved != root
    assert ".." not in relative.parts and not relative.is_absolute()
