"""Tests of sources files, reproducible tarballs and the lookaside layout.

The ``sources`` parser itself (bad lines, unsafe names) is the build stage's, tested in
tests/stages/test_lookaside.py; here the example's lines must read back as written.
"""

from __future__ import annotations

import hashlib
import tarfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci_pipeline.example.sources import SourceEntry, make_tarball, read_sources, upload

# The build stage refuses ".." anywhere in a name, so the example never writes one.
filenames = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._+~-]{0,40}", fullmatch=True).filter(
    lambda name: ".." not in name
)


@given(filenames, st.sampled_from(["md5", "sha1", "sha256", "sha512"]), st.binary(max_size=64), st.booleans())
def test_a_written_line_reads_back_as_the_same_entry(
    filename: str, hashtype: str, data: bytes, old: bool
) -> None:
    digest = hashlib.new(hashtype, data).hexdigest()
    entry = SourceEntry(filename, hashtype, digest, old_form=old and hashtype == "md5")
    assert read_sources(entry.line() + "\n") == [entry]


def test_both_forms_are_read() -> None:
    md5 = "8b0816cf80fd7a597946212a08a8b84c"
    sha = "a" * 128
    text = f"SHA512 (ci-hello-1.2.tar.gz) = {sha}\n\n{md5}  ci-filesystem-26.tar.gz\n"
    assert read_sources(text) == [
        SourceEntry("ci-hello-1.2.tar.gz", "sha512", sha),
        SourceEntry("ci-filesystem-26.tar.gz", "md5", md5, old_form=True),
    ]


def test_tarballs_are_reproducible_and_hold_their_members(tmp_path: Path) -> None:
    program = tmp_path / "prog.sh"
    program.write_text("#!/bin/sh\necho hi\n")
    program.chmod(0o755)
    members: dict[str, Path | bytes] = {"bin/prog.sh": program, "README": b"read me\n"}
    first = make_tarball(tmp_path / "one" / "x-1.tar.gz", "x-1", members)
    second = make_tarball(tmp_path / "two" / "x-1.tar.gz", "x-1", members)
    assert first.read_bytes() == second.read_bytes()
    with tarfile.open(first) as archive:
        names = archive.getnames()
        assert names == ["x-1", "x-1/bin", "x-1/README", "x-1/bin/prog.sh"]
        assert archive.getmember("x-1/bin/prog.sh").mode == 0o755
        assert archive.getmember("x-1/README").mode == 0o644
        assert archive.extractfile("x-1/README").read() == b"read me\n"  # type: ignore[union-attr]


@pytest.mark.parametrize(("old_form", "hashtype"), [(False, "sha512"), (True, "md5")])
def test_upload_uses_the_fedora_lookaside_layout(tmp_path: Path, old_form: bool, hashtype: str) -> None:
    tarball = tmp_path / "pkg-1.tar.gz"
    tarball.write_bytes(b"content")
    entry = upload(tarball, tmp_path / "lookaside", "rpms", "pkg", old_form=old_form)
    digest = hashlib.new(hashtype, b"content").hexdigest()
    stored = tmp_path / "lookaside" / "rpms" / "pkg" / "pkg-1.tar.gz" / hashtype / digest / "pkg-1.tar.gz"
    assert stored.read_bytes() == b"content"
    assert entry == SourceEntry("pkg-1.tar.gz", hashtype, digest, old_form=old_form)
